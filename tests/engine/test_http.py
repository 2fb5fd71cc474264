"""The shared HTTP client against a real server on 127.0.0.1: what it retries, how long it
waits, and what it refuses to repeat."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mikado.config import TlsSettings
from mikado.engine.http import RetryPolicy, make_client, retry_after


class Script:
    """Answers in order: each entry is (status, headers); the last repeats."""

    def __init__(self, *answers: tuple[int, dict[str, str]]):
        self.answers = list(answers)
        self.requests: list[str] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script((200, {}))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            script.requests.append(f"{self.command} {body}".strip())
            status, headers = (
                script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(waits: list[float], attempts: int = 4) -> httpx.Client:
    return make_client(TlsSettings(), policy=RetryPolicy(attempts=attempts), sleep=waits.append)


def test_5xx_on_get_is_retried_with_growing_backoff(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers[:] = [(502, {}), (500, {}), (200, {})]
    waits: list[float] = []
    with client(waits) as http:
        assert http.get(url).status_code == 200
    assert len(script.requests) == 3
    assert len(waits) == 2 and waits[1] > waits[0] * 0.7  # exponential, with jitter


def test_429_honours_retry_after_seconds_and_dates(server: tuple[str, Script]) -> None:
    url, script = server
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    script.answers[:] = [(429, {"Retry-After": "2"}), (503, {"Retry-After": later}), (200, {})]
    waits: list[float] = []
    with client(waits) as http:
        assert http.post(url, content=b"x").status_code == 200
    assert waits[0] == 2.0
    assert 3.0 < waits[1] <= 5.0
    assert script.requests == ["POST x", "POST x", "POST x"]  # the body is sent every time


def test_a_post_that_got_a_500_is_not_repeated(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers[:] = [(500, {}), (200, {})]
    waits: list[float] = []
    with client(waits) as http:
        assert http.post(url, json={"a": 1}).status_code == 500
    assert len(script.requests) == 1 and waits == []


def test_retries_are_bounded(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers[:] = [(503, {})]
    waits: list[float] = []
    with client(waits, attempts=3) as http:
        assert http.get(url).status_code == 503
    assert len(script.requests) == 3 and len(waits) == 2


def test_a_retry_after_longer_than_a_run_should_stall_is_returned(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.answers[:] = [(429, {"Retry-After": "3600"}), (200, {})]
    waits: list[float] = []
    with client(waits) as http:
        assert http.get(url).status_code == 429
    assert waits == []


def test_connection_errors_are_retried_then_raised() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    waits: list[float] = []
    with client(waits, attempts=3) as http, pytest.raises(httpx.ConnectError):
        http.post(f"http://127.0.0.1:{port}/")
    assert len(waits) == 2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds
