"""A client for Forgejo's Actions secrets: the only Forgejo API the zot chain writes to.

Forgejo never returns a secret's value, so "is it set?" can only be answered by name and
writing is the only way to be sure of the value. ``set_*`` therefore always writes and
reports whether Forgejo created the secret or replaced it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import quote

import httpx

from mikado.errors import ConfigError
from mikado.services._http import ServiceTransport

SERVICE = "forgejo"
API_PREFIX = "/api/v1"
_PAGE_LIMIT = 50
_MAX_PAGES = 1000

_NAME = re.compile(r"[A-Z_][A-Z0-9_]*", re.IGNORECASE)
_RESERVED_PREFIXES = ("FORGEJO_", "GITEA_", "GITHUB_")

_HINTS = {
    401: "check the access token",
    403: "check the access token and its scopes (write:repository or write:organization)",
    404: "check the owner and repository (or organization) names and that the token can see them",
}

SecretWrite = Literal["created", "updated"]


def _forgejo_detail(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    message = body.get("message")
    errors = body.get("errors")
    parts = [str(message)] if isinstance(message, str) and message else []
    if isinstance(errors, list):
        parts.extend(str(error) for error in errors if error)
    return "; ".join(parts) or None


def check_secret_name(name: str) -> None:
    """Refuse, before anything is sent, a name Forgejo would refuse."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"Forgejo secret name {name!r} must be letters, digits and underscores, "
            "not starting with a digit"
        )
    upper = name.upper()
    for prefix in _RESERVED_PREFIXES:
        if upper.startswith(prefix):
            raise ConfigError(f"Forgejo secret name {name!r} may not start with {prefix}")


def _segment(value: str) -> str:
    return quote(value, safe="")


class ForgejoClient:
    """Forgejo (or Gitea) API v1 for one server.

    ``base_url`` is the server or its API base (``.../api/v1``); ``token`` a personal access
    token, already resolved.
    """

    def __init__(self, http: httpx.Client, base_url: str, token: str) -> None:
        base = base_url.rstrip("/")
        if not base.endswith(API_PREFIX):
            base += API_PREFIX
        self._api = httpx.URL(base + "/")
        self._headers = {"Authorization": f"token {token}", "Accept": "application/json"}
        self._transport = ServiceTransport(
            SERVICE, http, parse_detail=_forgejo_detail, default_hints=_HINTS, secrets=(token,)
        )

    def _put_secret(self, path: str, name: str, value: str) -> SecretWrite:
        check_secret_name(name)
        if not value:
            # Forgejo refuses empty data; an empty value is nearly always an unresolved reference.
            raise ConfigError(f"Forgejo secret {name!r}: the value is empty")
        self._transport.add_secret(value)
        response = self._transport.send(
            "PUT",
            self._api.join(path),
            expected={201, 204},
            headers=self._headers,
            json={"data": value},
        )
        return "created" if response.status_code == 201 else "updated"

    def _names(self, path: str) -> Iterator[str]:
        url = self._api.join(path)
        seen = 0
        for page in range(1, _MAX_PAGES + 1):
            response = self._transport.send(
                "GET",
                url.copy_merge_params({"page": page, "limit": _PAGE_LIMIT}),
                expected={200},
                headers=self._headers,
            )
            body = self._transport.json(response)
            items = (
                [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
            )
            yield from (str(item["name"]) for item in items if "name" in item)
            seen += len(items)
            total = response.headers.get("x-total-count", "")
            # The server may cap the page size below what we asked for, so the total it
            # reports decides when to stop; without one, a short page is the last.
            if not items or (seen >= int(total) if total.isdigit() else len(items) < _PAGE_LIMIT):
                return

    def set_actions_secret(self, owner: str, repo: str, name: str, value: str) -> SecretWrite:
        """Create or replace a repository's Actions secret; says which happened."""
        path = f"repos/{_segment(owner)}/{_segment(repo)}/actions/secrets/{_segment(name)}"
        return self._put_secret(path, name, value)

    def set_org_actions_secret(self, org: str, name: str, value: str) -> SecretWrite:
        """Create or replace an organization's Actions secret; says which happened."""
        return self._put_secret(
            f"orgs/{_segment(org)}/actions/secrets/{_segment(name)}", name, value
        )

    def list_actions_secrets(self, owner: str, repo: str) -> list[str]:
        """The names of a repository's Actions secrets (Forgejo stores them upper-case)."""
        return list(self._names(f"repos/{_segment(owner)}/{_segment(repo)}/actions/secrets"))

    def list_org_actions_secrets(self, org: str) -> list[str]:
        """The names of an organization's Actions secrets (Forgejo stores them upper-case)."""
        return list(self._names(f"orgs/{_segment(org)}/actions/secrets"))
