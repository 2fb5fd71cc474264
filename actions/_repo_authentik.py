"""register-zot-oidc-client in repo mode: zot's provider, application and the two group
bindings as entries of the operator's Authentik blueprint (a file, or a ConfigMap's data
key that Argo CD syncs), brought live by [authentik] deploy_command and checked against the
live Authentik through its API (read only).

The client secret never enters the repository: a new provider entry reads it with
``!Env <client_credential_env>``, which the operator's secret wiring sets for Authentik's
worker; an existing entry keeps whatever it reads it from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import _repo
import _zot_chain as chain

from mikado.edit.blueprint import (
    Blueprint,
    Env,
    Find,
    Including,
    KeyOf,
    Value,
    read_blueprint,
    write_blueprint,
)
from mikado.errors import ConfigError, MikadoError
from mikado.services import zot_config

PROVIDER = "authentik_providers_oauth2.oauth2provider"
APPLICATION = "authentik_core.application"
BINDING = "authentik_policies.policybinding"
GROUP = "authentik_core.group"
SCOPES = ("openid", "email", "profile")
TAG = "mikado: register-zot-oidc-client"


@dataclass(frozen=True, slots=True)
class Planned:
    before: Blueprint
    after: Blueprint
    changes: tuple[str, ...]


def _provider_entry(blueprint: Blueprint, client_id: str) -> Any:
    for entry in blueprint.entries:
        if entry.model.lower() == PROVIDER and entry.attrs.get("client_id") == client_id:
            return entry
    return None


def plan(ctx: Any, *, grant_code_flow: bool = False) -> Planned:
    """The blueprint as the card wants it (read-only)."""
    settings = chain.authentik_settings(ctx)
    zot = chain.zot_settings(ctx)
    repo = _repo.authentik_repo(ctx)
    before = read_blueprint(repo.blueprint, data_key=repo.configmap_entry)
    blueprint = before
    changes: list[str] = []
    callback: Value = {
        "matching_mode": "strict",
        "url": f"{zot.external_url}/zot/auth/callback/oidc",
    }

    existing = _provider_entry(blueprint, settings.client_id)
    if existing is not None:
        provider_id = existing.id or "zot-provider"
        identifiers = dict(existing.identifiers)
        attrs: dict[str, Any] = {"redirect_uris": Including((callback,))}
    else:
        if repo.client_credential_env is None:
            raise ConfigError(
                f"the blueprint has no provider with client_id {settings.client_id!r}; to "
                "add one, set [authentik] client_credential_env to the environment variable "
                "Authentik's worker reads zot's client secret from (the entry says !Env NAME)"
            )
        provider_id = "zot-provider"
        identifiers = {"name": settings.provider_name}
        attrs = {
            "name": settings.provider_name,
            "authorization_flow": Find("authentik_flows.flow", "slug", settings.authorization_flow),
            "invalidation_flow": Find("authentik_flows.flow", "slug", settings.invalidation_flow),
            "client_type": "confidential",
            "client_id": settings.client_id,
            "client_secret": Env(repo.client_credential_env),
            "redirect_uris": [callback],
            "signing_key": Find(
                "authentik_crypto.certificatekeypair", "name", settings.signing_certificate
            ),
            "property_mappings": [
                Find("authentik_providers_oauth2.scopemapping", "scope_name", scope)
                for scope in SCOPES
            ],
        }
    if grant_code_flow:  # 2026.5+: a provider without it refuses the code flow
        attrs["grant_types"] = Including(("authorization_code",))
    done = blueprint.ensure(
        PROVIDER, identifiers, attrs, comment=f"zot's OAuth2 provider ({TAG})", id=provider_id
    )
    blueprint, changes = done.blueprint, [*changes, *done.changes]

    app_identifiers = {"slug": settings.application_slug}
    app_entry = blueprint.find(APPLICATION, app_identifiers)
    app_id = (app_entry.id if app_entry is not None else None) or "zot-app"
    app_attrs: dict[str, Any] = {"provider": KeyOf(provider_id)}
    if app_entry is None:
        app_attrs = {
            "name": settings.application_name,
            "slug": settings.application_slug,
            "provider": KeyOf(provider_id),
        }
    done = blueprint.ensure(
        APPLICATION,
        app_identifiers,
        app_attrs,
        comment=f"the registry application ({TAG})",
        id=app_id,
    )
    blueprint, changes = done.blueprint, [*changes, *done.changes]

    for group, order, why in (
        (settings.admins_group, 0, "admins may log in to zot"),
        (zot.ci_group, 1, "the CI account logs in once to mint its zot API key"),
    ):
        reference = blueprint.reference(GROUP, "name", group)
        binding: dict[str, Value] = {"order": order, "target": KeyOf(app_id), "group": reference}
        done = blueprint.ensure(
            BINDING,
            binding,
            {**binding, "enabled": True, "negate": False, "timeout": 30},
            comment=f"Who may log in to zot — {why} ({TAG})",
        )
        blueprint, changes = done.blueprint, [*changes, *done.changes]
    return Planned(before, blueprint, tuple(changes))


def live_problems(ctx: Any) -> list[str]:
    """What the live Authentik lacks of the card's wish (read-only)."""
    settings = chain.authentik_settings(ctx)
    zot = chain.zot_settings(ctx)
    client = chain.authentik(ctx, settings)
    problems = []
    provider = client.find_oauth2_provider(settings.client_id)
    callback = f"{zot.external_url}/zot/auth/callback/oidc"
    if provider is None:
        return [f"Authentik has no provider with client_id {settings.client_id!r}"]
    if callback not in {uri.url for uri in provider.redirect_uris}:
        problems.append(f"the provider does not allow the redirect URI {callback}")
    grants = client.provider_grant_types(settings.client_id)
    if grants is not None and "authorization_code" not in grants:
        problems.append("the provider lacks the authorization_code grant type")
    application = client.find_application(settings.application_slug)
    if application is None or application.provider != provider.pk:
        return [*problems, f"no application {settings.application_slug!r} opens the provider"]
    bound = {binding.group for binding in client.group_bindings(application.pbm_uuid)}
    for group in (settings.admins_group, zot.ci_group):
        if client.group(group).pk not in bound:
            problems.append(f"group {group!r} is not bound to the application")
    return problems


def _needs_code_grant(ctx: Any) -> bool:
    settings = chain.authentik_settings(ctx)
    grants = chain.authentik(ctx, settings).provider_grant_types(settings.client_id)
    return grants is not None and "authorization_code" not in grants


def check(ctx: Any) -> bool:
    planned = plan(ctx)
    return not planned.changes and not live_problems(ctx)


def apply(ctx: Any) -> dict[str, Any] | None:
    settings = chain.authentik_settings(ctx)
    repo = _repo.authentik_repo(ctx)
    planned = plan(ctx, grant_code_flow=_needs_code_grant(ctx))
    if ctx.dry_run:
        if planned.changes:
            print(
                zot_config.unified_diff(
                    planned.before.text, planned.after.text, str(repo.blueprint)
                ),
                end="",
            )
        print(f"then deploy: {' '.join(repo.deploy.argv) or '(no deploy_command)'}")
        return None
    if write_blueprint(repo.blueprint, planned.after):
        for change in planned.changes:
            ctx.log.info("blueprint: %s", change)
    repo.deploy.run(ctx, repo.root)
    ctx.log.info("deployed Authentik: %s", " ".join(repo.deploy.argv))
    if _needs_code_grant(ctx):
        # Authentik 2026.5+ gives a provider the blueprint leaves without grant types none;
        # the entry must name the code flow, and the deploy runs once more.
        again = plan(ctx, grant_code_flow=True)
        if write_blueprint(repo.blueprint, again.after):
            ctx.log.info("blueprint: the provider gets the authorization_code grant type")
        repo.deploy.run(ctx, repo.root)
    problems = live_problems(ctx)
    if problems:
        raise MikadoError(
            "after the deploy, Authentik still differs from the blueprint: "
            + "; ".join(problems)
            + f" (did `{' '.join(repo.deploy.argv)}` apply {repo.blueprint.name}?)"
        )
    return {"issuer": settings.issuer, "client_id": settings.client_id}


def verify(ctx: Any) -> bool:
    planned = plan(ctx, grant_code_flow=_needs_code_grant(ctx))
    problems = [*(f"the blueprint lacks: {c}" for c in planned.changes), *live_problems(ctx)]
    if problems:
        raise ConfigError("not as configured: " + "; ".join(problems))
    settings = chain.authentik_settings(ctx)
    chain.authentik(ctx, settings).discovery(settings.issuer)
    return True
