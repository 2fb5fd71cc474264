"""A Forgejo stand-in: Actions secrets of repositories and organisations, a repository lookup and
the server version, as Forgejo 11 or 16 answers them.

Requests are checked against the release's Swagger document (``schemas/forgejo-<release>/``).
Secret values are kept so a test can read them with `secret_value`, and never leave the
emulator over HTTP, as in Forgejo. What differs between the releases, from Forgejo's source
(``models/secret/secret.go`` in 16, ``services/secrets/validation.go`` in 11.0.3): 16 also
reserves the ``FORGEJO_`` prefix, turns CRLF into LF in every value (11 only in its web form),
and does not validate the name of a secret to delete (an invalid one is simply not found).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from mikado.lab.emulators._server import Emulator, EmulatorError, JSONValue, Request, Response
from mikado.lab.emulators._swagger import RouteMismatch, SwaggerSpec, schema_file
from mikado.lab.emulators.releases import RELEASES

VERSIONS = {"11": "11.0.3+gitea-1.22.0", "16": "16.0.1+gitea-1.22.0"}
_SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$", re.IGNORECASE)
_RESERVED_PREFIXES = {"11": ("GITEA_", "GITHUB_"), "16": ("FORGEJO_", "GITEA_", "GITHUB_")}
_DEFAULT_PAGE_LIMIT = 30  # Forgejo's default page size for API lists


def secret_name_problem(name: str, release: str = "16") -> str | None:
    """Why Forgejo ``release`` would refuse this secret name, or None."""
    if not _SECRET_NAME.match(name) or name.upper().startswith(_RESERVED_PREFIXES[release]):
        return "invalid secret name"
    return None


class ForgejoEmulator(Emulator):
    """Forgejo API v1 subset on 127.0.0.1; the API base is `url + "/api/v1"`.

    `token` is the one personal access token accepted (`Authorization: token <PAT>`; Forgejo also
    takes `Bearer`). `repos` are "owner/name" repositories that exist; their owners are
    organisations. Every request is checked against Forgejo's Swagger document (`schema`,
    by default the one mikado ships) unless `validate_requests` is False.
    """

    service = "forgejo"

    def __init__(
        self,
        *,
        token: str,
        repos: Iterable[str] = (),
        state_file: Path | None = None,
        port: int = 0,
        release: str = RELEASES["forgejo"][-1],
        schema: Path | None = None,
        validate_requests: bool = True,
    ) -> None:
        if release not in RELEASES["forgejo"]:
            offered = ", ".join(RELEASES["forgejo"])
            raise EmulatorError(f"the lab imitates Forgejo {offered}, not {release}")
        super().__init__(state_file=state_file, port=port)
        self.release = release
        self._token = token
        self._initial_repos = tuple(repos)
        self._spec: SwaggerSpec | None = None
        if validate_requests:
            self._spec = SwaggerSpec.load(
                schema or schema_file(f"forgejo-{release}", "swagger.v1.json")
            )
        self._repos: dict[str, dict[str, JSONValue]] = {}
        self._secrets: dict[str, dict[str, dict[str, JSONValue]]] = {}

    @property
    def validates_requests(self) -> bool:
        return self._spec is not None

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    # helpers for tests and the lab -----------------------------------------------------------

    def add_repo(self, full_name: str) -> None:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"a repository is owner/name, not {full_name!r}")
        with self._lock:
            self._add_repo(owner, name)
            self._save()

    def secret_value(
        self, name: str, *, repo: str | None = None, org: str | None = None
    ) -> str | None:
        """The stored value of a secret of `repo` ("owner/name") or `org`; None when absent."""
        if (repo is None) == (org is None):
            raise ValueError("name exactly one of repo or org")
        scope = f"repo:{repo.lower()}" if repo is not None else f"org:{str(org).lower()}"
        with self._lock:
            secret = self._secrets.get(scope, {}).get(name.upper())
            return None if secret is None else str(secret["data"])

    def secret_names(self, *, repo: str | None = None, org: str | None = None) -> list[str]:
        scope = f"repo:{repo.lower()}" if repo is not None else f"org:{str(org).lower()}"
        with self._lock:
            return sorted(self._secrets.get(scope, {}))

    # state -----------------------------------------------------------------------------------

    def _add_repo(self, owner: str, name: str) -> None:
        key = f"{owner}/{name}".lower()
        if key not in self._repos:
            self._repos[key] = {"owner": owner, "name": name, "id": len(self._repos) + 1}

    def _reset_state(self) -> None:
        self._repos = {}
        self._secrets = {}
        for full_name in self._initial_repos:
            owner, _, name = full_name.partition("/")
            self._add_repo(owner, name)

    def _dump_state(self) -> dict[str, JSONValue]:
        return {"repos": self._repos, "secrets": self._secrets}

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        self._repos.update(state.get("repos", {}))
        self._secrets = {scope: dict(values) for scope, values in state.get("secrets", {}).items()}

    # requests --------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if not request.path.startswith("/api/v1/"):
            return self._message(404, "Not Found")
        path = request.path[len("/api/v1") :]
        operation = None
        if self._spec is not None:
            try:
                operation = self._spec.match(request.method, path)
            except RouteMismatch as mismatch:
                return self._message(mismatch.status, str(mismatch))
        if path == "/version" and request.method == "GET":
            return Response.of_json(200, {"version": VERSIONS[self.release]})
        # Forgejo authenticates before it binds the body: a bad token wins over a bad body.
        if not self._authenticated(request):
            return self._message(401, "token is required or invalid")
        if self._spec is not None and operation is not None:
            problems = self._spec.problems(operation, request.query, request.body)
            if problems:
                return self._message(422, "; ".join(problems))
        with self._lock:
            return self._route(request, path)

    def _authenticated(self, request: Request) -> bool:
        scheme, _, presented = (request.header("Authorization") or "").partition(" ")
        return scheme.lower() in ("token", "bearer") and secrets.compare_digest(
            presented.strip().encode(), self._token.encode()
        )

    def _route(self, request: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        method = request.method
        if parts[0] == "repos" and len(parts) >= 3:
            key = f"{parts[1]}/{parts[2]}".lower()
            if key not in self._repos:
                return self._message(404, "The target couldn't be found.")
            if len(parts) == 3 and method == "GET":
                return Response.of_json(200, self._render_repo(self._repos[key]))
            scope, rest = f"repo:{key}", parts[3:]
        elif parts[0] == "orgs" and len(parts) >= 2:
            org = parts[1].lower()
            if not any(str(repo["owner"]).lower() == org for repo in self._repos.values()):
                return self._message(404, "The target couldn't be found.")
            scope, rest = f"org:{org}", parts[2:]
        else:
            return self._message(501, f"{method} {path} is not emulated")
        if rest[:2] != ["actions", "secrets"] or len(rest) > 3:
            return self._message(501, f"{method} {path} is not emulated")
        if len(rest) == 2 and method == "GET":
            return self._list_secrets(request, scope)
        if len(rest) == 3 and method == "PUT":
            return self._put_secret(request, scope, rest[2])
        if len(rest) == 3 and method == "DELETE":
            return self._delete_secret(scope, rest[2])
        return self._message(405, f"method {method} is not allowed")

    def _list_secrets(self, request: Request, scope: str) -> Response:
        stored = self._secrets.get(scope, {})
        try:
            page = max(1, int(request.query_value("page") or 1))
            limit = max(1, int(request.query_value("limit") or _DEFAULT_PAGE_LIMIT))
        except ValueError:
            return self._message(422, "page and limit must be integers")
        names = sorted(stored)
        shown = names[(page - 1) * limit : page * limit]
        listing = [{"name": name, "created_at": stored[name]["created_at"]} for name in shown]
        return Response.of_json(200, listing, [("X-Total-Count", str(len(names)))])

    def _put_secret(self, request: Request, scope: str, name: str) -> Response:
        problem = secret_name_problem(name, self.release)
        if problem is not None:
            return self._message(400, problem)
        try:
            body = request.parsed_json()
        except ValueError:
            return self._message(422, "the body is not JSON")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, str) or not data:
            return self._message(422, "[Data]: Required")
        values = self._secrets.setdefault(scope, {})
        existing = values.get(name.upper())
        if self.release != "11":
            data = data.replace("\r\n", "\n")  # Secret.SetData; 11 stores API values as sent
        values[name.upper()] = {
            "data": data,
            "created_at": (
                existing["created_at"]
                if existing
                else datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            ),
        }
        self._save()
        return Response(204 if existing else 201)

    def _delete_secret(self, scope: str, name: str) -> Response:
        problem = secret_name_problem(name, self.release)
        if problem is not None and self.release == "11":
            return self._message(400, problem)
        if self._secrets.get(scope, {}).pop(name.upper(), None) is None:
            return self._message(404, "The target couldn't be found.")
        self._save()
        return Response(204)

    def _render_repo(self, repo: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        owner, name = str(repo["owner"]), str(repo["name"])
        owner_id = int(hashlib.sha256(owner.encode()).hexdigest()[:6], 16)
        return {
            "id": repo["id"],
            "name": name,
            "full_name": f"{owner}/{name}",
            "owner": {"id": owner_id, "login": owner, "username": owner},
            "private": True,
            "default_branch": "main",
            "html_url": f"{self.url}/{owner}/{name}",
            "clone_url": f"{self.url}/{owner}/{name}.git",
            "has_actions": True,
            "permissions": {"admin": True, "push": True, "pull": True},
        }

    def _message(self, status: int, message: str) -> Response:
        return Response.of_json(status, {"message": message, "url": f"{self.url}/api/swagger"})
