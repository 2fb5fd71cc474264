"""register-zot-oidc-client: zot as an OAuth2/OIDC client of Authentik.

Provider, application and the admins binding are found or created, and only what drifted is
PATCHed. The client secret is the configured one, or one generated once and kept only in
zot's credentials file (JSON ``{"clientid", "clientsecret"}``, mode 0600); it is never
printed. Output: ``issuer``, exactly as the discovery document names it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import _zot_chain as chain

from mikado.errors import ConfigError
from mikado.services.authentik import (
    AuthentikClient,
    OAuth2ProviderSpec,
    PlannedChange,
    RedirectURI,
)
from mikado.services.zot_config import credentials_file_text, write_credentials_file

SETTINGS = chain.settings_tables("authentik", "zot")
SUPPORTS_DRY_RUN = True
SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True, slots=True)
class _Wanted:
    """Everything the card wants, with every Authentik reference already looked up."""

    spec: OAuth2ProviderSpec
    group_pk: str
    secret_is_new: bool


def _stored_secret(zot: chain.ZotSettings, client_id: str) -> str | None:
    try:
        document = json.loads(zot.credentials_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"the OIDC credentials file is unreadable ({error}); remove it to have a new "
            "client secret generated, or fix it",
            path=str(zot.credentials_file),
        ) from None
    secret = document.get("clientsecret") if isinstance(document, dict) else None
    if not isinstance(secret, str) or not secret:
        return None
    if document.get("clientid") != client_id:
        return None  # another client's secret: this one gets its own
    return secret


def _secret(settings: chain.AuthentikSettings, zot: chain.ZotSettings) -> tuple[str, bool]:
    """(the client secret, whether it is new): configured, kept from before, or generated."""
    if settings.client_secret is not None:
        return settings.client_secret, False
    stored = _stored_secret(zot, settings.client_id)
    if stored is not None:
        return stored, False
    return secrets.token_urlsafe(48), True


def _wanted(
    client: AuthentikClient, settings: chain.AuthentikSettings, zot: chain.ZotSettings
) -> _Wanted:
    # Every look-up before any write: an unknown group or flow fails with nothing changed.
    group = client.group(settings.admins_group)
    authorization = client.flow(settings.authorization_flow)
    invalidation = client.flow(settings.invalidation_flow)
    key = client.signing_key(settings.signing_certificate)
    scopes = client.scope_mappings(SCOPES)
    secret, new = _secret(settings, zot)
    spec = OAuth2ProviderSpec(
        name=settings.provider_name,
        client_id=settings.client_id,
        client_secret=secret,
        redirect_uris=(RedirectURI(f"{zot.external_url}/zot/auth/callback/oidc"),),
        authorization_flow=authorization.pk,
        invalidation_flow=invalidation.pk,
        signing_key=key.pk,
        property_mappings=tuple(scopes[scope].pk for scope in SCOPES),
    )
    return _Wanted(spec, group.pk, new)


def _plans(
    client: AuthentikClient, settings: chain.AuthentikSettings, wanted: _Wanted
) -> list[PlannedChange]:
    provider = client.find_oauth2_provider(settings.client_id)
    application = client.find_application(settings.application_slug)
    return [
        client.plan_oauth2_provider(wanted.spec),
        client.plan_application(
            settings.application_slug,
            settings.application_name,
            provider.pk if provider is not None else None,
        ),
        client.plan_group_binding(
            application.pbm_uuid if application is not None else None, wanted.group_pk
        ),
    ]


def _state(ctx: Any) -> tuple[chain.AuthentikSettings, chain.ZotSettings, AuthentikClient]:
    settings = chain.authentik_settings(ctx)
    return settings, chain.zot_settings(ctx), chain.authentik(ctx, settings)


def _drift(ctx: Any) -> list[str]:
    """What differs from the card's wish, read-only; empty when everything holds."""
    settings, zot, client = _state(ctx)
    wanted = _wanted(client, settings, zot)
    problems = [plan.describe() for plan in _plans(client, settings, wanted) if plan.changes]
    text = credentials_file_text(settings.client_id, wanted.spec.client_secret)
    if not chain.private_file_holds(zot.credentials_file, text):
        problems.append(f"{zot.credentials_file} must hold the client id and secret, mode 0600")
    return problems


def check(ctx: Any) -> bool:
    return not _drift(ctx)


def apply(ctx: Any) -> dict[str, Any] | None:
    settings, zot, client = _state(ctx)
    wanted = _wanted(client, settings, zot)
    if ctx.dry_run:
        for plan in _plans(client, settings, wanted):
            print(plan.describe())
        text = credentials_file_text(settings.client_id, wanted.spec.client_secret)
        if not chain.private_file_holds(zot.credentials_file, text):
            origin = "a newly generated" if wanted.secret_is_new else "the"
            print(
                f"write {zot.credentials_file} (mode 0600) with client id "
                f"{settings.client_id!r} and {origin} client secret (not shown)"
            )
        return None
    provider, changed = client.ensure_oauth2_provider(wanted.spec)
    ctx.log.info(
        "oauth2 provider %s: %s", settings.client_id, "written" if changed else "as configured"
    )
    application, changed = client.ensure_application(
        settings.application_slug, settings.application_name, provider.pk
    )
    ctx.log.info("application %s: %s", application.slug, "written" if changed else "as configured")
    _, changed = client.ensure_group_binding(application.pbm_uuid, wanted.group_pk)
    ctx.log.info("binding of %s: %s", settings.admins_group, "created" if changed else "present")
    zot.credentials_file.parent.mkdir(parents=True, exist_ok=True)
    write_credentials_file(zot.credentials_file, settings.client_id, wanted.spec.client_secret)
    return {"issuer": settings.issuer, "client_id": settings.client_id}


def verify(ctx: Any) -> bool:
    problems = _drift(ctx)
    if problems:
        raise ConfigError("not as configured: " + "; ".join(problems))
    settings, _, client = _state(ctx)
    # Raises, naming both, when the discovered issuer differs in any character.
    client.discovery(settings.issuer)
    # A check that said "done" skips apply; record the output then, and only if it changed,
    # so a recheck writes nothing.
    for key, value in (("issuer", settings.issuer), ("client_id", settings.client_id)):
        if ctx.outputs.get(ctx.stem, key) != value:
            ctx.outputs.set(key, value)
    return True
