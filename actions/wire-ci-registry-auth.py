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

import _dagger
import _repo
import _workflows as workflows
import _zot_chain as chain
import httpx

from mikado.edit.ansible_vars import append_list_item
from mikado.errors import ConfigError, MikadoError, PrerequisiteDiscovered, ServiceError
from mikado.services._http import describe_request

SETTINGS = chain.settings_tables("forgejo", "zot", "ci", "ci_credentials")
SUPPORTS_DRY_RUN = True


def _identity(ctx: Any) -> str:
    identity: str = ctx.outputs.read(chain.SWITCH, "ci_identity")
    return identity


DAGGER_CARD = "let-dagger-publish-authenticate"
DAGGER_TITLE = "Let Dagger Publish Authenticate"


def _dagger_gap(ctx: Any) -> Any:
    """The credential support of a Dagger function a workflow calls that cannot take the
    registry credentials yet (None when every one can, or there is none)."""
    zot = chain.zot_settings(ctx)
    ci = chain.ci_settings(ctx, zot)
    dagger = chain.dagger_module(ci)
    if dagger is None:
        return None
    for path in ci.workflows:
        document = workflows.parse(chain.read_text(path, "CI workflow"), path)
        for step in workflows.push_steps(document, ci.registry_host, dagger, path=path):
            for command in step.commands:
                if command.function is not None:
                    support = _dagger.credential_support(command.function)
                    if not support.accepted:
                        return support
    return None


def _edits(ctx: Any) -> list[tuple[Path, str, str]]:
    zot = chain.zot_settings(ctx)
    ci = chain.ci_settings(ctx, zot)
    dagger = chain.dagger_module(ci)
    name = chain.forgejo_settings(ctx).secret_name
    edit = workflows.credentials_edit(ci.registry_host, _identity(ctx), name, name, dagger)
    found = []
    for path in ci.workflows:
        text = chain.read_text(path, "CI workflow")
        if not workflows.push_steps(
            workflows.parse(text, path), ci.registry_host, dagger, path=path
        ):
            raise ConfigError(
                f"no step pushes to {ci.registry_host}; is [ci] registry_host right?",
                path=str(path),
            )
        found.append((path, text, workflows.edited(text, path, edit)))
    return found


def _discover_dagger_change(ctx: Any) -> None:
    """The Mikado loop on real data: the module must take the credentials before the workflow
    can pass them, which is a change of its own."""
    support = _dagger_gap(ctx)
    if support is None:
        return
    name = chain.forgejo_settings(ctx).secret_name
    steps = _dagger.credentials_instructions(support, _identity(ctx), name)
    raise PrerequisiteDiscovered(
        DAGGER_CARD,
        DAGGER_TITLE,
        "The CI workflow publishes with `dagger call`, and the Dagger function it calls cannot "
        "take registry credentials yet, so `--registry-password=env:"
        f"{name}` would be refused.\n\n## What to do\n\n{steps.strip()}\n\n"
        f"Then run `mikado done {DAGGER_CARD}` and run the chain again; "
        f"[[{chain.WIRE}]] then passes the credentials in the workflow.",
    )


def _repo_secret(ctx: Any) -> tuple[Any, str, str]:
    """Repo mode: (settings, the vars file now, as it should be)."""
    repo = _repo.forgejo_repo(ctx)
    forgejo = chain.forgejo_settings(ctx)
    if forgejo.repository is None:
        raise ConfigError("[forgejo] repo mode lists repository secrets: give repository")
    before = chain.read_text(repo.vars_file, "Actions secrets variable file")
    after = append_list_item(
        before,
        (repo.vars_list, ("repo", forgejo.repository), "secrets"),
        {"name": forgejo.secret_name, "value_var": repo.value_var},
        key="name",
        path=str(repo.vars_file),
    )
    return repo, before, after


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


def _repo_mode(ctx: Any) -> bool:
    return chain.table_mode(ctx, "forgejo") == "repo"


def check(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    forgejo = chain.forgejo_settings(ctx)
    key = chain.ci_api_key(ctx)
    if _dagger_gap(ctx) is not None:
        return False
    if _repo_mode(ctx):
        _, before, after = _repo_secret(ctx)
        if before != after:
            return False
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
    _discover_dagger_change(ctx)
    with workflows.EDIT_LOCK:
        edits = _edits(ctx)
        # The secret first: with Forgejo unreachable nothing has changed yet.
        if _repo_mode(ctx):
            _apply_repo_secret(ctx, forgejo)
        elif ctx.dry_run:
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


def _apply_repo_secret(ctx: Any, forgejo: chain.ForgejoSettings) -> None:
    """Repo mode: the secret's entry in the variable file, then the deploy that pushes it."""
    repo, before, after = _repo_secret(ctx)
    if chain.replace_file(ctx, repo.vars_file, before, after):
        ctx.log.info(
            "%s: the Actions secret %s, its value from %s",
            repo.vars_file.name,
            forgejo.secret_name,
            repo.value_var,
        )
    if ctx.dry_run:
        print(f"then deploy the Forgejo secrets: {' '.join(repo.deploy.argv)}")
        return
    repo.deploy.run(ctx, repo.root)
    if not _listed(ctx, forgejo):
        raise MikadoError(
            f"after `{' '.join(repo.deploy.argv)}` the Actions secret {forgejo.secret_name} is "
            f"still not listed for {forgejo.scope}: does your playbook set {repo.value_var} "
            "from your vault (where you stored the key)?"
        )


def verify(ctx: Any) -> bool:
    forgejo = chain.forgejo_settings(ctx)
    with workflows.EDIT_LOCK:
        bare = [path.name for path, before, after in _edits(ctx) if before != after]
    if bare:
        raise ConfigError(f"a push step lacks the registry credentials in {', '.join(bare)}")
    if _repo_mode(ctx):
        repo, before, after = _repo_secret(ctx)
        if before != after:
            raise ConfigError(f"{repo.vars_file} lacks the entry of {forgejo.secret_name}")
    if not _listed(ctx, forgejo):
        raise ConfigError(
            f"the Forgejo Actions secret {forgejo.secret_name} is not listed for {forgejo.scope}"
        )
    problem = _key_problem(ctx, chain.zot_settings(ctx), chain.ci_api_key(ctx))
    if problem is not None:
        raise MikadoError(problem)
    return True
