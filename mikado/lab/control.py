"""Restarting the lab's zot, as an operator's ``systemctl restart zot`` would.

The emulators run inside the process that opened the lab (``mikado run --lab`` or
``mikado lab serve``); a small HTTP endpoint on 127.0.0.1, guarded by a token from the
workspace's ``lab/lab.json``, lets the chain's ``restart_command`` reach them from its own
process::

    python -m mikado.lab.control restart zot --workspace WORKSPACE

exits 0 once zot runs again, or 1 with zot's refusal (it then stays down, as a zot that does
not start does).
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN_HEADER = "X-Lab-Token"

Restart = Callable[[str], str | None]  # service → None when it runs again, else the refusal


class ControlServer:
    """Serves ``POST /restart/<service>`` until stopped."""

    def __init__(self, token: str, restart: Restart, port: int = 0):
        self._token = token
        self._restart = restart
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
        service = path.removeprefix("/restart/")
        if not path.startswith("/restart/") or service != "zot":
            return 404, {"error": f"no such control: {path}"}
        refusal = self._restart(service)
        if refusal is not None:
            return 500, {"error": refusal}
        return 200, {"restarted": service}


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


def request_restart(workspace: Path, service: str) -> str | None:
    """Ask the lab of ``workspace`` to restart ``service``; None on success, else why not."""
    try:
        state = json.loads((workspace / "lab" / "lab.json").read_text(encoding="utf-8"))
        port = int(state["ports"]["control"])
        token = str(state["secrets"]["control_token"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"{workspace} is not a running lab workspace ({error})"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/restart/{service}",
        data=b"",
        method="POST",
        headers={TOKEN_HEADER: token},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60):
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
        prog="python -m mikado.lab.control", description="Restart a service of a running lab."
    )
    parser.add_argument("action", choices=["restart"])
    parser.add_argument("service", choices=["zot"])
    parser.add_argument("--workspace", type=Path, required=True)
    arguments = parser.parse_args(argv)
    refusal = request_restart(arguments.workspace, arguments.service)
    if refusal is not None:
        print(f"{arguments.service} did not start: {refusal}", file=sys.stderr)
        return 1
    print(f"{arguments.service} restarted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
