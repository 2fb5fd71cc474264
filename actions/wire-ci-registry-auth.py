"""wire-ci-registry-auth: both CI push paths authenticate with the CI account's API key.

The key exists once the CI account has logged in to zot and minted it (the manual card
mint-zot-ci-api-key); it reaches mikado through [ci_credentials] api_key. It must authenticate
as the identity zot gives the CI account (switch-on-zot-auth records it), or nothing changes.
Then it goes into the Forgejo Actions secret (ZOT_CI_API_KEY by default), the skopeo push gains
``--dest-creds "<identity>:${VAR}"``, the Dagger publish ``--registry-username <identity>
--registry-password env:VAR``, and each push step sets ``VAR`` from the secret.

Forgejo never returns a secret's value; the output ``api_key_fingerprint`` (a salted hash)
lets ``check`` see that the configured key is the one stored, without writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _workflows as workflows
import _zot_chain as chain
import httpx

from mikado.errors import ConfigError, MikadoError, ServiceError
from mikado.services._http import describe_request

SETTINGS = chain.settings_tables("forgejo", "zot", "ci", "ci_credentials")
SUPPORTS_DRY_RUN = True


def _identity(ctx: Any) -> str:
    identity: str = ctx.outputs.read(chain.SWITCH, "ci_identity")
    return identity


def _edits(ctx: Any) -> list[tuple[Path, str, str]]:
    zot = chain.zot_settings(ctx)
    ci = chain.ci_settings(ctx, zot)
    name = chain.forgejo_settings(ctx).secret_name
    edit = workflows.credentials_edit(ci.registry_host, _identity(ctx), name, name)
    found = []
    for path in ci.workflows:
        text = chain.read_text(path, "CI workflow")
        if not workflows.push_steps(workflows.parse(text, path), ci.registry_host):
            raise ConfigError(
                f"no step pushes to {ci.registry_host}; is [ci] registry_host right?",
                path=str(path),
            )
        found.append((path, text, workflows.edited(text, path, edit)))
    return found


def _key_problem(ctx: Any, zot: chain.ZotSettings, key: str) -> str | None:
    """None when zot takes the key as the CI identity's; else what zot said. The catalog is
    readable anonymously, but credentials sent with it are checked all the same."""
    identity = _identity(ctx)
    url = f"{zot.url}/v2/_catalog"
    try:
        answer = ctx.http.get(url, auth=(identity, key))
    except httpx.TransportError as error:
        raise ServiceError(
            "zot",
            describe_request("GET", url),
            str(error) or type(error).__name__,
            hint="is zot running?",
        ) from None
    if answer.status_code == 200:
        return None
    return (
        f"zot refuses [ci_credentials] api_key as {identity!r} ({answer.status_code}): mint a "
        f"key while logged in as that account and store it there (see {chain.MINT})"
    )


def _listed(ctx: Any, forgejo: chain.ForgejoSettings) -> bool:
    client = chain.forgejo(ctx, forgejo)
    if forgejo.organisation is not None:
        names = client.list_org_actions_secrets(forgejo.organisation)
    else:
        assert forgejo.owner is not None and forgejo.repository is not None
        names = client.list_actions_secrets(forgejo.owner, forgejo.repository)
    return forgejo.secret_name.upper() in {name.upper() for name in names}


def check(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    forgejo = chain.forgejo_settings(ctx)
    key = chain.ci_api_key(ctx)
    with workflows.EDIT_LOCK:
        if any(before != after for _, before, after in _edits(ctx)):
            return False
    stored = ctx.outputs.get(ctx.stem, "api_key_fingerprint")
    return (
        stored == chain.fingerprint(key)
        and _listed(ctx, forgejo)
        and _key_problem(ctx, zot, key) is None
    )


def apply(ctx: Any) -> dict[str, Any] | None:
    zot = chain.zot_settings(ctx)
    forgejo = chain.forgejo_settings(ctx)
    key = chain.ci_api_key(ctx)
    problem = _key_problem(ctx, zot, key)
    if problem is not None:
        raise MikadoError(problem)
    with workflows.EDIT_LOCK:
        edits = _edits(ctx)
        # The secret first: with Forgejo unreachable nothing has changed yet.
        if ctx.dry_run:
            print(f"set the Forgejo Actions secret {forgejo.secret_name} of {forgejo.scope}")
        else:
            client = chain.forgejo(ctx, forgejo)
            if forgejo.organisation is not None:
                how = client.set_org_actions_secret(forgejo.organisation, forgejo.secret_name, key)
            else:
                assert forgejo.owner is not None and forgejo.repository is not None
                how = client.set_actions_secret(
                    forgejo.owner, forgejo.repository, forgejo.secret_name, key
                )
            ctx.log.info("Forgejo secret %s %s", forgejo.secret_name, how)
        for path, before, after in edits:
            if chain.replace_file(ctx, path, before, after):
                ctx.log.info("%s: pushes now authenticate", path.name)
    if ctx.dry_run:
        return None
    return {"api_key_fingerprint": chain.fingerprint(key)}


def verify(ctx: Any) -> bool:
    forgejo = chain.forgejo_settings(ctx)
    with workflows.EDIT_LOCK:
        bare = [path.name for path, before, after in _edits(ctx) if before != after]
    if bare:
        raise ConfigError(f"a push step lacks the registry credentials in {', '.join(bare)}")
    if not _listed(ctx, forgejo):
        raise ConfigError(
            f"the Forgejo Actions secret {forgejo.secret_name} is not listed for {forgejo.scope}"
        )
    problem = _key_problem(ctx, chain.zot_settings(ctx), chain.ci_api_key(ctx))
    if problem is not None:
        raise MikadoError(problem)
    return True
