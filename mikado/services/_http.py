"""What every service client shares: sending a request and turning a failure into ServiceError.

The clients never build their own ``httpx.Client``: the engine injects one with timeouts,
retries and the CA bundle. This module only adds what is the same for every service: a
request description that is safe to show (no userinfo, sensitive query values masked), the
service's own error text with every known secret masked, and a hint for the usual causes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import httpx

from mikado.errors import ServiceError

# Query parameters whose values can authorise something (upload state, signed URLs, codes).
_SENSITIVE_PARAM = re.compile(r"token|secret|pass|key|state|sig|code|credential", re.IGNORECASE)
_DETAIL_LIMIT = 300

DetailParser = Callable[[Any], str | None]

# Told each time a request starts (its safe description) and ends (None), so the engine can say
# what an action passed its timeout waiting for; an action's process sets it
# (mikado.engine.child). None elsewhere.
on_waiting: Callable[[str | None], None] | None = None


def _waiting(text: str | None) -> None:
    report = on_waiting
    if report is not None:
        report(text)


def describe_request(method: str, url: httpx.URL | str) -> str:
    """``"POST http://host/path?q=v"`` without userinfo and with sensitive query values masked."""
    parsed = httpx.URL(url)
    params = [
        (name, "***" if _SENSITIVE_PARAM.search(name) else value)
        for name, value in parsed.params.multi_items()
    ]
    clean = parsed.copy_with(username=None, password=None, query=None)
    text = str(clean)
    if params:
        text += "?" + "&".join(f"{name}={value}" for name, value in params)
    return f"{method.upper()} {text}"


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


class ServiceTransport:
    """Sends requests for one service and maps failures onto ServiceError.

    ``parse_detail`` extracts the service's own message from a decoded JSON error body;
    ``hint_for`` may derive a hint from the response itself (e.g. its headers);
    ``default_hints`` maps a status to a hint used when neither gives one.
    """

    def __init__(
        self,
        service: str,
        http: httpx.Client,
        *,
        parse_detail: DetailParser,
        default_hints: Mapping[int, str],
        secrets: Iterable[str] = (),
        hint_for: Callable[[httpx.Response], str | None] | None = None,
    ) -> None:
        self.service = service
        self.http = http
        self._parse_detail = parse_detail
        self._default_hints = dict(default_hints)
        self._hint_for = hint_for
        self._secrets = tuple(secret for secret in secrets if secret)

    def add_secret(self, secret: str) -> None:
        """Also mask ``secret`` (e.g. a value being written) in every later error."""
        if secret and secret not in self._secrets:
            self._secrets = (*self._secrets, secret)

    def send(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        expected: Collection[int],
        hints: Mapping[int, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; a status outside ``expected`` raises ServiceError."""
        request = describe_request(method, url)
        _waiting(mask(f"{self.service}: {request}", self._secrets))
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            detail = mask(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, self._secrets
            )
            raise ServiceError(
                self.service, request, detail, hint="is the service running and reachable?"
            ) from exc
        finally:
            _waiting(None)
        if response.status_code not in expected:
            raise self.error(response, request=request, hints=hints)
        return response

    def error(
        self,
        response: httpx.Response,
        *,
        request: str | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> ServiceError:
        """The ServiceError for a response the caller did not expect."""
        if request is None:
            request = describe_request(response.request.method, response.request.url)
        status = response.status_code
        detail = self._detail(response)
        hint = (
            (hints or {}).get(status)
            or (self._hint_for(response) if self._hint_for else None)
            or self._default_hints.get(status)
        )
        return ServiceError(self.service, request, detail, status=status, hint=hint)

    def json(self, response: httpx.Response) -> Any:
        """The decoded body, or a ServiceError saying what came back instead of JSON."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            request = describe_request(response.request.method, response.request.url)
            kind = response.headers.get("content-type", "no content type")
            body = mask(_shorten(response.text), self._secrets) or "an empty body"
            raise ServiceError(
                self.service,
                request,
                f"expected JSON, got {kind}: {body}",
                status=response.status_code,
                hint="is the base URL pointing at the API?",
            ) from None

    def _detail(self, response: httpx.Response) -> str:
        detail: str | None = None
        if response.content:
            try:
                detail = self._parse_detail(response.json())
            except (json.JSONDecodeError, UnicodeDecodeError):
                detail = None
            if not detail:
                detail = _shorten(response.text)
        if not detail:
            detail = response.reason_phrase or f"HTTP {response.status_code}"
        return mask(_shorten(detail), self._secrets)
