"""An Authentik stand-in: the slice of REST API v3 that registers an OAuth2/OIDC client, and
the OIDC endpoints a login through that client uses (:mod:`.authentik_oidc`).

It imitates a release (``2025.2`` or ``2026.8``) where the zot chain can tell them apart:
the fields each object has (:mod:`.authentik_objects`), the request models bodies are checked
against (``schemas/authentik-<release>/models.json``, unknown fields refused), and the list
envelope. Behaviour the same in both, from authentik's source (see the notes per method):

- an API token acts as its user: a superuser passes every permission check, anyone else is
  refused (403) except on the application list;
- ``GET core/applications/`` is filtered by the policy engine for the token's user, even a
  superuser, unless a superuser asks with ``superuser_full_list=true``; the filtered page is
  cached per user and page number (filters are not part of the key) until a write;
- ``GET core/applications/{slug}/`` is not policy-checked: 404 only when there is none;
- failed authentication is a 403 ``{"detail": ...}``; field errors are 400 ``{field: [...]}``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.lab.emulators import authentik_oidc
from mikado.lab.emulators._models import FieldErrors, model_schemas
from mikado.lab.emulators._server import Emulator, EmulatorError, JSONValue, Request, Response
from mikado.lab.emulators.authentik_checks import (
    Objects,
    application_errors,
    binding_errors,
    provider_errors,
)
from mikado.lab.emulators.authentik_objects import (
    API_PREFIX,
    APPLICATION_DEFAULTS,
    BINDING_DEFAULTS,
    PROVIDER_DEFAULTS,
    Renderer,
    seeded_objects,
)
from mikado.lab.emulators.authentik_policy import passes
from mikado.lab.emulators.releases import RELEASES

_DEFAULT_PAGE_SIZE = 100
ADMIN_USERNAME = "akadmin"
SUPERUSER_GROUP = "authentik Admins"


@dataclass(frozen=True, slots=True)
class _Route:
    kind: str  # "list", "detail" or "setup_urls"
    collection: str
    key: str | None = None


# The collections served, by URL below /api/v3/.
_COLLECTIONS = {
    "flows/instances": "flows",
    "crypto/certificatekeypairs": "keypairs",
    "propertymappings/provider/scope": "scope_mappings",
    "core/groups": "groups",
    "core/users": "users",
    "providers/oauth2": "providers",
    "core/applications": "applications",
    "policies/bindings": "bindings",
}
_WRITABLE = {
    "providers": ("OAuth2ProviderRequest", "PatchedOAuth2ProviderRequest"),
    "applications": ("ApplicationRequest", "PatchedApplicationRequest"),
    "bindings": ("PolicyBindingRequest", "PatchedPolicyBindingRequest"),
}
# Query parameters each list filters on (exact match); django-filter ignores any other, and so
# does this: filtering bindings by `group` returns every binding.
_FILTERS: dict[str, tuple[str, ...]] = {
    "flows": ("slug", "name", "designation"),
    "keypairs": ("name", "managed"),
    "scope_mappings": ("managed", "name", "scope_name"),
    "groups": ("name",),
    "users": ("username", "email"),
    "providers": ("client_id", "name"),
    "applications": ("slug", "name"),
    "bindings": ("target", "enabled", "order"),
}
_MULTI_VALUE_FILTERS = frozenset({("scope_mappings", "managed")})
# Writes that change who passes an application's policies flush the list cache
# (authentik/policies/signals.py: bindings, groups, users, applications).
_FLUSHES_APP_CACHE = frozenset({"bindings", "groups", "users", "applications"})


class AuthentikEmulator(Emulator):
    """Authentik REST v3 subset on 127.0.0.1; the API base is `url + "/api/v3"`.

    `token` is an API token of the superuser `akadmin` (member of "authentik Admins" only).
    Other users, groups and tokens are added with the helpers below, as an admin would.
    """

    service = "authentik"
    state_version = 2

    def __init__(
        self,
        *,
        token: str,
        release: str = RELEASES["authentik"][-1],
        state_file: Path | None = None,
        port: int = 0,
        validate_requests: bool = True,
    ) -> None:
        if release not in RELEASES["authentik"]:
            raise EmulatorError(
                f"the lab imitates Authentik {RELEASES['authentik']}, not {release}"
            )
        super().__init__(state_file=state_file, port=port)
        self.release = release
        self.models = model_schemas(f"authentik-{release}")
        self.validates_requests = validate_requests
        self._admin_token = token
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.tokens: dict[str, int] = {}  # sha256 of a token → user pk
        self.sessions: dict[str, int] = {}  # login session id → user pk
        self.codes: dict[str, dict[str, Any]] = {}  # authorization codes
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self._counters: dict[str, int] = {}
        self._app_cache: dict[tuple[int, int], list[str]] = {}
        self.renderer = Renderer(self.models, self.objects)

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def issuer_for(self, slug: str) -> str:
        return f"{self.url}/application/o/{slug}/"

    # helpers for tests and the lab (what an Authentik admin does in the UI) ------------------

    def add_group(self, name: str, *, superuser: bool = False) -> str:
        """Create a group; returns its pk. Idempotent by name."""
        with self._lock:
            for group in self.objects["groups"].values():
                if group["name"] == name:
                    return str(group["pk"])
            pk = str(uuid.uuid4())
            self.objects["groups"][pk] = {
                "pk": pk,
                "num_pk": self._next("group_num"),
                "name": name,
                "is_superuser": superuser,
            }
            self._changed("groups")
            return pk

    def add_user(
        self,
        username: str,
        *,
        email: str | None = None,
        groups: Iterable[str] = (),
        password: str | None = None,
        superuser: bool = False,
        service_account: bool = False,
    ) -> int:
        """Create a user in the named groups (created when missing); returns its pk.
        Idempotent by username; an existing user without a password gets ``password`` (as
        an admin sets a blueprint's service account's password in the UI)."""
        with self._lock:
            group_pks = [self.add_group(name) for name in groups]
            for user in self.objects["users"].values():
                if user["username"] == username:
                    if password and user.get("password") is None:
                        user["password"] = _digest(password)
                        self._changed("users")
                    return int(user["pk"])
            # User.is_superuser is a property: a member of a superuser group is one.
            superuser = superuser or any(
                self.objects["groups"][pk].get("is_superuser") for pk in group_pks
            )
            pk = self._next("user_pk")
            self.objects["users"][str(pk)] = {
                "pk": pk,
                "uuid": str(uuid.uuid4()),
                "username": username,
                "name": username,
                "email": email if email is not None else f"{username}@lab.invalid",
                "is_superuser": superuser,
                "type": "service_account" if service_account else "internal",
                "groups": group_pks,
                "password": _digest(password) if password else None,
            }
            self._changed("users")
            return pk

    def add_token(self, username: str, key: str) -> None:
        """An API token of ``username`` (as its user's "Tokens" page creates one)."""
        with self._lock:
            user = self.user_named(username)
            if user is None:
                raise EmulatorError(f"no user {username!r}")
            self.tokens[_digest(key)] = int(user["pk"])
            self._save()

    def user_named(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.objects["users"].values() if u["username"] == username), None)

    def stored(self, collection: str) -> list[dict[str, JSONValue]]:
        """A copy of the stored objects of one collection (e.g. "providers", "bindings")."""
        with self._lock:
            return copy.deepcopy(list(self.objects[collection].values()))

    def set_provider_field(self, client_id: str, name: str, value: JSONValue) -> None:
        """Change one provider field behind the API's back (an admin editing it in the UI)."""
        with self._lock:
            for provider in self.objects["providers"].values():
                if provider["client_id"] == client_id:
                    provider[name] = copy.deepcopy(value)
                    self._save()
                    return
            raise EmulatorError(f"no provider with client id {client_id!r}")

    # state -----------------------------------------------------------------------------------

    def _next(self, counter: str) -> int:
        start = {"provider_pk": 1, "group_num": 1000, "user_pk": 1}[counter]
        value = self._counters.get(counter, start)
        self._counters[counter] = value + 1
        return value

    def _changed(self, collection: str) -> None:
        if collection in _FLUSHES_APP_CACHE:
            self._app_cache.clear()
        self._save()

    def _reset_state(self) -> None:
        for name in _COLLECTIONS.values():
            self.objects[name] = {}
        self.tokens, self.sessions, self.codes, self.access_tokens = {}, {}, {}, {}
        self._counters = {}
        self._app_cache.clear()
        for collection, seeded in seeded_objects().items():
            self.objects[collection].update(seeded)
        # What a new Authentik has: akadmin, a superuser in "authentik Admins".
        superusers = str(uuid.uuid4())
        self.objects["groups"][superusers] = {
            "pk": superusers,
            "num_pk": self._next("group_num"),
            "name": SUPERUSER_GROUP,
            "is_superuser": True,
        }
        admin = self._next("user_pk")
        self.objects["users"][str(admin)] = {
            "pk": admin,
            "uuid": str(uuid.uuid4()),
            "username": ADMIN_USERNAME,
            "name": "authentik Default Admin",
            "email": "akadmin@lab.invalid",
            "is_superuser": True,
            "type": "internal",
            "groups": [superusers],
            "password": None,
        }
        self.tokens[_digest(self._admin_token)] = admin

    def _dump_state(self) -> dict[str, JSONValue]:
        return {
            "release": self.release,
            "objects": self.objects,
            "tokens": self.tokens,
            "sessions": self.sessions,
            "counters": self._counters,
        }

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        if state.get("release") != self.release:
            raise EmulatorError(
                f"this state is of Authentik {state.get('release')}, not {self.release}",
                path=str(self.state_file),
            )
        for collection in _COLLECTIONS.values():
            self.objects[collection] = dict(state["objects"].get(collection, {}))
        self.tokens = {str(k): int(v) for k, v in state.get("tokens", {}).items()}
        self.sessions = {str(k): int(v) for k, v in state.get("sessions", {}).items()}
        self._counters = {str(k): int(v) for k, v in state.get("counters", {}).items()}

    def passes(self, application: Mapping[str, Any], user: Mapping[str, Any]) -> bool:
        return passes(self.objects["bindings"].values(), application, user)

    # requests --------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if request.path.startswith(("/application/o/", "/if/flow/")):
            with self._lock:
                return authentik_oidc.handle(self, request)
        if not request.path.startswith(API_PREFIX + "/"):
            return _error(404, "Not found.")
        user = self._api_user(request)
        if isinstance(user, Response):
            return user
        route = _route(request.path[len(API_PREFIX) + 1 :])
        if route is None:
            return _error(404, "Not found.")
        with self._lock:
            if not user.get("is_superuser") and not (
                route.collection == "applications"
                and route.kind == "list"
                and request.method in ("GET", "HEAD")
            ):
                # RBAC (authentik/rbac): this emulator gives non-superusers no permissions.
                return _error(403, "You do not have permission to perform this action.")
            return self._dispatch(request, route, user)

    def _api_user(self, request: Request) -> dict[str, Any] | Response:
        """The token's user (authentik/api/authentication.py: 403 without a valid one)."""
        authorization = request.header("Authorization")
        if not authorization:
            return _error(403, "Authentication credentials were not provided.")
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return _error(403, "Unsupported authentication type")
        user_pk = self.tokens.get(_digest(presented.strip()))
        user = self.objects["users"].get(str(user_pk)) if user_pk is not None else None
        if user is None:
            return _error(403, "Token invalid/expired")
        return user

    def _dispatch(self, request: Request, route: _Route, user: Mapping[str, Any]) -> Response:
        method, collection = request.method, route.collection
        writable = collection in _WRITABLE
        if route.kind == "list":
            if method in ("GET", "HEAD"):
                if collection == "applications":
                    return self._application_list(request, user)
                return self._list(request, collection)
            if method == "POST" and writable:
                return self._write(request, collection, None)
        elif route.kind == "setup_urls":
            if method in ("GET", "HEAD"):
                return self._setup_urls(route.key or "")
        else:
            key = self._find_key(collection, route.key or "")
            if key is None:
                return _error(404, "No such object.")
            if method in ("GET", "HEAD"):
                return Response.of_json(200, self._render(collection, key))
            if method in ("PUT", "PATCH") and writable:
                return self._write(request, collection, key)
            if method == "DELETE" and writable:
                return self._delete(collection, key)
        return _error(405, f'Method "{method}" not allowed.')

    def _find_key(self, collection: str, key: str) -> str | None:
        objects = self.objects[collection]
        if collection == "applications":  # addressed by slug (lookup_field = "slug")
            return next((pk for pk, app in objects.items() if app["slug"] == key), None)
        if collection == "flows":  # addressed by slug too
            return next((pk for pk, flow in objects.items() if flow["slug"] == key), None)
        if collection in ("providers", "users"):
            return key if key.isdigit() and key in objects else None
        try:
            normalized = str(uuid.UUID(key))
        except ValueError:
            return None
        return normalized if normalized in objects else None

    def _render(self, collection: str, key: str) -> dict[str, JSONValue]:
        return self.renderer.render(collection, self.objects[collection][key])

    # lists -----------------------------------------------------------------------------------

    def _filtered(self, request: Request, collection: str) -> list[dict[str, Any]]:
        rows = list(self.objects[collection].values())
        for name in _FILTERS[collection]:
            values = request.query.get(name)
            if not values:
                continue
            if (collection, name) not in _MULTI_VALUE_FILTERS:
                values = values[:1]
            wanted = {_normalize_filter(value) for value in values}
            rows = [row for row in rows if _normalize_filter(row.get(name)) in wanted]
        return rows

    def _list(self, request: Request, collection: str) -> Response:
        rows = self._filtered(request, collection)
        page = _page(request, len(rows))
        if page is None:
            return _error(404, "Invalid page.")
        number, start, size = page
        keys = [str(row["pk"]) for row in rows[start : start + size]]
        return self._page_response(number, start, size, len(rows), collection, keys)

    def _page_response(
        self, number: int, start: int, size: int, count: int, collection: str, keys: list[str]
    ) -> Response:
        total_pages = max(1, math.ceil(count / size))
        envelope: dict[str, JSONValue] = {
            "pagination": {
                "next": number + 1 if number < total_pages else 0,
                "previous": number - 1 if number > 1 else 0,
                "count": count,
                "current": number,
                "total_pages": total_pages,
                "start_index": start + 1 if keys else 0,
                "end_index": start + len(keys),
            },
            "results": [self._render(collection, key) for key in keys],
        }
        if self.release >= "2025.8":  # authentik/enterprise/search/pagination.py
            envelope["autocomplete"] = {}
        return Response.of_json(200, envelope)

    def _application_list(self, request: Request, user: Mapping[str, Any]) -> Response:
        """authentik/core/api/applications.py `list`: policy-filtered per user and cached per
        (user, page) for 24 h when there is no `search`; `count` is taken before filtering."""
        rows = self._filtered(request, "applications")
        page = _page(request, len(rows))
        if page is None:
            return _error(404, "Invalid page.")
        number, start, size = page
        full = request.query_value("superuser_full_list") == "true" and user.get("is_superuser")
        shown = rows[start : start + size]
        if full:
            keys = [str(row["pk"]) for row in shown]
            return self._page_response(number, start, size, len(rows), "applications", keys)
        cache_key = (int(user["pk"]), number)
        cached = None if request.query_value("search") else self._app_cache.get(cache_key)
        if cached is None:
            cached = [str(row["pk"]) for row in shown if self.passes(row, user)]
            if cached and not request.query_value("search"):
                self._app_cache[cache_key] = cached  # an empty page is never cached
        keys = [key for key in cached if key in self.objects["applications"]]
        return self._page_response(number, start, size, len(rows), "applications", keys)

    # writes ----------------------------------------------------------------------------------

    def _write(self, request: Request, collection: str, key: str | None) -> Response:
        try:
            body = request.parsed_json() if request.body else {}
        except ValueError as error:
            return _error(400, f"JSON parse error - {error}")
        if not isinstance(body, dict):
            kind = type(body).__name__
            return Response.of_json(
                400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
            )
        partial = request.method == "PATCH"
        full_model, patch_model = _WRITABLE[collection]
        if self.validates_requests:
            errors = self.models.problems(patch_model if partial else full_model, body)
        else:  # DRF itself still refuses a create or PUT without a required field
            required = () if partial else self.models.required(full_model)
            errors = {name: ["This field is required."] for name in required if name not in body}
        if errors:
            return Response.of_json(400, errors)
        fields = {
            name: value
            for name, value in body.items()
            if name in self.models.properties(full_model)
        }
        current = self.objects[collection][key] if key is not None else None
        check: Callable[[Objects, Mapping[str, Any], str | None], FieldErrors] = {
            "providers": provider_errors,
            "applications": application_errors,
            "bindings": binding_errors,
        }[collection]
        merged = {**(current or {}), **fields}
        errors = check(self.objects, merged, key)
        if errors:
            return Response.of_json(400, errors)
        if key is None:
            key = self._create(collection, fields)
            status = 201
        else:
            self.objects[collection][key] = merged
            status = 200
        self._changed(collection)
        return Response.of_json(status, self._render(collection, key))

    def _create(self, collection: str, fields: dict[str, Any]) -> str:
        if collection == "providers":
            pk = self._next("provider_pk")
            key = str(pk)
            stored: dict[str, Any] = {
                **PROVIDER_DEFAULTS,
                "client_id": secrets.token_hex(20),
                "client_secret": secrets.token_urlsafe(96),
                **fields,
                "pk": pk,
            }
        elif collection == "applications":
            key = str(uuid.uuid4())
            stored = {**APPLICATION_DEFAULTS, **fields, "pk": key}
        else:
            key = str(uuid.uuid4())
            stored = {**BINDING_DEFAULTS, **fields, "pk": key}
        self.objects[collection][key] = stored
        return key

    def _delete(self, collection: str, key: str) -> Response:
        removed = self.objects[collection].pop(key)
        if collection == "providers":
            # Application.provider is SET_DEFAULT (null) when its provider goes.
            for application in self.objects["applications"].values():
                if application.get("provider") == removed["pk"]:
                    application["provider"] = None
        elif collection == "applications":
            # A binding cascades with the object it is bound to.
            bindings = self.objects["bindings"]
            for pk in [pk for pk, b in bindings.items() if b["target"] == removed["pk"]]:
                del bindings[pk]
        self._changed(collection)
        return Response(204)

    # OIDC pieces the API shows -----------------------------------------------------------------

    def application_of(self, provider_pk: JSONValue) -> dict[str, Any] | None:
        for application in self.objects["applications"].values():
            if application.get("provider") == provider_pk:
                return application
        return None

    def endpoints(self, slug: str | None) -> dict[str, str | None]:
        base = f"{self.url}/application/o"
        return {
            "issuer": self.issuer_for(slug) if slug else None,
            "authorize": f"{base}/authorize/",
            "token": f"{base}/token/",
            "user_info": f"{base}/userinfo/",
            "provider_info": f"{base}/{slug}/.well-known/openid-configuration" if slug else None,
            "logout": f"{base}/{slug}/end-session/" if slug else None,
            "jwks": f"{base}/{slug}/jwks/" if slug else None,
        }

    def _setup_urls(self, key: str) -> Response:
        """providers.py `setup_urls`: 404 for an unknown provider only; without an application
        the per-provider issuer and the application URLs are null."""
        provider = self.objects["providers"].get(key)
        if provider is None:
            return _error(404, "No such object.")
        application = self.application_of(provider["pk"])
        urls: dict[str, JSONValue] = dict(
            self.endpoints(application["slug"] if application else None)
        )
        if application is None:
            urls.pop("jwks")
        urls["dcr_registration"] = None
        fields = self.models.properties("OAuth2ProviderSetupURLs")
        return Response.of_json(200, {k: v for k, v in urls.items() if k in fields})


def _route(rest: str) -> _Route | None:
    """Map the part after /api/v3/ to a collection; Authentik's URLs end with a slash."""
    if not rest.endswith("/"):
        return None
    parts = rest[:-1].split("/")
    for size in (3, 2):
        collection = _COLLECTIONS.get("/".join(parts[:size]))
        if collection is None:
            continue
        tail = parts[size:]
        if not tail:
            return _Route("list", collection)
        if len(tail) == 1:
            return _Route("detail", collection, tail[0])
        if len(tail) == 2 and tail[1] == "setup_urls" and collection == "providers":
            return _Route("setup_urls", collection, tail[0])
        return None
    return None


def _page(request: Request, count: int) -> tuple[int, int, int] | None:
    """(page number, first index, page size), or None for a page that does not exist."""
    try:
        number = int(request.query_value("page") or 1)
        size = int(request.query_value("page_size") or _DEFAULT_PAGE_SIZE)
    except ValueError:
        return None
    total_pages = max(1, math.ceil(count / size)) if size > 0 else 1
    if number < 1 or number > total_pages or size < 1:
        return None
    return number, (number - 1) * size, size


def _error(status: int, detail: str) -> Response:
    # Plain DRF errors: {"detail": ...} and no "code" (authentik sets no exception handler).
    return Response.of_json(status, {"detail": detail})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _normalize_filter(value: JSONValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).lower()
