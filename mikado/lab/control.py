"""The lab's stand-ins for an operator's commands: restarting zot (``systemctl restart
zot``) and deploying a service from the infrastructure repository (``ansible-playbook``,
``argocd app sync``; :mod:`mikado.lab.deploy`).

The emulators run inside the process that opened the lab (``mikado run --lab`` or
``mikado lab serve``); a small HTTP endpoint on 127.0.0.1, guarded by a token from the
workspace's ``lab/lab.json``, lets the chain's commands reach them from their own process::

    python -m mikado.lab.control restart zot --workspace WORKSPACE
    python -m mikado.lab.control deploy authentik --workspace WORKSPACE

Each exits 0 once done, or 1 with the service's refusal (a zot that does not start stays
down, as the real one does).
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN_HEADER = "X-Lab-Token"

# service → None when done, else why not
Handler = Callable[[str], str | None]
# What each verb may be asked of: the services whose commands the lab stands in for.
SERVICES = {"restart": ("zot",), "deploy": ("authentik", "forgejo", "zot")}


class ControlServer:
    """Serves ``POST /<verb>/<service>`` until stopped; ``handlers`` maps each verb the lab
    offers ("restart", "deploy") to what it does."""

    def __init__(self, token: str, handlers: Mapping[str, Handler], port: int = 0):
        self._token = token
        self._handlers = dict(handlers)
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, path: str, token: str) -> tuple[int, dict[str, Any]]:
        if not hmac.compare_digest(token.encode(), self._token.encode()):
            return 403, {"error": "wrong lab token"}
        _, verb, service = [*path.split("/"), "", ""][:3]
        handler = self._handlers.get(verb)
        if handler is None or service not in SERVICES.get(verb, ()):
            offered = ", ".join(sorted(self._handlers)) or "nothing"
            return 404, {"error": f"no such control: {path} (this lab offers: {offered})"}
        refusal = handler(service)
        if refusal is not None:
            return 500, {"error": refusal}
        return 200, {verb: service}


def _handler(control: ControlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, body = control.answer(self.path, self.headers.get(TOKEN_HEADER, ""))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def request(workspace: Path, verb: str, service: str) -> str | None:
    """Ask the lab of ``workspace`` to ``verb`` ``service``; None on success, else why not."""
    try:
        state = json.loads((workspace / "lab" / "lab.json").read_text(encoding="utf-8"))
        port = int(state["ports"]["control"])
        token = str(state["secrets"]["control_token"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"{workspace} is not a running lab workspace ({error})"
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}/{verb}/{service}",
        data=b"",
        method="POST",
        headers={TOKEN_HEADER: token},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(call, timeout=600):
            return None
    except urllib.error.HTTPError as error:
        try:
            return str(json.loads(error.read()).get("error"))
        except ValueError:
            return f"the lab answered {error.code}"
    except (OSError, urllib.error.URLError) as error:
        return f"the lab of {workspace} does not answer (is it running?): {error}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mikado.lab.control",
        description="Restart or deploy a service of a running lab, as the operator's own "
        "command would.",
    )
    parser.add_argument("verb", choices=sorted(SERVICES))
    parser.add_argument("service", choices=sorted({s for v in SERVICES.values() for s in v}))
    parser.add_argument("--workspace", type=Path, required=True)
    arguments = parser.parse_args(argv)
    if arguments.service not in SERVICES[arguments.verb]:
        parser.error(f"{arguments.verb} takes one of: {', '.join(SERVICES[arguments.verb])}")
    refusal = request(arguments.workspace, arguments.verb, arguments.service)
    if refusal is not None:
        failed = "did not start" if arguments.verb == "restart" else "was not deployed"
        print(f"{arguments.service} {failed}: {refusal}", file=sys.stderr)
        return 1
    print(f"{arguments.service} {arguments.verb}ed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
