"""A client for the slice of Authentik's REST API v3 that registers zot as an OIDC client.

Every ``ensure_*`` is idempotent: it reads first, writes only what drifted, and a second
call makes no POST or PATCH. Each has a ``plan_*`` twin that reads the same way and says
what it would create or change without writing, for dry runs. The client secret is
compared like any other field but never shown: plans and errors name the field only.

It works with Authentik 2025.2 to 2026.8 (docs/lab.md lists what differs):

- an application is looked up by its slug (``GET core/applications/{slug}/``), never in the
  list, which Authentik filters by the policies of the token's user;
- a policy binding targets the application's ``pk``, which is its ``pbm_uuid`` in every
  release (2025.2 has no field of that name);
- ``grant_types`` (2026.5) is sent only to a server that shows it on the provider: older
  servers do not know the field;
- list fields an administrator may extend (redirect URIs, scope mappings, grant types) are
  merged with what is there, never replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import httpx

from mikado.errors import ServiceError
from mikado.services._http import ServiceTransport, describe_request
from mikado.services.authentik_objects import (
    DEFAULT_GRANT_TYPES,
    Application,
    CertificateKeyPair,
    Flow,
    Group,
    OAuth2Provider,
    OAuth2ProviderSpec,
    PlannedChange,
    PolicyBinding,
    RedirectURI,
    ScopeMapping,
    UnexpectedShape,
    User,
    application_from_json,
    binding_from_json,
    provider_drift,
    provider_from_json,
    uuid_text,
)

__all__ = [
    "DEFAULT_GRANT_TYPES",
    "Application",
    "AuthentikClient",
    "CertificateKeyPair",
    "Flow",
    "Group",
    "OAuth2Provider",
    "OAuth2ProviderSpec",
    "PlannedChange",
    "PolicyBinding",
    "RedirectURI",
    "ScopeMapping",
    "User",
]

SERVICE = "authentik"
API_PREFIX = "/api/v3"
SCOPE_MANAGED_PREFIX = "goauthentik.io/providers/oauth2/scope-"
_PAGE_SIZE = 100
_MAX_PAGES = 1000

_HINTS = {
    401: "check the API token and its permissions",
    403: "check the API token and its permissions",
}


def _authentik_detail(body: Any) -> str | None:
    """Authentik's own words: ``{"detail": ...}`` or DRF's ``{"field": ["msg"], ...}``."""
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    parts = []
    for name, messages in body.items():
        if isinstance(messages, list):
            text = "; ".join(str(message) for message in messages)
        elif isinstance(messages, dict):
            text = "; ".join(f"{key}: {value}" for key, value in messages.items())
        else:
            continue
        parts.append(text if name == "non_field_errors" else f"{name}: {text}")
    return "; ".join(parts) or None


# ---------------------------------------------------------------------------------------
# The client


class AuthentikClient:
    """Authentik REST API v3 for one server.

    ``base_url`` is the server (``https://auth.example``) or its API base
    (``https://auth.example/api/v3``); ``token`` is an API token, already resolved.
    """

    def __init__(self, http: httpx.Client, base_url: str, token: str) -> None:
        base = base_url.rstrip("/")
        if not base.endswith(API_PREFIX):
            base += API_PREFIX
        self._api = httpx.URL(base + "/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._transport = ServiceTransport(
            SERVICE, http, parse_detail=_authentik_detail, default_hints=_HINTS, secrets=(token,)
        )

    # plumbing -----------------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        return self._api.join(path.lstrip("/"))

    def _send(
        self,
        method: str,
        path: str,
        *,
        expected: Iterable[int],
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> Any:
        url = self._url(path)
        if params:
            url = url.copy_merge_params(dict(params))
        response = self._transport.send(
            method, url, expected=set(expected), headers=self._headers, json=body, hints=hints
        )
        if response.status_code == 404 and 404 in set(expected):
            return None
        return self._transport.json(response) if response.content else None

    def _list(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every result of a list endpoint, following Authentik's page numbers."""
        page = 1
        for _ in range(_MAX_PAGES):
            body = self._send(
                "GET",
                path,
                expected={200},
                params={**params, "page": page, "page_size": _PAGE_SIZE},
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise ServiceError(
                    SERVICE,
                    describe_request("GET", self._url(path).copy_merge_params(dict(params))),
                    "the answer is not an Authentik list ({pagination, results})",
                    status=200,
                    hint="is the base URL the Authentik server?",
                )
            yield from (item for item in body["results"] if isinstance(item, dict))
            following = (body.get("pagination") or {}).get("next") or 0
            if not isinstance(following, int) or following <= page:
                return
            page = following

    def _one(
        self, path: str, params: Mapping[str, Any], what: str, hint: str | None = None
    ) -> dict[str, Any]:
        """The single object a filter names; a missing one is reported as a 404.

        The filter is applied here too: a server that ignored it must not hand us the
        first object of an unfiltered list.
        """
        found = [
            item
            for item in self._list(path, params)
            if all(str(item.get(name)) == str(value) for name, value in params.items())
        ]
        request = describe_request("GET", self._url(path).copy_merge_params(dict(params)))
        if not found:
            raise ServiceError(SERVICE, request, f"no {what}", status=404, hint=hint)
        if len(found) > 1:
            raise ServiceError(
                SERVICE, request, f"{len(found)} objects match {what}; expected one", status=200
            )
        return found[0]

    # look-ups -----------------------------------------------------------------------------

    def flow(self, slug: str) -> Flow:
        """The flow with ``slug`` (e.g. ``default-provider-authorization-implicit-consent``)."""
        body = self._one(
            "flows/instances/",
            {"slug": slug},
            f"flow with slug {slug!r}",
            hint=f"create the flow {slug!r} in Authentik or configure another slug",
        )
        return Flow(str(uuid_text(body["pk"])), str(body["slug"]), str(body.get("name", "")))

    def signing_key(self, name: str) -> CertificateKeyPair:
        """The certificate-key pair called ``name``."""
        body = self._one(
            "crypto/certificatekeypairs/",
            {"name": name},
            f"certificate-key pair named {name!r}",
            hint="without a signing key tokens would be HS256-signed with the client secret",
        )
        return CertificateKeyPair(str(uuid_text(body["pk"])), str(body["name"]))

    def scope_mappings(self, scopes: Iterable[str]) -> dict[str, ScopeMapping]:
        """The managed scope mappings for ``scopes`` (``openid``, ``email``, ``profile``).

        A scope may be given by name or by its full managed identifier; the result is keyed
        the way it was asked for.
        """
        wanted = {
            scope: scope if scope.startswith(SCOPE_MANAGED_PREFIX) else SCOPE_MANAGED_PREFIX + scope
            for scope in scopes
        }
        found: dict[str, ScopeMapping] = {}
        for scope, managed in wanted.items():
            body = self._one(
                "propertymappings/provider/scope/",
                {"managed": managed},
                f"scope mapping managed as {managed!r}",
                hint="Authentik creates these itself; is this an Authentik OAuth2 install?",
            )
            found[scope] = ScopeMapping(
                str(uuid_text(body["pk"])),
                str(body.get("managed", managed)),
                str(body.get("scope_name", "")),
                str(body.get("name", "")),
            )
        return found

    def group(self, name: str) -> Group:
        """The group called ``name``."""
        body = self._one(
            "core/groups/",
            {"name": name},
            f"group named {name!r}",
            hint=f"create the group {name!r} in Authentik first",
        )
        return Group(str(uuid_text(body["pk"])), str(body["name"]))

    def find_oauth2_provider(self, client_id: str) -> OAuth2Provider | None:
        raw = self._find_provider_raw(client_id)
        return provider_from_json(raw) if raw else None

    def _find_provider_raw(self, client_id: str) -> dict[str, Any] | None:
        matches = [
            item
            for item in self._list("providers/oauth2/", {"client_id": client_id})
            if item.get("client_id") == client_id
        ]
        return matches[0] if matches else None

    def find_application(self, slug: str) -> Application | None:
        """The application ``slug``, by ``GET core/applications/{slug}/`` (404: none).

        Not from the list: Authentik filters it by the policies of the token's user, so once
        a group is bound the application vanishes from it for everyone outside the group,
        superusers included."""
        body = self._send(
            "GET",
            f"core/applications/{slug}/",
            expected={200, 404},
            hints={403: "the token's user needs permission to view applications (a superuser)"},
        )
        if not isinstance(body, dict) or body.get("slug") != slug:
            return None
        return application_from_json(body)

    def user(self, username: str) -> User:
        """The user called ``username``."""
        body = self._one(
            "core/users/",
            {"username": username},
            f"user named {username!r}",
            hint=f"create the user {username!r} in Authentik first",
        )
        return User(int(body["pk"]), str(body["username"]), str(body.get("email") or ""))

    def provider_secret(self, client_id: str) -> str | None:
        """The client secret Authentik holds for ``client_id``: None when there is no such
        provider or the server does not show secrets."""
        raw = self._find_provider_raw(client_id)
        secret = raw.get("client_secret") if raw else None
        return secret if isinstance(secret, str) and secret else None

    def provider_grant_types(self, client_id: str) -> frozenset[str] | None:
        """The grant types of provider ``client_id``; None when there is no such provider or
        the release shows no such field (before 2026.x every provider allows the code flow)."""
        raw = self._find_provider_raw(client_id)
        shown = raw.get("grant_types") if raw else None
        return frozenset(str(g) for g in shown) if isinstance(shown, list) else None

    def group_bindings(self, target: str) -> list[PolicyBinding]:
        """Every policy binding on ``target`` (an application's ``pbm_uuid``)."""
        return [
            binding_from_json(item)
            for item in self._list("policies/bindings/", {"target": target})
            if uuid_text(item.get("target")) == uuid_text(target)
        ]

    # OAuth2 provider ----------------------------------------------------------------------

    def _drift(self, spec: OAuth2ProviderSpec, current: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return provider_drift(spec, current)
        except UnexpectedShape as shape:
            request = describe_request(
                "GET",
                self._url("providers/oauth2/").copy_merge_params({"client_id": spec.client_id}),
            )
            raise ServiceError(
                SERVICE,
                request,
                f"the provider has no {', '.join(shape.missing)}: cannot tell whether it drifted",
                status=200,
                hint="this Authentik's API differs from the one mikado knows; check its version",
            ) from None

    def plan_oauth2_provider(self, spec: OAuth2ProviderSpec) -> PlannedChange:
        current = self._find_provider_raw(spec.client_id)
        if current is None:
            return PlannedChange("create", "oauth2 provider", spec.client_id)
        drift = self._drift(spec, current)
        action: Literal["update", "none"] = "update" if drift else "none"
        return PlannedChange(action, "oauth2 provider", spec.client_id, tuple(drift))

    def ensure_oauth2_provider(self, spec: OAuth2ProviderSpec) -> tuple[OAuth2Provider, bool]:
        """Create the provider for ``spec.client_id``, or PATCH only the fields that drifted.

        The create leaves out ``grant_types``; a server that then shows the field gets it in
        a PATCH (2026.5 and later default it to empty, which refuses the code flow)."""
        if spec.client_secret is not None:
            self._transport.add_secret(spec.client_secret)
        current = self._find_provider_raw(spec.client_id)
        created = current is None
        if current is None:
            current = self._send("POST", "providers/oauth2/", expected={201}, body=spec.to_json())
            if not isinstance(current, dict) or "grant_types" not in current:
                return provider_from_json(current), True
        drift = self._drift(spec, current)
        if not drift:
            return provider_from_json(current), created
        updated = self._send(
            "PATCH", f"providers/oauth2/{int(current['pk'])}/", expected={200}, body=drift
        )
        return provider_from_json(updated), True

    # application --------------------------------------------------------------------------

    def _application_drift(
        self, current: Application, name: str, provider_pk: int | None
    ) -> dict[str, Any]:
        drift: dict[str, Any] = {}
        if current.name != name:
            drift["name"] = name
        if provider_pk is not None and current.provider != provider_pk:
            drift["provider"] = provider_pk
        return drift

    def plan_application(self, slug: str, name: str, provider_pk: int | None) -> PlannedChange:
        """``provider_pk`` None means "the provider does not exist yet" (a dry run)."""
        current = self.find_application(slug)
        if current is None:
            return PlannedChange("create", "application", slug)
        drift = self._application_drift(current, name, provider_pk)
        if provider_pk is None:
            drift["provider"] = None
        action: Literal["update", "none"] = "update" if drift else "none"
        return PlannedChange(action, "application", slug, tuple(drift))

    def ensure_application(
        self, slug: str, name: str, provider_pk: int
    ) -> tuple[Application, bool]:
        """Create the application ``slug`` bound to the provider, or fix its name/provider."""
        current = self.find_application(slug)
        if current is None:
            created = self._send(
                "POST",
                "core/applications/",
                expected={201},
                body={"name": name, "slug": slug, "provider": provider_pk},
            )
            return application_from_json(created), True
        drift = self._application_drift(current, name, provider_pk)
        if not drift:
            return current, False
        updated = self._send("PATCH", f"core/applications/{slug}/", expected={200}, body=drift)
        return application_from_json(updated), True

    # group binding ------------------------------------------------------------------------

    def _binding_for(self, target: str, group_pk: str) -> PolicyBinding | None:
        # The list filters by target only; matching the group is ours to do.
        for binding in self.group_bindings(target):
            if binding.group == uuid_text(group_pk):
                return binding
        return None

    def plan_group_binding(
        self, target: str | None, group_pk: str, *, group_name: str | None = None
    ) -> PlannedChange:
        """``target`` None means "the application does not exist yet" (a dry run). The plan
        names the group by ``group_name`` when given: a person reads names, not UUIDs."""
        application = "the application" if target else "the new application"
        identifier = f"group {group_name or group_pk} on {application}"
        if target is None:
            return PlannedChange("create", "policy binding", identifier)
        binding = self._binding_for(target, group_pk)
        if binding is None:
            return PlannedChange("create", "policy binding", identifier)
        if not binding.enabled:
            return PlannedChange("update", "policy binding", identifier, ("enabled",))
        return PlannedChange("none", "policy binding", identifier)

    def ensure_group_binding(
        self, target: str, group_pk: str, *, order: int = 0
    ) -> tuple[PolicyBinding, bool]:
        """Bind the group to ``target`` (an application's ``pbm_uuid``) unless it already is."""
        binding = self._binding_for(target, group_pk)
        if binding is None:
            created = self._send(
                "POST",
                "policies/bindings/",
                expected={201},
                body={"target": target, "group": group_pk, "order": order, "enabled": True},
            )
            return binding_from_json(created), True
        if binding.enabled:
            return binding, False
        updated = self._send(
            "PATCH", f"policies/bindings/{binding.pk}/", expected={200}, body={"enabled": True}
        )
        return binding_from_json(updated), True

    # OIDC discovery -----------------------------------------------------------------------

    def discovery(self, issuer: str) -> dict[str, Any]:
        """The issuer's OpenID configuration, checked to name exactly ``issuer``.

        zot's OIDC library refuses an issuer that differs from the discovered one in any
        character (a trailing slash included), so a mismatch is an error here already.
        """
        url = httpx.URL(issuer.rstrip("/") + "/.well-known/openid-configuration")
        response = self._transport.send(
            "GET",
            url,
            expected={200},
            headers={"Accept": "application/json"},
            hints={404: "is an application bound to the provider, and is the slug right?"},
        )
        document = self._transport.json(response)
        if not isinstance(document, dict):
            raise ServiceError(
                SERVICE, describe_request("GET", url), "discovery document is not an object"
            )
        discovered = document.get("issuer")
        if discovered != issuer:
            raise ServiceError(
                SERVICE,
                describe_request("GET", url),
                f"discovery names issuer {discovered!r}, configured {issuer!r}",
                status=200,
                hint="use the discovered issuer exactly, trailing slash included",
            )
        return document
