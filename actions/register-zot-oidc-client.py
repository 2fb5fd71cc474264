"""register-zot-oidc-client: zot as an OAuth2/OIDC client of Authentik, its secret where zot
reads it.

Provider, application and two group bindings (admins, and the CI group whose service account
must log in once to mint its zot API key) are found or created, and only what drifted is
PATCHed; list fields an admin extended are merged, not replaced. The client secret is never
changed unasked: it is the configured one ([authentik] client_secret; one that differs from
the secret Authentik holds is a stop, unless [authentik] rotate_secret = true), else the one
Authentik holds, else (a new provider) the one the credentials file keeps or a new one. It is
written to zot's credentials file (JSON ``{"clientid", "clientsecret"}``, mode 0600), copied
to the zot host by [zot] credentials_deploy_command, and the copy zot reads is verified. It is
never printed. Outputs: ``issuer``, exactly as discovery names it, and ``client_id``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _repo_authentik
import _zot_chain as chain

from mikado.errors import ConfigError, MikadoError
from mikado.services.authentik import (
    AuthentikClient,
    OAuth2ProviderSpec,
    PlannedChange,
    RedirectURI,
)
from mikado.services.zot_config import credentials_file_text, write_credentials_file

SETTINGS = chain.settings_tables("authentik", "zot", "ci")
SUPPORTS_DRY_RUN = True
SCOPES = ("openid", "email", "profile")
ADMINS_ORDER, CI_ORDER = 0, 1  # the bindings' orders, as the seed's blueprint has them


@dataclass(frozen=True, slots=True)
class _Wanted:
    """Everything the card wants, with every Authentik reference already looked up."""

    spec: OAuth2ProviderSpec
    secret: str  # what zot's credentials file must hold
    secret_origin: str  # configured, Authentik's, kept from the credentials file, generated
    group_pks: tuple[tuple[str, str, int], ...]  # (group name, pk, binding order)


def _stored_secret(zot: chain.ZotSettings, client_id: str) -> str | None:
    try:
        document = json.loads(zot.api_credentials_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("clientid") != client_id:
        return None  # another client's secret (or none): this one gets its own
    secret = document.get("clientsecret")
    return secret if isinstance(secret, str) and secret else None


def _secret(
    client: AuthentikClient, settings: chain.AuthentikSettings, zot: chain.ZotSettings
) -> tuple[str, str, bool]:
    """(the secret, where it comes from, whether the provider must be given it)."""
    held = client.provider_secret(settings.client_id)
    exists = held is not None or client.find_oauth2_provider(settings.client_id) is not None
    configured = settings.client_secret
    if configured is not None:
        if not exists or configured == held:
            return configured, "configured", not exists
        if settings.rotate_secret:
            return configured, "configured (rotated in Authentik)", True
        if held is None:
            # Authentik hides it: trust the configured one rather than overwrite blindly.
            return configured, "configured", False
        raise ConfigError(
            f"[authentik] client_secret differs from the secret Authentik holds for the "
            f"provider {settings.client_id!r}; configure the secret Authentik holds, or set "
            "[authentik] rotate_secret = true to replace it there (every other holder of the "
            "old secret then needs the new one)"
        )
    if held is not None:
        return held, "held by Authentik", False
    if exists:
        raise ConfigError(
            f"the OAuth2 provider {settings.client_id!r} exists in Authentik, but Authentik "
            "does not show its client secret to this token: give zot's secret to mikado as "
            '[authentik] client_secret = "env:NAME" (or "file:PATH")'
        )
    stored = _stored_secret(zot, settings.client_id)
    if stored is not None:
        return stored, "kept from the credentials file", True
    return secrets.token_urlsafe(48), "newly generated", True


def _wanted(
    client: AuthentikClient, settings: chain.AuthentikSettings, zot: chain.ZotSettings
) -> _Wanted:
    # Every look-up before any write: an unknown group or flow fails with nothing changed.
    groups = tuple(
        (name, client.group(name).pk, order)
        for name, order in ((settings.admins_group, ADMINS_ORDER), (zot.ci_group, CI_ORDER))
    )
    authorization = client.flow(settings.authorization_flow)
    invalidation = client.flow(settings.invalidation_flow)
    key = client.signing_key(settings.signing_certificate)
    scopes = client.scope_mappings(SCOPES)
    secret, origin, give = _secret(client, settings, zot)
    spec = OAuth2ProviderSpec(
        name=settings.provider_name,
        client_id=settings.client_id,
        client_secret=secret if give else None,
        redirect_uris=(RedirectURI(f"{zot.external_url}/zot/auth/callback/oidc"),),
        authorization_flow=authorization.pk,
        invalidation_flow=invalidation.pk,
        signing_key=key.pk,
        property_mappings=tuple(scopes[scope].pk for scope in SCOPES),
    )
    return _Wanted(spec, secret, origin, groups)


def _plans(
    client: AuthentikClient, settings: chain.AuthentikSettings, wanted: _Wanted
) -> list[PlannedChange]:
    provider = client.find_oauth2_provider(settings.client_id)
    application = client.find_application(settings.application_slug)
    target = application.pbm_uuid if application is not None else None
    return [
        client.plan_oauth2_provider(wanted.spec),
        client.plan_application(
            settings.application_slug,
            settings.application_name,
            provider.pk if provider is not None else None,
        ),
        *(
            client.plan_group_binding(target, pk, group_name=name)
            for name, pk, _ in wanted.group_pks
        ),
    ]


def _state(ctx: Any) -> tuple[chain.AuthentikSettings, chain.ZotSettings, AuthentikClient]:
    settings = chain.authentik_settings(ctx)
    return settings, chain.zot_settings(ctx), chain.authentik(ctx, settings)


def _deployed_problem(ctx: Any, zot: chain.ZotSettings, text: str) -> str | None:
    """Why the copy zot reads does not hold ``text`` (None when it does, or when there is no
    way to look: a remote copy without [zot] credentials_check_command)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if zot.check_command:
        try:
            printed = chain.run_command(
                ctx, zot.check_command, "credentials check command", zot.live_timeout
            )
        except MikadoError as error:  # no copy yet, or none readable: deploy it
            return str(error)
        seen = printed.split()[0].lower() if printed.split() else ""
        if seen != digest:
            return f"the copy zot reads, {zot.credentials_path}, differs from the file written"
        return None
    target = Path(zot.credentials_path)
    if target.resolve() == zot.api_credentials_file.resolve():
        return None  # zot reads the file itself
    if not target.is_absolute() or not target.exists():
        if zot.deploy_command:
            ctx.log.warning(
                "cannot verify the copy zot reads at %s: set [zot] credentials_check_command",
                zot.credentials_path,
            )
        return None
    if not chain.private_file_holds(target, text):
        return f"{zot.credentials_path} (the copy zot reads) differs or is not mode 0600"
    return None


def _deploy(ctx: Any, zot: chain.ZotSettings) -> None:
    if not zot.deploy_command:
        return
    argv = [part.replace("{source}", str(zot.api_credentials_file)) for part in zot.deploy_command]
    chain.run_command(ctx, argv, "credentials deploy command", zot.live_timeout)
    ctx.log.info("deployed the credentials file to %s", zot.credentials_path)


def _drift(ctx: Any) -> list[str]:
    """What differs from the card's wish, read-only; empty when everything holds."""
    settings, zot, client = _state(ctx)
    wanted = _wanted(client, settings, zot)
    problems = [plan.describe() for plan in _plans(client, settings, wanted) if plan.changes]
    text = credentials_file_text(settings.client_id, wanted.secret)
    if not chain.private_file_holds(zot.api_credentials_file, text):
        problems.append(f"{zot.api_credentials_file} must hold the client id and secret, mode 0600")
    else:
        deployed = _deployed_problem(ctx, zot, text)
        if deployed is not None:
            problems.append(deployed)
    return problems


def _repo_mode(ctx: Any) -> bool:
    return chain.table_mode(ctx, "authentik") == "repo"


def check(ctx: Any) -> bool:
    if _repo_mode(ctx):
        return _repo_authentik.check(ctx)
    return not _drift(ctx)


def apply(ctx: Any) -> dict[str, Any] | None:
    if _repo_mode(ctx):
        return _repo_authentik.apply(ctx)
    settings, zot, client = _state(ctx)
    wanted = _wanted(client, settings, zot)
    text = credentials_file_text(settings.client_id, wanted.secret)
    if ctx.dry_run:
        for plan in _plans(client, settings, wanted):
            print(plan.describe())
        if not chain.private_file_holds(zot.api_credentials_file, text):
            print(
                f"write {zot.api_credentials_file} (mode 0600) with client id "
                f"{settings.client_id!r} and the client secret {wanted.secret_origin} (not shown)"
            )
        if zot.deploy_command:
            print(f"then copy it to {zot.credentials_path}: {' '.join(zot.deploy_command)}")
        return None
    provider, changed = client.ensure_oauth2_provider(wanted.spec)
    ctx.log.info(
        "oauth2 provider %s: %s", settings.client_id, "written" if changed else "as configured"
    )
    application, changed = client.ensure_application(
        settings.application_slug, settings.application_name, provider.pk
    )
    ctx.log.info("application %s: %s", application.slug, "written" if changed else "as configured")
    for name, group_pk, order in wanted.group_pks:
        _, changed = client.ensure_group_binding(application.pbm_uuid, group_pk, order=order)
        ctx.log.info("binding of %s: %s", name, "created" if changed else "present")
    zot.api_credentials_file.parent.mkdir(parents=True, exist_ok=True)
    if write_credentials_file(zot.api_credentials_file, settings.client_id, wanted.secret):
        ctx.log.info("wrote %s (client secret %s)", zot.api_credentials_file, wanted.secret_origin)
    if _deployed_problem(ctx, zot, text) is not None or not zot.check_command:
        _deploy(ctx, zot)
    problem = _deployed_problem(ctx, zot, text)
    if problem is not None:
        raise MikadoError(
            f"{problem} after [zot] credentials_deploy_command ran: zot would log in with "
            "another secret than Authentik holds"
        )
    return {"issuer": settings.issuer, "client_id": settings.client_id}


def verify(ctx: Any) -> bool:
    if _repo_mode(ctx):
        _repo_authentik.verify(ctx)
        return _record(ctx)
    problems = _drift(ctx)
    if problems:
        raise ConfigError("not as configured: " + "; ".join(problems))
    settings, _, client = _state(ctx)
    # Raises, naming both, when the discovered issuer differs in any character.
    client.discovery(settings.issuer)
    return _record(ctx)


def _record(ctx: Any) -> bool:
    """A check that said "done" skips apply; record the outputs then, and only if they
    changed, so a recheck writes nothing."""
    settings = chain.authentik_settings(ctx)
    for key, value in (("issuer", settings.issuer), ("client_id", settings.client_id)):
        if ctx.outputs.get(ctx.stem, key) != value:
            ctx.outputs.set(key, value)
    return True
