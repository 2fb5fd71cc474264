"""The shared emulator base: lifecycle, recording, faults, atomic state, chunked bodies."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from mikado.lab.emulators import EmulatorError, Fault
from mikado.lab.emulators._server import Emulator, JSONValue, Request, Response


class CounterEmulator(Emulator):
    """The smallest service: POST /count adds the body's length, GET /count reads it."""

    service = "counter"

    def _reset_state(self) -> None:
        self.total = 0

    def _dump_state(self) -> dict[str, JSONValue]:
        return {"total": self.total}

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        self.total = int(state["total"])

    def _handle(self, request: Request) -> Response:
        if request.path != "/count":
            return Response(404)
        with self._lock:
            if request.method == "POST":
                self.total += len(request.body)
                self._save()
            return Response.of_json(200, {"total": self.total, "padding": "x" * 64})


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[CounterEmulator]:
    with CounterEmulator(state_file=tmp_path / "state.json") as emulator:
        yield emulator


def test_state_is_written_atomically_and_reloaded(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with CounterEmulator(state_file=state) as first:
        httpx.post(f"{first.url}/count", content=b"abc")
        port = first.port
    document = json.loads(state.read_text())
    assert document == {"service": "counter", "version": 1, "state": {"total": 3}}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left
    with CounterEmulator(state_file=state) as second:
        assert httpx.get(f"{second.url}/count").json()["total"] == 3
    # the same object keeps its port across stop/start
    first.start()
    try:
        assert first.port == port
        assert httpx.get(f"{first.url}/count").json()["total"] == 3
    finally:
        first.stop()


def test_a_foreign_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"service": "zot", "version": 1, "state": {}}))
    with pytest.raises(EmulatorError, match="not a counter emulator state file"):
        CounterEmulator(state_file=state).start()


def test_chunked_request_bodies_are_decoded(counter: CounterEmulator) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"12345"
        yield b"678"

    response = httpx.post(f"{counter.url}/count", content=chunks())
    assert response.json()["total"] == 8


def test_status_fault_counts_down_and_skips_the_work(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.error(503), method="POST", path_prefix="/count", times=2)
    statuses = [httpx.post(f"{counter.url}/count", content=b"x").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert counter.total == 1
    assert [r.status for r in counter.requests] == [503, 503, 200]
    assert counter.pending_faults == 0


def test_fault_matches_method_and_prefix_only(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.error(500), method="POST", path_prefix="/other")
    assert httpx.post(f"{counter.url}/count", content=b"x").status_code == 200
    assert counter.pending_faults == 1
    counter.clear_faults()
    assert counter.pending_faults == 0


def test_slow_fault_delays_then_answers(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.slow(0.3))
    started = time.monotonic()
    assert httpx.get(f"{counter.url}/count").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        counter.inject_fault(Fault.slow(0.5))
        httpx.get(f"{counter.url}/count", timeout=0.1)


def test_reset_fault_drops_the_connection(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.reset())
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{counter.url}/count", content=b"x")
    assert counter.total == 0
    assert counter.requests[-1].status == 0
    assert httpx.get(f"{counter.url}/count").status_code == 200


def test_processed_reset_does_the_work_and_loses_the_answer(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.reset(processed=True))
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{counter.url}/count", content=b"xy")
    assert counter.total == 2


def test_truncated_fault_cuts_the_body(counter: CounterEmulator) -> None:
    counter.inject_fault(Fault.truncated())
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{counter.url}/count")


def test_stop_closes_keep_alive_connections(counter: CounterEmulator) -> None:
    with socket.create_connection(("127.0.0.1", counter.port), timeout=2) as connection:
        connection.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b'"}'):
            answer += connection.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        counter.stop()
        assert connection.recv(4096) == b""  # closed by the server, not left serving
