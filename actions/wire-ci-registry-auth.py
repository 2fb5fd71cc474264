"""wire-ci-registry-auth: both CI push paths authenticate with the CI account's API key.

The skopeo push gains ``--dest-creds "<ci_identity>:${VAR}"``, the Dagger publish
``--registry-username <ci_identity> --registry-password env:VAR``, and each push step sets
``VAR`` from the Forgejo Actions secret (VAR is the secret's name, ZOT_CI_API_KEY by
default). The key itself ([zot] ci_api_key) goes into that secret. zot only issues keys to an
identity that has logged in once, so without a configured key the card edits the workflows
and then fails with the steps to take.

Forgejo never returns a secret's value; the output ``api_key_fingerprint`` (a salted hash)
lets ``check`` see that the configured key is the one stored, without writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _workflows as workflows
import _zot_chain as chain

from mikado.errors import ConfigError, MikadoError

SETTINGS = chain.settings_tables("forgejo", "zot", "ci")
SUPPORTS_DRY_RUN = True


def _edits(ctx: Any) -> list[tuple[Path, str, str]]:
    zot = chain.zot_settings(ctx)
    ci = chain.ci_settings(ctx, zot)
    name = chain.forgejo_settings(ctx).secret_name
    edit = workflows.credentials_edit(ci.registry_host, zot.ci_identity, name, name)
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


def _listed(ctx: Any, forgejo: chain.ForgejoSettings) -> bool:
    client = chain.forgejo(ctx, forgejo)
    if forgejo.organisation is not None:
        names = client.list_org_actions_secrets(forgejo.organisation)
    else:
        assert forgejo.owner is not None and forgejo.repository is not None
        names = client.list_actions_secrets(forgejo.owner, forgejo.repository)
    return forgejo.secret_name.upper() in {name.upper() for name in names}


def _instructions(zot: chain.ZotSettings, forgejo: chain.ForgejoSettings) -> str:
    return (
        f"the workflows now push with credentials, but there is no CI API key to store in "
        f"the Forgejo secret {forgejo.secret_name}. To make one: (1) log in to zot at "
        f"{zot.external_url} once as the CI account {zot.ci_identity} (through Authentik), "
        f"(2) create an API key for it in zot's UI (or POST "
        f"{zot.external_url}/zot/auth/apikey), "
        f'(3) give it to mikado: add ci_api_key = "env:{forgejo.secret_name}" (or '
        f'"file:PATH") to [zot] and set that variable or file, (4) run mikado run again'
    )


def check(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    forgejo = chain.forgejo_settings(ctx)
    if zot.ci_api_key is None:
        return False
    with workflows.EDIT_LOCK:
        if any(before != after for _, before, after in _edits(ctx)):
            return False
    stored = ctx.outputs.get(ctx.stem, "api_key_fingerprint")
    return stored == chain.fingerprint(zot.ci_api_key) and _listed(ctx, forgejo)


def apply(ctx: Any) -> dict[str, Any] | None:
    zot = chain.zot_settings(ctx)
    forgejo = chain.forgejo_settings(ctx)
    with workflows.EDIT_LOCK:
        edits = _edits(ctx)
        if zot.ci_api_key is not None:
            # The secret first: with Forgejo unreachable nothing has changed yet.
            if ctx.dry_run:
                print(f"set the Forgejo Actions secret {forgejo.secret_name} of {forgejo.scope}")
            else:
                client = chain.forgejo(ctx, forgejo)
                if forgejo.organisation is not None:
                    how = client.set_org_actions_secret(
                        forgejo.organisation, forgejo.secret_name, zot.ci_api_key
                    )
                else:
                    assert forgejo.owner is not None and forgejo.repository is not None
                    how = client.set_actions_secret(
                        forgejo.owner, forgejo.repository, forgejo.secret_name, zot.ci_api_key
                    )
                ctx.log.info("Forgejo secret %s %s", forgejo.secret_name, how)
        for path, before, after in edits:
            if chain.replace_file(ctx, path, before, after):
                ctx.log.info("%s: pushes now authenticate", path.name)
    if zot.ci_api_key is None:
        if ctx.dry_run:
            print("then stop: " + _instructions(zot, forgejo))
            return None
        raise MikadoError(_instructions(zot, forgejo))
    if ctx.dry_run:
        return None
    return {"api_key_fingerprint": chain.fingerprint(zot.ci_api_key)}


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
    return True
