"""The Authentik objects the zot chain manages, as the client reads them back from any
supported release, and the comparison that tells what drifted (:mod:`.authentik`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")


# ---------------------------------------------------------------------------------------
# What we manage


@dataclass(frozen=True, slots=True)
class Flow:
    pk: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class CertificateKeyPair:
    pk: str
    name: str


@dataclass(frozen=True, slots=True)
class ScopeMapping:
    pk: str
    managed: str
    scope_name: str
    name: str


@dataclass(frozen=True, slots=True)
class Group:
    pk: str
    name: str


@dataclass(frozen=True, slots=True)
class RedirectURI:
    url: str
    matching_mode: Literal["strict", "regex"] = "strict"

    def to_json(self) -> dict[str, str]:
        return {"matching_mode": self.matching_mode, "url": self.url}


@dataclass(frozen=True, slots=True)
class User:
    pk: int
    username: str
    email: str


@dataclass(frozen=True, slots=True)
class OAuth2ProviderSpec:
    """The OAuth2/OIDC provider we want. The secret is left out of ``repr``; ``None`` keeps
    whatever secret the provider has (Authentik generates one on create)."""

    name: str
    client_id: str
    client_secret: str | None = field(repr=False)
    redirect_uris: tuple[RedirectURI, ...]
    authorization_flow: str
    invalidation_flow: str
    signing_key: str | None
    property_mappings: tuple[str, ...]
    client_type: Literal["confidential", "public"] = "confidential"
    grant_types: tuple[str, ...] = DEFAULT_GRANT_TYPES
    sub_mode: str | None = None
    issuer_mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The create body; without ``grant_types``, which only some servers know."""
        body: dict[str, Any] = {
            "name": self.name,
            "client_type": self.client_type,
            "client_id": self.client_id,
            "redirect_uris": [uri.to_json() for uri in self.redirect_uris],
            "authorization_flow": self.authorization_flow,
            "invalidation_flow": self.invalidation_flow,
            "signing_key": self.signing_key,
            "property_mappings": list(self.property_mappings),
        }
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret
        if self.sub_mode is not None:
            body["sub_mode"] = self.sub_mode
        if self.issuer_mode is not None:
            body["issuer_mode"] = self.issuer_mode
        return body


@dataclass(frozen=True, slots=True)
class OAuth2Provider:
    """A provider as Authentik holds it (without its secret)."""

    pk: int
    name: str
    client_id: str
    client_type: str
    redirect_uris: tuple[RedirectURI, ...]
    authorization_flow: str
    invalidation_flow: str
    signing_key: str | None
    property_mappings: frozenset[str]
    grant_types: frozenset[str]
    assigned_application_slug: str | None


@dataclass(frozen=True, slots=True)
class Application:
    pk: str
    slug: str
    name: str
    provider: int | None
    pbm_uuid: str


@dataclass(frozen=True, slots=True)
class PolicyBinding:
    pk: str
    target: str
    group: str | None
    order: int
    enabled: bool


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """What an ``ensure_*`` would do: ``create``, ``update`` (``fields`` drifted) or nothing."""

    action: Literal["create", "update", "none"]
    kind: str
    identifier: str
    fields: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return self.action != "none"

    def describe(self) -> str:
        if self.action == "create":
            return f"create {self.kind} {self.identifier}"
        if self.action == "update":
            return f"update {self.kind} {self.identifier}: {', '.join(self.fields)}"
        return f"{self.kind} {self.identifier} is up to date"


# ---------------------------------------------------------------------------------------
# Normalising what the server returns, so comparisons see meaning, not spelling


def uuid_text(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def redirects(value: Any) -> tuple[RedirectURI, ...]:
    if isinstance(value, str):
        # Before 2024.10.3 Authentik kept one newline-separated string of strict URLs.
        return tuple(RedirectURI(line.strip()) for line in value.splitlines() if line.strip())
    entries: list[RedirectURI] = []
    for entry in value or []:
        if isinstance(entry, dict):
            regex = entry.get("matching_mode") == "regex"
            entries.append(RedirectURI(str(entry.get("url", "")), "regex" if regex else "strict"))
    return tuple(entries)


def provider_from_json(body: Mapping[str, Any]) -> OAuth2Provider:
    return OAuth2Provider(
        pk=int(body["pk"]),
        name=str(body.get("name", "")),
        client_id=str(body.get("client_id", "")),
        client_type=str(body.get("client_type", "")),
        redirect_uris=redirects(body.get("redirect_uris")),
        authorization_flow=str(uuid_text(body.get("authorization_flow"))),
        invalidation_flow=str(uuid_text(body.get("invalidation_flow"))),
        signing_key=uuid_text(body.get("signing_key")),
        property_mappings=frozenset(
            str(uuid_text(pk)) for pk in body.get("property_mappings") or []
        ),
        grant_types=frozenset(str(grant) for grant in body.get("grant_types") or []),
        assigned_application_slug=body.get("assigned_application_slug"),
    )


_PROVIDER_MANAGED_FIELDS = (
    "name",
    "client_type",
    "client_id",
    "redirect_uris",
    "authorization_flow",
    "invalidation_flow",
    "signing_key",
    "property_mappings",
)


def _merged(current: Iterable[Any], wanted: Iterable[Any]) -> list[Any]:
    """``current`` with what it lacks of ``wanted`` appended: an administrator's additions
    stay (a PATCH replaces a list field whole)."""
    merged = list(current)
    merged.extend(item for item in wanted if item not in merged)
    return merged


def provider_drift(spec: OAuth2ProviderSpec, current: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings ``current`` (raw JSON) to ``spec``; empty when it holds.

    A managed field the server does not return cannot be compared; treating it as drift
    would PATCH on every run, so it is an error. ``grant_types`` is managed where the server
    shows it (2026.5 and later), the secret where the spec names one.
    """
    missing = [name for name in _PROVIDER_MANAGED_FIELDS if name not in current]
    if spec.client_secret is not None and "client_secret" not in current:
        missing.append("client_secret")
    if missing:
        raise UnexpectedShape(missing)
    drift: dict[str, Any] = {}
    for name, want in (
        ("name", spec.name),
        ("client_type", spec.client_type),
        ("client_id", spec.client_id),
    ):
        if current.get(name) != want:
            drift[name] = want
    if spec.client_secret is not None and current.get("client_secret") != spec.client_secret:
        drift["client_secret"] = spec.client_secret
    for name, want_uuid in (
        ("authorization_flow", spec.authorization_flow),
        ("invalidation_flow", spec.invalidation_flow),
        ("signing_key", spec.signing_key),
    ):
        if uuid_text(current.get(name)) != uuid_text(want_uuid):
            drift[name] = want_uuid
    have_uris = redirects(current.get("redirect_uris"))
    if not set(spec.redirect_uris) <= set(have_uris):
        drift["redirect_uris"] = [u.to_json() for u in _merged(have_uris, spec.redirect_uris)]
    have_mappings = [str(uuid_text(pk)) for pk in current.get("property_mappings") or []]
    want_mappings = [str(uuid_text(pk)) for pk in spec.property_mappings]
    if not set(want_mappings) <= set(have_mappings):
        drift["property_mappings"] = _merged(have_mappings, want_mappings)
    if "grant_types" in current:
        have_grants = [str(grant) for grant in current.get("grant_types") or []]
        if not set(spec.grant_types) <= set(have_grants):
            drift["grant_types"] = _merged(have_grants, spec.grant_types)
    if spec.sub_mode is not None and current.get("sub_mode") != spec.sub_mode:
        drift["sub_mode"] = spec.sub_mode
    if spec.issuer_mode is not None and current.get("issuer_mode") != spec.issuer_mode:
        drift["issuer_mode"] = spec.issuer_mode
    return drift


class UnexpectedShape(Exception):
    """The server's provider lacks fields this client manages (turned into ServiceError)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


def application_from_json(body: Mapping[str, Any]) -> Application:
    provider = body.get("provider")
    return Application(
        pk=str(uuid_text(body["pk"])),
        slug=str(body["slug"]),
        name=str(body.get("name", "")),
        provider=int(provider) if provider is not None else None,
        # The binding target: the pk in every release (2026.8 also calls it pbm_uuid).
        pbm_uuid=str(uuid_text(body.get("pbm_uuid") or body["pk"])),
    )


def binding_from_json(body: Mapping[str, Any]) -> PolicyBinding:
    return PolicyBinding(
        pk=str(uuid_text(body["pk"])),
        target=str(uuid_text(body["target"])),
        group=uuid_text(body.get("group")),
        order=int(body.get("order", 0)),
        enabled=bool(body.get("enabled", True)),
    )
