"""The HTTP client actions share (docs/actions.md#http-retries): timeouts, trust from
``[mikado.tls]``, and bounded retries with backoff, as an httpx transport wrapper so every request
of every action gets them.

What is retried:

- a connection that could not be made (the request never left), for every method;
- ``429 Too Many Requests`` and ``503 Service Unavailable`` (the server says it did not act),
  for every method, honouring ``Retry-After``;
- other ``5xx`` answers, for idempotent methods only: a ``POST`` that got a ``502`` may have
  done its work, and repeating it could do it twice;
- a connection reset or closed before the whole answer arrived (a reset, a truncated body),
  for idempotent methods only, for the same reason. To see a truncated body here, where it
  can still be retried, the transport reads an idempotent request's answer whole before
  returning it (the APIs mikado talks to answer in kilobytes).

A read that timed out is not retried: a server that did not answer within the timeout is
unlikely to answer the next try, and each repetition would hold the run a whole timeout more.

At most :data:`ATTEMPTS` tries; waits grow exponentially with jitter and are capped, and a
``Retry-After`` longer than :data:`MAX_WAIT` is not waited for (the answer is returned).
"""

from __future__ import annotations

import functools
import os
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from mikado.config import TlsSettings

ATTEMPTS = 4
BASE_DELAY = 0.25
MAX_WAIT = 30.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
ALWAYS_RETRIED = frozenset({429, 503})
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "mikado"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = ATTEMPTS
    base_delay: float = BASE_DELAY
    max_wait: float = MAX_WAIT


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport; retries what :mod:`mikado.engine.http` says is safe to retry."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.inner = inner
        self.policy = policy
        self.sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The body must be replayable; httpx keeps bytes content, read it once up front.
        request.read()
        idempotent = request.method in IDEMPOTENT
        attempt = 1
        while True:
            try:
                response = self.inner.handle_request(request)
                if idempotent:
                    response = _read_whole(response, request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt >= self.policy.attempts:
                    raise
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                # The request may have reached the server: only an idempotent one is repeated.
                if not idempotent or attempt >= self.policy.attempts:
                    raise
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            wait = self._retry_wait(request, response, attempt)
            if wait is None:
                return response
            response.close()
            self.sleep(wait)
            attempt += 1

    def _retry_wait(
        self, request: httpx.Request, response: httpx.Response, attempt: int
    ) -> float | None:
        status = response.status_code
        if attempt >= self.policy.attempts:
            return None
        if status not in ALWAYS_RETRIED and not (status >= 500 and request.method in IDEMPOTENT):
            return None
        backoff = self._backoff(attempt)
        after = retry_after(response.headers.get("Retry-After"))
        if after is None:
            return backoff
        if after > self.policy.max_wait:
            return None  # the server asks for longer than a run should stall: report it
        return max(after, 0.0)

    def _backoff(self, attempt: int) -> float:
        delay = self.policy.base_delay * 2 ** (attempt - 1)
        return float(min(delay * (0.5 + random.random()), self.policy.max_wait))

    def close(self) -> None:
        self.inner.close()


def _read_whole(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    """The same answer with its raw body already read, so a connection lost mid-body raises
    here. The raw (still encoded) bytes are kept: the client decodes them as usual."""
    try:
        raw = b"".join(response.stream)  # type: ignore[arg-type]
    finally:
        response.close()
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
        request=request,
    )


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def ssl_context(tls: TlsSettings) -> ssl.SSLContext | bool:
    """Verification per ``[mikado.tls]``: the given CA bundle replaces the trust store."""
    if tls.insecure:
        return False
    if tls.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(tls.ca_bundle))
    return default_ssl_context()


def default_ssl_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's trust store, or SSL_CERT_FILE/SSL_CERT_DIR),
    loaded once per process and environment: loading costs about 20 ms, which each card's
    process would otherwise pay (the fork server loads it before forking them)."""
    return _trust_store(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _trust_store(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context(verify=True)


def make_client(
    tls: TlsSettings,
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    timeout: httpx.Timeout = TIMEOUT,
    **options: Any,
) -> httpx.Client:
    """The shared client of a run. ``options`` go to :class:`httpx.Client` (tests pass a
    transport-level ``event_hooks`` or ``base_url``)."""
    verify = ssl_context(tls)
    transport = RetryTransport(httpx.HTTPTransport(verify=verify), policy, sleep=sleep)
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        **options,
    )


def ca_bundle_problem(tls: TlsSettings) -> str | None:
    """Why the configured CA bundle cannot be used, before any request needs it."""
    bundle: Path | None = tls.ca_bundle
    if bundle is None:
        return None
    if not bundle.is_file():
        return f"[mikado.tls] ca_bundle {bundle} does not exist"
    try:
        ssl.create_default_context(cafile=str(bundle))
    except (ssl.SSLError, OSError) as exc:
        return f"[mikado.tls] ca_bundle {bundle} is not a PEM certificate bundle ({exc})"
    return None
