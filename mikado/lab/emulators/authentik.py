"""An Authentik stand-in: the slice of REST API v3 that registers an OAuth2/OIDC client, plus the
per-application OIDC discovery document.

Every request body goes through the request model of the official `authentik-client` package
when it is installed (tests install it), so a client that sends what the real server would
refuse is refused here too. What the models cannot express (references to existing objects,
uniqueness, "exactly one of policy/group/user") is checked the way Authentik's serializers do.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import math
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mikado.lab.emulators._server import Emulator, EmulatorError, JSONValue, Request, Response

API_PREFIX = "/api/v3"
_NAMESPACE = uuid.UUID("6f1c1d5e-3b7e-4c1e-9f0e-6d2a3c4b5a69")  # makes seeded pks reproducible
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_DEFAULT_PAGE_SIZE = 100

FieldErrors = dict[str, list[str]]

AUTHORIZATION_FLOW_SLUG = "default-provider-authorization-implicit-consent"
INVALIDATION_FLOW_SLUG = "default-provider-invalidation-flow"
SIGNING_KEY_NAME = "authentik Self-signed Certificate"
SCOPE_MANAGED_PREFIX = "goauthentik.io/providers/oauth2/scope-"

# What a provider gets for each field the request leaves out (Authentik's model defaults).
_PROVIDER_DEFAULTS: dict[str, JSONValue] = {
    "authentication_flow": None,
    "property_mappings": [],
    "client_type": "confidential",
    "grant_types": [],
    "access_code_validity": "minutes=1",
    "access_token_validity": "hours=1",
    "refresh_token_validity": "days=30",
    "refresh_token_threshold": "seconds=0",
    "include_claims_in_id_token": True,
    "signing_key": None,
    "encryption_key": None,
    "logout_uri": "",
    "logout_method": "backchannel",
    "sub_mode": "hashed_user_id",
    "issuer_mode": "per_provider",
    "jwt_federation_sources": [],
    "jwt_federation_providers": [],
}
_PROVIDER_FIELDS = frozenset(
    {"name", "authorization_flow", "invalidation_flow", "redirect_uris", "client_id"}
    | {"client_secret"}
    | set(_PROVIDER_DEFAULTS)
)
_APPLICATION_DEFAULTS: dict[str, JSONValue] = {
    "provider": None,
    "backchannel_providers": [],
    "open_in_new_tab": False,
    "meta_launch_url": "",
    "meta_icon": None,
    "meta_description": "",
    "meta_publisher": "",
    "policy_engine_mode": "any",
    "group": "",
    "meta_hide": False,
}
_APPLICATION_FIELDS = frozenset({"name", "slug"} | set(_APPLICATION_DEFAULTS))
_BINDING_DEFAULTS: dict[str, JSONValue] = {
    "policy": None,
    "group": None,
    "user": None,
    "negate": False,
    "enabled": True,
    "timeout": 30,
    "failure_result": False,
}
_BINDING_FIELDS = frozenset({"target", "order"} | set(_BINDING_DEFAULTS))
_REQUIRED = {
    "OAuth2ProviderRequest": ("name", "authorization_flow", "invalidation_flow", "redirect_uris"),
    "ApplicationRequest": ("name", "slug"),
    "PolicyBindingRequest": ("target", "order"),
}


def _seeded_pk(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


@dataclass(frozen=True, slots=True)
class _Route:
    kind: str  # "list" or "detail" or "setup_urls"
    collection: str
    key: str | None = None


# The collections this emulator serves, by URL below /api/v3/.
_COLLECTIONS = {
    "flows/instances": "flows",
    "crypto/certificatekeypairs": "keypairs",
    "propertymappings/provider/scope": "scope_mappings",
    "core/groups": "groups",
    "providers/oauth2": "providers",
    "core/applications": "applications",
    "policies/bindings": "bindings",
}
_WRITABLE = {
    "providers": ("OAuth2ProviderRequest", "PatchedOAuth2ProviderRequest"),
    "applications": ("ApplicationRequest", "PatchedApplicationRequest"),
    "bindings": ("PolicyBindingRequest", "PatchedPolicyBindingRequest"),
}
# Query parameters each list understands; django-filter ignores any other, and so do we
# (that is why filtering bindings by `group` silently returns every binding of the target).
_FILTERS: dict[str, tuple[str, ...]] = {
    "flows": ("slug", "name", "designation"),
    "keypairs": ("name", "managed"),
    "scope_mappings": ("managed", "name", "scope_name"),
    "groups": ("name",),
    "providers": ("client_id", "name"),
    "applications": ("slug", "name"),
    "bindings": ("target", "enabled", "order"),
}
_MULTI_VALUE_FILTERS = frozenset({("scope_mappings", "managed")})


class AuthentikEmulator(Emulator):
    """Authentik REST v3 subset on 127.0.0.1; the API base is `url + "/api/v3"`.

    `token` is the only API token accepted (`Authorization: Bearer <token>`).
    `validate_requests`: None validates with `authentik-client` when it is importable,
    True requires it (raises EmulatorError at construction when missing), False never validates.
    """

    service = "authentik"

    def __init__(
        self,
        *,
        token: str,
        state_file: Path | None = None,
        port: int = 0,
        validate_requests: bool | None = None,
    ) -> None:
        super().__init__(state_file=state_file, port=port)
        self._token = token
        self._validates = validate_requests is not False and (
            importlib.util.find_spec("authentik_client") is not None
        )
        if validate_requests and not self._validates:
            raise EmulatorError("authentik-client is not installed; cannot validate requests")
        # Importing authentik-client takes seconds (thousands of models), so it happens once,
        # in the background from start(), not on the way to the first request.
        self._models: ModuleType | None = None
        self._models_lock = threading.Lock()
        self._objects: dict[str, dict[str, dict[str, JSONValue]]] = {}
        self._next_provider_pk = 1
        self._next_group_num = 1000

    @property
    def validates_requests(self) -> bool:
        return self._validates

    def start(self) -> None:
        super().start()
        if self._validates:
            threading.Thread(target=self._request_models, daemon=True).start()

    def _request_models(self) -> ModuleType | None:
        if not self._validates:
            return None
        with self._models_lock:
            if self._models is None:
                self._models = importlib.import_module("authentik_client.models")
            return self._models

    def warm_up(self) -> None:
        """Load the request models now rather than on the first write, which would otherwise
        wait seconds for them (the lab does this before a chain runs, so the run's own time
        is the chain's)."""
        self._request_models()

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def issuer_for(self, slug: str) -> str:
        return f"{self.url}/application/o/{slug}/"

    # helpers for tests and the lab -----------------------------------------------------------

    def add_group(self, name: str) -> str:
        """Create a group (Authentik's admin would); returns its pk. Idempotent by name."""
        with self._lock:
            for group in self._objects["groups"].values():
                if group["name"] == name:
                    return str(group["pk"])
            pk = str(uuid.uuid4())
            self._objects["groups"][pk] = {
                "pk": pk,
                "num_pk": self._next_group_num,
                "name": name,
            }
            self._next_group_num += 1
            self._save()
            return pk

    def objects(self, collection: str) -> list[dict[str, JSONValue]]:
        """A copy of the stored objects of one collection (e.g. "providers", "bindings")."""
        with self._lock:
            return copy.deepcopy(list(self._objects[collection].values()))

    # state -----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._objects = {name: {} for name in _COLLECTIONS.values()}
        self._next_provider_pk = 1
        self._next_group_num = 1000
        for slug, designation in (
            (AUTHORIZATION_FLOW_SLUG, "authorization"),
            (INVALIDATION_FLOW_SLUG, "invalidation"),
        ):
            pk = _seeded_pk("flow", slug)
            self._objects["flows"][pk] = {
                "pk": pk,
                "slug": slug,
                "name": slug.replace("-", " ").title(),
                "designation": designation,
            }
        key_pk = _seeded_pk("keypair", SIGNING_KEY_NAME)
        self._objects["keypairs"][key_pk] = {
            "pk": key_pk,
            "name": SIGNING_KEY_NAME,
            "managed": "goauthentik.io/crypto/certificate/self-signed",
        }
        for scope in ("openid", "email", "profile"):
            managed = SCOPE_MANAGED_PREFIX + scope
            pk = _seeded_pk("scope", managed)
            self._objects["scope_mappings"][pk] = {
                "pk": pk,
                "managed": managed,
                "name": f"authentik default OAuth Mapping: OpenID '{scope}'",
                "scope_name": scope,
            }

    def _dump_state(self) -> dict[str, JSONValue]:
        return {
            "objects": self._objects,
            "next_provider_pk": self._next_provider_pk,
            "next_group_num": self._next_group_num,
        }

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        objects = state["objects"]
        for collection in _COLLECTIONS.values():
            self._objects[collection] = dict(objects.get(collection, {}))
        self._next_provider_pk = int(state["next_provider_pk"])
        self._next_group_num = int(state["next_group_num"])

    # requests --------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/application/o/"):
            return self._discovery(request)
        if not request.path.startswith(API_PREFIX + "/"):
            return _error(404, "Not found.", "not_found")
        authorization = request.header("Authorization")
        if not authorization:
            return _error(403, "Authentication credentials were not provided.", "not_authenticated")
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            presented.strip().encode(), self._token.encode()
        ):
            return _error(403, "Token invalid/expired", "authentication_failed")
        route = _route(request.path[len(API_PREFIX) + 1 :])
        if route is None:
            return _error(404, "Not found.", "not_found")
        with self._lock:
            return self._dispatch(request, route)

    def _dispatch(self, request: Request, route: _Route) -> Response:
        method = request.method
        collection = route.collection
        writable = collection in _WRITABLE
        if route.kind == "list":
            if method in ("GET", "HEAD"):
                return self._list(request, collection)
            if method == "POST" and writable:
                return self._write(request, collection, None)
        elif route.kind == "setup_urls":
            if method in ("GET", "HEAD"):
                return self._setup_urls(route.key or "")
        else:
            key = self._find_key(collection, route.key or "")
            if key is None:
                return _error(404, "Not found.", "not_found")
            if method in ("GET", "HEAD"):
                return Response.of_json(200, self._render(collection, key))
            if method in ("PUT", "PATCH") and writable:
                return self._write(request, collection, key)
            if method == "DELETE" and writable:
                return self._delete(collection, key)
        return _error(405, f'Method "{method}" not allowed.', "method_not_allowed")

    def _find_key(self, collection: str, key: str) -> str | None:
        objects = self._objects[collection]
        if collection == "applications":
            # Authentik addresses applications by slug, not by pk.
            for pk, application in objects.items():
                if application["slug"] == key:
                    return pk
            return None
        if collection == "providers":
            return key if key.isdigit() and key in objects else None
        try:
            normalized = str(uuid.UUID(key))
        except ValueError:
            return None
        return normalized if normalized in objects else None

    # lists -----------------------------------------------------------------------------------

    def _list(self, request: Request, collection: str) -> Response:
        rows = list(self._objects[collection].values())
        for name in _FILTERS[collection]:
            values = request.query.get(name)
            if not values:
                continue
            if (collection, name) not in _MULTI_VALUE_FILTERS:
                values = values[:1]
            wanted = {_normalize_filter(value) for value in values}
            rows = [row for row in rows if _normalize_filter(row.get(name)) in wanted]
        try:
            page = int(request.query_value("page") or 1)
            page_size = int(request.query_value("page_size") or _DEFAULT_PAGE_SIZE)
        except ValueError:
            return _error(404, "Invalid page.", "not_found")
        count = len(rows)
        total_pages = max(1, math.ceil(count / page_size)) if page_size > 0 else 1
        if page < 1 or page > total_pages or page_size < 1:
            return _error(404, "Invalid page.", "not_found")
        start = (page - 1) * page_size
        shown = rows[start : start + page_size]
        keys = [str(row["pk"]) for row in shown]
        pagination = {
            "next": page + 1 if page < total_pages else 0,
            "previous": page - 1 if page > 1 else 0,
            "count": count,
            "current": page,
            "total_pages": total_pages,
            "start_index": start + 1 if shown else 0,
            "end_index": start + len(shown),
        }
        results = [self._render(collection, key) for key in keys]
        return Response.of_json(
            200, {"pagination": pagination, "results": results, "autocomplete": {}}
        )

    # writes ----------------------------------------------------------------------------------

    def _write(self, request: Request, collection: str, key: str | None) -> Response:
        try:
            body = request.parsed_json() if request.body else {}
        except ValueError as error:
            return _error(400, f"JSON parse error - {error}", "parse_error")
        if not isinstance(body, dict):
            kind = type(body).__name__
            return Response.of_json(
                400,
                {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]},
            )
        partial = request.method == "PATCH"
        full_model, patch_model = _WRITABLE[collection]
        errors, fields = self._validate_schema(patch_model if partial else full_model, body)
        if errors:
            return Response.of_json(400, errors)
        current = self._objects[collection][key] if key is not None else None
        check: Callable[[dict[str, JSONValue], str | None], FieldErrors] = {
            "providers": self._check_provider,
            "applications": self._check_application,
            "bindings": self._check_binding,
        }[collection]
        merged = {**(current or {}), **fields}
        errors = check(merged, key)
        if errors:
            return Response.of_json(400, errors)
        if key is None:
            key = self._create(collection, fields)
            status = 201
        else:
            self._objects[collection][key] = merged
            status = 200
        self._save()
        return Response.of_json(status, self._render(collection, key))

    def _validate_schema(
        self, model_name: str, body: dict[str, JSONValue]
    ) -> tuple[dict[str, JSONValue], dict[str, JSONValue]]:
        """Field errors, or the body's fields in canonical form (uuids lower-case, enums str)."""
        allowed = {
            "OAuth2ProviderRequest": _PROVIDER_FIELDS,
            "PatchedOAuth2ProviderRequest": _PROVIDER_FIELDS,
            "ApplicationRequest": _APPLICATION_FIELDS,
            "PatchedApplicationRequest": _APPLICATION_FIELDS,
            "PolicyBindingRequest": _BINDING_FIELDS,
            "PatchedPolicyBindingRequest": _BINDING_FIELDS,
        }[model_name]
        models = self._request_models()
        if models is None:
            # Without the models only presence can be checked; types are the client's risk.
            missing = [name for name in _REQUIRED.get(model_name, ()) if name not in body]
            if missing:
                return {name: ["This field is required."] for name in missing}, {}
            return {}, {name: value for name, value in body.items() if name in allowed}
        model = getattr(models, model_name)
        validation_error: type[Exception] = importlib.import_module("pydantic").ValidationError
        try:
            instance = model.model_validate(body)
        except validation_error as error:
            return _field_errors(error), {}
        dumped: dict[str, JSONValue] = instance.model_dump(mode="json", exclude_unset=True)
        return {}, {name: value for name, value in dumped.items() if name in allowed}

    def _create(self, collection: str, fields: dict[str, JSONValue]) -> str:
        if collection == "providers":
            key = str(self._next_provider_pk)
            self._next_provider_pk += 1
            stored: dict[str, JSONValue] = {
                **_PROVIDER_DEFAULTS,
                "client_id": secrets.token_hex(20),
                "client_secret": secrets.token_urlsafe(96),
                **fields,
                "pk": int(key),
            }
        elif collection == "applications":
            key = str(uuid.uuid4())
            stored = {
                **_APPLICATION_DEFAULTS,
                **fields,
                "pk": key,
                "pbm_uuid": str(uuid.uuid4()),
            }
        else:
            key = str(uuid.uuid4())
            stored = {**_BINDING_DEFAULTS, **fields, "pk": key}
        self._objects[collection][key] = stored
        return key

    def _delete(self, collection: str, key: str) -> Response:
        removed = self._objects[collection].pop(key)
        if collection == "providers":
            # Application.provider is SET_DEFAULT (null) when its provider goes.
            for application in self._objects["applications"].values():
                if application.get("provider") == removed["pk"]:
                    application["provider"] = None
        elif collection == "applications":
            # A binding cascades with the object it is bound to.
            bindings = self._objects["bindings"]
            for pk in [pk for pk, b in bindings.items() if b["target"] == removed["pbm_uuid"]]:
                del bindings[pk]
        self._save()
        return Response(204)

    # serializer-level checks -----------------------------------------------------------------

    def _check_provider(self, provider: dict[str, JSONValue], key: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        for name in ("authorization_flow", "invalidation_flow", "authentication_flow"):
            _check_reference(errors, name, provider.get(name), self._objects["flows"])
        for name in ("signing_key", "encryption_key"):
            _check_reference(errors, name, provider.get(name), self._objects["keypairs"])
        for mapping in _as_list(provider.get("property_mappings")):
            _check_reference(errors, "property_mappings", mapping, self._objects["scope_mappings"])
        for other_key, other in self._objects["providers"].items():
            if other_key == key:
                continue
            if other["name"] == provider.get("name"):
                errors.setdefault("name", []).append("provider with this name already exists.")
            if "client_id" in provider and other["client_id"] == provider["client_id"]:
                errors.setdefault("client_id", []).append(
                    "OAuth2/OpenID Provider with this Client ID already exists."
                )
        for redirect in _as_list(provider.get("redirect_uris")):
            if isinstance(redirect, dict) and redirect.get("matching_mode") == "regex":
                try:
                    re.compile(str(redirect.get("url", "")))
                except re.error:
                    errors.setdefault("redirect_uris", []).append("Invalid regex.")
        return errors

    def _check_application(self, application: dict[str, JSONValue], key: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        slug = str(application.get("slug", ""))
        if not _SLUG.match(slug):
            errors["slug"] = [
                "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."
            ]
        provider = application.get("provider")
        if provider is not None and str(provider) not in self._objects["providers"]:
            errors["provider"] = [f'Invalid pk "{provider}" - object does not exist.']
        for other_key, other in self._objects["applications"].items():
            if other_key == key:
                continue
            if other["slug"] == slug:
                errors.setdefault("slug", []).append("application with this slug already exists.")
            if provider is not None and other.get("provider") == provider:
                errors.setdefault("provider", []).append(
                    "application with this provider already exists."
                )
        return errors

    def _check_binding(self, binding: dict[str, JSONValue], key: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        target = binding.get("target")
        if str(target) not in self._binding_targets():
            errors["target"] = [f'Invalid pk "{target}" - object does not exist.']
        _check_reference(errors, "group", binding.get("group"), self._objects["groups"])
        for name in ("policy", "user"):
            value = binding.get(name)
            if value is not None:  # the emulator has no policies and no users
                errors[name] = [f'Invalid pk "{value}" - object does not exist.']
        chosen = [name for name in ("policy", "group", "user") if binding.get(name) is not None]
        if len(chosen) != 1:
            errors.setdefault("non_field_errors", []).append(
                "Only one of 'policy', 'group' or 'user' can be set."
            )
        return errors

    def _binding_targets(self) -> set[str]:
        targets = {str(app["pbm_uuid"]) for app in self._objects["applications"].values()}
        return targets | set(self._objects["flows"])

    # rendering -------------------------------------------------------------------------------

    def _render(self, collection: str, key: str) -> dict[str, JSONValue]:
        stored = self._objects[collection][key]
        render = {
            "flows": self._render_flow,
            "keypairs": self._render_keypair,
            "scope_mappings": self._render_scope_mapping,
            "groups": self._render_group,
            "providers": self._render_provider,
            "applications": self._render_application,
            "bindings": self._render_binding,
        }[collection]
        return render(stored)

    def _render_flow(self, flow: dict[str, JSONValue]) -> dict[str, JSONValue]:
        return {
            "pk": flow["pk"],
            "policybindingmodel_ptr_id": flow["pk"],
            "name": flow["name"],
            "slug": flow["slug"],
            "title": flow["name"],
            "designation": flow["designation"],
            "background": "",
            "background_url": "/static/dist/assets/images/flow_background.jpg",
            "background_themed_urls": None,
            "stages": [],
            "policies": [],
            "cache_count": 0,
            "policy_engine_mode": "any",
            "compatibility_mode": False,
            "export_url": f"{API_PREFIX}/flows/instances/{flow['slug']}/export/",
            "layout": "stacked",
            "denied_action": "message_continue",
            "authentication": "none",
        }

    def _render_keypair(self, keypair: dict[str, JSONValue]) -> dict[str, JSONValue]:
        digest = hashlib.sha256(str(keypair["pk"]).encode()).hexdigest()
        return {
            "pk": keypair["pk"],
            "name": keypair["name"],
            "fingerprint_sha256": digest,
            "fingerprint_sha1": digest[:40],
            "cert_expiry": "2036-01-01T00:00:00Z",
            "cert_subject": "CN=authentik Self-signed Certificate",
            "private_key_available": True,
            "key_type": "rsa",
            "certificate_download_url": (
                f"{API_PREFIX}/crypto/certificatekeypairs/{keypair['pk']}/view_certificate/"
                "?download"
            ),
            "private_key_download_url": (
                f"{API_PREFIX}/crypto/certificatekeypairs/{keypair['pk']}/view_private_key/"
                "?download"
            ),
            "managed": keypair["managed"],
        }

    def _render_scope_mapping(self, mapping: dict[str, JSONValue]) -> dict[str, JSONValue]:
        return {
            "pk": mapping["pk"],
            "managed": mapping["managed"],
            "name": mapping["name"],
            "expression": "return {}",
            "component": "ak-property-mapping-provider-scope-form",
            "verbose_name": "Scope Mapping",
            "verbose_name_plural": "Scope Mappings",
            "meta_model_name": "authentik_providers_oauth2.scopemapping",
            "scope_name": mapping["scope_name"],
            "description": "",
        }

    def _render_group(self, group: dict[str, JSONValue]) -> dict[str, JSONValue]:
        return {
            "pk": group["pk"],
            "num_pk": group["num_pk"],
            "name": group["name"],
            "is_superuser": False,
            "parents": [],
            "parents_obj": None,
            "users": [],
            "users_obj": None,
            "attributes": {},
            "roles": [],
            "roles_obj": [],
            "inherited_roles_obj": None,
            "children": [],
            "children_obj": None,
        }

    def _application_of(self, provider_pk: JSONValue) -> dict[str, JSONValue] | None:
        for application in self._objects["applications"].values():
            if application.get("provider") == provider_pk:
                return application
        return None

    def _render_provider_summary(self, provider: dict[str, JSONValue]) -> dict[str, JSONValue]:
        application = self._application_of(provider["pk"])
        return {
            "pk": provider["pk"],
            "name": provider["name"],
            "authentication_flow": provider.get("authentication_flow"),
            "authorization_flow": provider["authorization_flow"],
            "invalidation_flow": provider["invalidation_flow"],
            "property_mappings": provider.get("property_mappings", []),
            "component": "ak-provider-oauth2-form",
            "assigned_application_slug": application["slug"] if application else None,
            "assigned_application_name": application["name"] if application else None,
            "assigned_backchannel_application_slug": None,
            "assigned_backchannel_application_name": None,
            "verbose_name": "OAuth2/OpenID Provider",
            "verbose_name_plural": "OAuth2/OpenID Providers",
            "meta_model_name": "authentik_providers_oauth2.oauth2provider",
        }

    def _render_provider(self, provider: dict[str, JSONValue]) -> dict[str, JSONValue]:
        rendered = self._render_provider_summary(provider)
        for name in (*_PROVIDER_DEFAULTS, "client_id", "client_secret"):
            rendered[name] = provider.get(name, _PROVIDER_DEFAULTS.get(name))
        rendered["redirect_uris"] = provider["redirect_uris"]
        return rendered

    def _render_application(self, application: dict[str, JSONValue]) -> dict[str, JSONValue]:
        provider_pk = application.get("provider")
        provider = (
            self._objects["providers"].get(str(provider_pk)) if provider_pk is not None else None
        )
        rendered = {
            name: application.get(name, default) for name, default in _APPLICATION_DEFAULTS.items()
        }
        rendered.update(
            {
                "pk": application["pk"],
                "pbm_uuid": application["pbm_uuid"],
                "name": application["name"],
                "slug": application["slug"],
                "provider_obj": self._render_provider_summary(provider) if provider else None,
                "backchannel_providers_obj": [],
                "launch_url": application.get("meta_launch_url") or None,
                "meta_icon_url": None,
                "meta_icon_themed_urls": None,
            }
        )
        return rendered

    def _render_binding(self, binding: dict[str, JSONValue]) -> dict[str, JSONValue]:
        group = self._objects["groups"].get(str(binding.get("group")))
        rendered = {name: binding.get(name, default) for name, default in _BINDING_DEFAULTS.items()}
        rendered.update(
            {
                "pk": binding["pk"],
                "target": binding["target"],
                "order": binding["order"],
                "policy_obj": None,
                "group_obj": (
                    {
                        "pk": group["pk"],
                        "num_pk": group["num_pk"],
                        "name": group["name"],
                        "is_superuser": False,
                        "attributes": {},
                    }
                    if group
                    else None
                ),
                "user_obj": None,
                "expires": None,
                "expiring": False,
            }
        )
        return rendered

    # OIDC ------------------------------------------------------------------------------------

    def _bound_provider(self, slug: str) -> dict[str, JSONValue] | None:
        for application in self._objects["applications"].values():
            if application["slug"] == slug and application.get("provider") is not None:
                return self._objects["providers"].get(str(application["provider"]))
        return None

    def _endpoints(self, slug: str) -> dict[str, str]:
        base = f"{self.url}/application/o"
        return {
            "issuer": self.issuer_for(slug),
            "authorize": f"{base}/authorize/",
            "token": f"{base}/token/",
            "user_info": f"{base}/userinfo/",
            "provider_info": f"{base}/{slug}/.well-known/openid-configuration",
            "logout": f"{base}/{slug}/end-session/",
            "jwks": f"{base}/{slug}/jwks/",
        }

    def _setup_urls(self, key: str) -> Response:
        provider = self._objects["providers"].get(key)
        application = self._application_of(provider["pk"]) if provider else None
        if provider is None or application is None:
            return _error(404, "Not found.", "not_found")
        return Response.of_json(
            200, {**self._endpoints(str(application["slug"])), "dcr_registration": None}
        )

    def _discovery(self, request: Request) -> Response:
        match = re.fullmatch(
            r"/application/o/([^/]+)/\.well-known/openid-configuration", request.path
        )
        if match is None or request.method not in ("GET", "HEAD"):
            return _error(404, "Not found.", "not_found")
        slug = match.group(1)
        with self._lock:
            provider = self._bound_provider(slug)
            if provider is None:
                return _error(404, "Not found.", "not_found")
            scopes = sorted(
                str(self._objects["scope_mappings"][str(pk)]["scope_name"])
                for pk in _as_list(provider.get("property_mappings"))
                if str(pk) in self._objects["scope_mappings"]
            )
            endpoints = self._endpoints(slug)
            algorithm = "RS256" if provider.get("signing_key") else "HS256"
            document = {
                "issuer": endpoints["issuer"],
                "authorization_endpoint": endpoints["authorize"],
                "token_endpoint": endpoints["token"],
                "userinfo_endpoint": endpoints["user_info"],
                "end_session_endpoint": endpoints["logout"],
                "jwks_uri": endpoints["jwks"],
                "response_types_supported": ["code", "id_token", "id_token token", "code token"],
                "grant_types_supported": list(_as_list(provider.get("grant_types"))),
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [algorithm],
                "scopes_supported": scopes,
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "email",
                    "preferred_username",
                    "groups",
                ],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
            }
        return Response.of_json(200, document)


def _route(rest: str) -> _Route | None:
    """Map the part after /api/v3/ to a collection; Authentik's URLs end with a slash."""
    if not rest.endswith("/"):
        return None
    parts = rest[:-1].split("/")
    for size in (3, 2):
        prefix = "/".join(parts[:size])
        collection = _COLLECTIONS.get(prefix)
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


def _error(status: int, detail: str, code: str) -> Response:
    return Response.of_json(status, {"detail": detail, "code": code})


def _normalize_filter(value: JSONValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).lower()


def _as_list(value: JSONValue) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _check_reference(
    errors: FieldErrors, name: str, value: JSONValue, objects: Mapping[str, object]
) -> None:
    if value is not None and str(value) not in objects:
        errors.setdefault(name, []).append(f'Invalid pk "{value}" - object does not exist.')


def _field_errors(error: Any) -> dict[str, JSONValue]:
    """A pydantic ValidationError in Django REST framework's shape: field → messages."""
    errors: dict[str, list[str]] = {}
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ())]
        field = location[0] if location else "non_field_errors"
        if problem.get("type") == "missing" and len(location) == 1:
            message = "This field is required."
        else:
            where = ".".join(location[1:])
            message = f"{where}: {problem['msg']}" if where else str(problem["msg"])
        errors.setdefault(field, []).append(message)
    return dict(errors)
