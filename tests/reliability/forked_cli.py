"""The real `mikado` command in real processes, at a tenth of the start-up cost.

The bad-input table runs hundreds of commands; ``python -m mikado`` spends most of its ~0.15 s
importing. A server process imports mikado (and what its commands import lazily) once, then
forks a child per command: the child changes to the tree, points file descriptors 0-2 at
/dev/null and two files, runs ``mikado.cli.app.main`` exactly as ``python -m mikado`` does, and
exits with its code. Each child is its own process group, killed at its timeout.
:func:`agrees_with_python_m` lets a test prove the two give the same results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str


SERVER = r"""
import json, os, signal, sys, tempfile, time

import mikado.cli.app, mikado.engine.runner, mikado.checks.gate, mikado.edit.growth
import mikado.views.graph, mikado.edit.finalize, mikado.views.status, mikado.views.markdown
import mikado.workflow.resume, mikado.workflow.branch_check, mikado.engine.http
import mikado.views.progress, mikado.engine.secrets, networkx, httpx, markdown_it

def child(request, out, err):
    os.setpgid(0, 0)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["mikado", *request["argv"]]
    code = 1
    try:
        mikado.cli.app.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)

def batch(requests):
    started = []
    for request in requests:
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:
            child(request, out, err)
        started.append((pid, out, err, time.monotonic() + request["timeout"]))
    results = []
    for pid, out, err, deadline in started:
        code = None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.002)
        texts = []
        for stream in (out, err):
            stream.seek(0)
            texts.append(stream.read().decode("utf-8", "replace"))
            stream.close()
        results.append({"returncode": code, "stdout": texts[0], "stderr": texts[1]})
    return results

for line in sys.stdin:
    print(json.dumps(batch(json.loads(line))), flush=True)
"""


class ForkedCli:
    """One server process; :meth:`run_many` runs a batch of commands concurrently."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        self._server = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT,
        )
        self._lock = threading.Lock()

    def run_many(
        self, cwd: Path, commands: list[tuple[str, ...]], *, timeout: float = 20.0
    ) -> list[Result]:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(PROJECT)}
        requests = [
            {"argv": list(argv), "cwd": str(cwd), "env": env, "timeout": timeout}
            for argv in commands
        ]
        with self._lock:
            assert self._server.stdin is not None and self._server.stdout is not None
            self._server.stdin.write(json.dumps(requests) + "\n")
            self._server.stdin.flush()
            answer = self._server.stdout.readline()
        if not answer:
            raise RuntimeError("the forking server died")
        return [Result(**item) for item in json.loads(answer)]

    def close(self) -> None:
        if self._server.stdin is not None:
            self._server.stdin.close()
        self._server.wait(timeout=10)


def python_m(cwd: Path, argv: tuple[str, ...], *, timeout: float = 20.0) -> Result:
    """``python -m mikado ARGV`` in ``cwd``, the way a user runs it."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(PROJECT)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mikado", *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:

        def text(data: bytes | str | None) -> str:
            return data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""

        return Result(None, text(exc.stdout), text(exc.stderr))
    return Result(done.returncode, done.stdout, done.stderr)
