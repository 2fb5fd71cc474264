"""What every emulator shares: a threaded HTTP server on 127.0.0.1, a record of every request,
injected faults, and a state file that survives a restart.

A service module only turns a parsed `Request` into a `Response` and says how to dump and load
its state; nothing here knows about Authentik, Forgejo or zot.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from mikado.errors import MikadoError

JSONValue = Any
"""A value as `json.loads` returns it."""

_MAX_BODY = 512 * 1024 * 1024  # a lab image layer is small; this only stops a runaway client


class EmulatorError(MikadoError):
    """An emulator cannot start: its state file is unreadable or belongs to another service."""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator saw it, so a test can assert what a client did.

    `json` is the parsed body, or None when the body was empty or not JSON (blob uploads).
    `status` is what the emulator answered; 0 when an injected fault reset the connection.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    json: JSONValue
    status: int


class FaultKind(StrEnum):
    STATUS = "status"  # answer with an error status instead of the real response
    SLOW = "slow"  # sleep, then answer normally
    RESET = "reset"  # drop the TCP connection with a RST, no response at all
    TRUNCATE = "truncate"  # announce the full Content-Length, send half, close


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure to inject; build one with the class methods.

    `processed=True` applies the request's effect before failing, the case where a response is
    lost after the server already did the work: exactly what an idempotent client must survive.
    """

    kind: FaultKind
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0
    processed: bool = False

    @classmethod
    def error(cls, status: int = 500, *, processed: bool = False) -> Fault:
        return cls(FaultKind.STATUS, status=status, processed=processed)

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        return cls(FaultKind.STATUS, status=429, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(FaultKind.SLOW, delay=seconds)

    @classmethod
    def reset(cls, *, processed: bool = False) -> Fault:
        return cls(FaultKind.RESET, processed=processed)

    @classmethod
    def truncated(cls) -> Fault:
        return cls(FaultKind.TRUNCATE, processed=True)


@dataclass(slots=True)
class _FaultRule:
    method: str  # "*" matches any method
    path_prefix: str
    fault: Fault
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and path.startswith(self.path_prefix)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def parsed_json(self) -> JSONValue:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def cookies(self) -> dict[str, str]:
        """The cookies the request sends, by name."""
        found: dict[str, str] = {}
        for part in (self.header("Cookie") or "").split(";"):
            name, equals, value = part.strip().partition("=")
            if equals:
                found[name] = value
        return found


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of_json(
        cls, status: int, payload: JSONValue, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, [("Content-Type", "application/json"), *headers])

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _record_json(request: Request) -> JSONValue:
    if not request.body:
        return None
    try:
        return request.parsed_json()
    except ValueError:
        return None


class Emulator(ABC):
    """Base of the three emulators: lifecycle, recording, faults, persistence."""

    service: ClassVar[str]
    state_version: ClassVar[int] = 1

    def __init__(self, *, state_file: Path | None = None, port: int = 0) -> None:
        self.state_file = state_file
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._lock = threading.RLock()
        self._faults: list[_FaultRule] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise EmulatorError(f"{self.service} emulator is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        if self._server is not None:
            return
        self._load()
        server = _QuietServer(("127.0.0.1", self._port), _handler_for(self))
        # A restarted emulator keeps its address, so URLs other services hold stay valid.
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.service}-emulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Keep-alive connections would otherwise go on being served by the stopped emulator.
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # faults ----------------------------------------------------------------------------------

    def inject_fault(
        self, fault: Fault, *, method: str = "*", path_prefix: str = "/", times: int = 1
    ) -> None:
        """Make the next `times` requests matching method and path prefix fail with `fault`."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_FaultRule(method.upper(), path_prefix, fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(rule.remaining for rule in self._faults)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._faults:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._faults.remove(rule)
                    return rule.fault
        return None

    # persistence -----------------------------------------------------------------------------

    @abstractmethod
    def _dump_state(self) -> dict[str, JSONValue]:
        """The service's objects as JSON-able data."""

    @abstractmethod
    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        """Replace the service's objects with the ones dumped earlier."""

    @abstractmethod
    def _reset_state(self) -> None:
        """The objects a fresh service starts with."""

    def _load(self) -> None:
        with self._lock:
            self._reset_state()
            if self.state_file is None or not self.state_file.exists():
                return
            try:
                document = json.loads(self.state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise EmulatorError(
                    f"cannot read the {self.service} emulator state: {error}",
                    path=str(self.state_file),
                ) from error
            if not isinstance(document, dict) or document.get("service") != self.service:
                raise EmulatorError(
                    f"not a {self.service} emulator state file", path=str(self.state_file)
                )
            if document.get("version") != self.state_version:
                raise EmulatorError(
                    f"unsupported {self.service} emulator state version "
                    f"{document.get('version')!r}",
                    path=str(self.state_file),
                )
            self._load_state(document.get("state", {}))

    def _save(self) -> None:
        """Write the state atomically; call with the lock held after every change."""
        if self.state_file is None:
            return
        document = {
            "service": self.service,
            "version": self.state_version,
            "state": self._dump_state(),
        }
        write_atomically(self.state_file, json.dumps(document, indent=1, sort_keys=True).encode())

    # requests --------------------------------------------------------------------------------

    @abstractmethod
    def _handle(self, request: Request) -> Response:
        """Answer one request; called from server threads."""

    def _answer(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except Exception as error:  # an emulator bug must show as a 500, not a hung client
            return Response.of_json(500, {"emulator_error": f"{type(error).__name__}: {error}"})

    def _record(self, request: Request, status: int) -> None:
        self.requests.append(
            RecordedRequest(
                request.method, request.path, request.query, _record_json(request), status
            )
        )

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal under injected faults; stay quiet."""


class _BadRequestBody(Exception):
    pass


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(_EmulatorHandler):
        owner = emulator

    return Handler


class _EmulatorHandler(BaseHTTPRequestHandler):
    owner: ClassVar[Emulator]
    protocol_version = "HTTP/1.1"
    timeout = 30  # an abandoned keep-alive connection must not pin a thread forever

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the body would wait
        # for the client's delayed ACK, 40 ms on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner._track(self.connection, alive=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.owner._track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the lab read `requests`, not stderr."""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except _BadRequestBody as problem:
            self._send(Response(400, str(problem).encode()), head=False)
            self.close_connection = True
            return
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        fault = self.owner._take_fault(request.method, request.path)
        if fault is None:
            self._respond(request, self.owner._answer(request))
            return
        if fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay)
            self._respond(request, self.owner._answer(request))
            return
        # A processed fault does the work and then loses the answer.
        real = self.owner._answer(request) if fault.processed else None
        if fault.kind is FaultKind.STATUS:
            headers = [] if fault.retry_after is None else [("Retry-After", str(fault.retry_after))]
            injected = Response.of_json(
                fault.status, {"detail": "injected fault", "code": "emulator_fault"}, headers
            )
            self._respond(request, injected)
        elif fault.kind is FaultKind.RESET:
            self.owner._record(request, 0)
            self._reset()
        else:
            real = real or self.owner._answer(request)
            self.owner._record(request, real.status)
            self._send(real, head=request.method == "HEAD", truncate=True)
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _respond(self, request: Request, response: Response) -> None:
        self.owner._record(request, response.status)
        self._send(response, head=request.method == "HEAD")

    def _send(self, response: Response, *, head: bool, truncate: bool = False) -> None:
        self.send_response(response.status)
        names = {key.lower() for key, _ in response.headers}
        for key, value in response.headers:
            self.send_header(key, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if head:
            return
        body = response.body[: len(response.body) // 2] if truncate else response.body
        self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError as error:
            raise _BadRequestBody("bad Content-Length") from error
        if length < 0 or length > _MAX_BODY:
            raise _BadRequestBody("Content-Length out of range")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as error:
                raise _BadRequestBody("bad chunk size") from error
            if size == 0:
                # trailers, up to the blank line
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise _BadRequestBody("body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)
