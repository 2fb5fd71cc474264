"""switch-on-zot-auth: zot's configuration with OIDC, API keys and the access policy, and zot
restarted to run it.

``apply`` merges the hardening into zot's configuration — the OIDC provider ``oidc`` with the
issuer register-zot-oidc-client recorded, API keys, the access policy enforce-tag-immutability
recorded plus the metrics rule of the zot release, ``externalUrl`` — keeping every other
setting and the key order; checks it against what that release accepts; writes it atomically;
and runs [zot] restart_command. zot cannot switch authentication on by reloading: it reloads
only on a write to the file itself (a file renamed into place goes unnoticed), never adds
authentication methods or login routes on a reload, and builds its OIDC client at start-up.
Then it waits until zot serves its OIDC login and checks that Authentik accepts the login
request zot makes.

``check`` and ``verify`` only read: the file holds the hardening, zot's login answers with a
redirect to Authentik naming our client, Authentik accepts it, and zot still answers the
catalog anonymously. Outputs: ``zot_release``, and ``ci_identity`` — the name zot gives the CI
account (its Authentik username from 2.1.11, its email before).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import _repo
import _repo_zot
import _zot_chain as chain
import httpx

from mikado.errors import ConfigError, MikadoError
from mikado.services import zot_config
from mikado.services.oci import RegistryClient
from mikado.services.zot_release import ZotRelease

SETTINGS = chain.settings_tables("authentik", "zot", "ci")
SUPPORTS_DRY_RUN = True
_POLL = 0.25


def _hardening(ctx: Any, zot: chain.ZotSettings, release: ZotRelease) -> zot_config.ZotHardening:
    return zot_config.hardening_for(
        release,
        external_url=zot.external_url,
        issuer=ctx.outputs.read(chain.REGISTER, "issuer"),
        credentials_file=zot.credentials_path,
        policy=ctx.outputs.read(chain.ENFORCE, "access_control"),
    )


def _load(zot: chain.ZotSettings) -> tuple[str, dict[str, Any]]:
    text = chain.read_text(zot.api_config_file, "zot configuration")
    try:
        return text, zot_config.parse(text, source=str(zot.api_config_file))
    except zot_config.ZotConfigError as error:
        raise zot_config.ZotConfigError(
            f"{error.message}; zot would not start with this file either: fix it, then run again",
            path=error.path,
            line=error.line,
        ) from None


def _login_problem(ctx: Any, zot: chain.ZotSettings, client_id: str) -> str | None:
    """None when zot runs with its OIDC login: ``/zot/auth/login?provider=oidc`` redirects to
    Authentik for our client and our callback, and Authentik takes that request (it sends a
    user without a session on to its login flow rather than refusing the client or the
    redirect URI); otherwise what happened instead."""
    url = f"{zot.url}/zot/auth/login?provider=oidc"
    try:
        answer: httpx.Response = ctx.http.get(url, follow_redirects=False)
    except httpx.TransportError as error:
        return f"GET {url} failed: {error or type(error).__name__} (is zot running?)"
    if answer.status_code == 404:
        return "zot serves no OIDC login: it runs a configuration without OpenID (restart it)"
    location = answer.headers.get("location", "")
    query = parse_qs(urlsplit(location).query)
    callback = f"{zot.external_url}/zot/auth/callback/oidc"
    if answer.status_code != 302 or query.get("client_id") != [client_id]:
        return f"GET {url} answered {answer.status_code}, not a redirect for client {client_id}"
    if query.get("redirect_uri") != [callback]:
        return (
            f"zot's login sends Authentik redirect URI {query.get('redirect_uri')}, not {callback}"
        )
    try:
        authorize = ctx.http.get(location, follow_redirects=False)
    except httpx.TransportError as error:
        return f"GET {location.split('?')[0]} failed: {error or type(error).__name__}"
    if authorize.status_code != 302:
        return (
            f"Authentik answered zot's login request with {authorize.status_code} (it refuses "
            "the client id or the redirect URI, or the provider lacks the authorization_code "
            "grant)"
        )
    return None


def _holds(ctx: Any, release: ZotRelease) -> list[str]:
    """What is not (yet) true; read-only."""
    zot = chain.zot_settings(ctx)
    problems = []
    if zot.mode == "repo":
        planned = _repo_zot.plan(ctx, release)
        problems += [
            f"{edit.path} lacks the hardening"
            for edit in planned.edits
            if edit.before != edit.after
        ]
        credentials = _repo_zot.credentials_problem(ctx)
        if credentials is not None:
            problems.append(credentials)
    else:
        _, document = _load(zot)
        if zot_config.merge_hardening(document, _hardening(ctx, zot, release)) != document:
            problems.append(f"{zot.api_config_file} lacks the hardening")
    login = _login_problem(ctx, zot, ctx.outputs.read(chain.REGISTER, "client_id"))
    if login is not None:
        problems.append(login)
    return problems


def _restart(ctx: Any, zot: chain.ZotSettings) -> None:
    if not zot.restart_command:
        raise ConfigError(
            f"zot must be restarted to run {zot.api_config_file}: it switches authentication on "
            "only at start-up. Set [zot] restart_command (e.g. "
            '["systemctl", "restart", "zot"]), or restart zot yourself and run again'
        )
    chain.run_command(ctx, zot.restart_command, "restart command", zot.live_timeout)
    ctx.log.info("ran %s", " ".join(zot.restart_command))


def _wait_live(ctx: Any, zot: chain.ZotSettings, client_id: str) -> None:
    deadline = time.monotonic() + zot.live_timeout
    while (seen := _login_problem(ctx, zot, client_id)) is not None:
        if time.monotonic() >= deadline or ctx.cancelled.is_set():
            raise MikadoError(
                f"zot at {zot.url} does not serve its OIDC login {zot.live_timeout:g} s after "
                f"the restart: {seen}; check zot's log (it does not start with a "
                "configuration it cannot load, nor when it cannot reach the issuer)"
            )
        ctx.cancelled.wait(_POLL)


def _warn(ctx: Any, release: ZotRelease) -> None:
    if not release.latest_needs_update:
        ctx.log.warning(
            "zot %s lets the CI group overwrite `latest` (only `create` is checked there "
            "before 2.1.15); version tags stay immutable",
            release,
        )
    if release.digest_push_moves_tags:
        ctx.log.warning(
            "zot %s lets a create-only user move an existing tag with a digest push carrying "
            "?tag= (fixed in 2.1.19); upgrade zot for immutability without exceptions",
            release,
        )


def _ci_identity(ctx: Any, zot: chain.ZotSettings, release: ZotRelease) -> str:
    """The name zot gives the CI account after its OIDC login."""
    if release.claim_mapping:
        return zot.ci_identity  # claimMapping.username = preferred_username
    settings = chain.authentik_settings(ctx)
    email = chain.authentik(ctx, settings).user(zot.ci_identity).email
    if not email:
        raise ConfigError(
            f"zot {release} names OIDC users by their email, and the Authentik user "
            f"{zot.ci_identity!r} has none: give it one, or upgrade zot to 2.1.11+"
        )
    return email


def _outputs(ctx: Any, zot: chain.ZotSettings, release: ZotRelease) -> dict[str, Any]:
    return {"zot_release": str(release), "ci_identity": _ci_identity(ctx, zot, release)}


def check(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    return not _holds(ctx, chain.zot_release(ctx, zot))


def _apply_repo(ctx: Any, zot: chain.ZotSettings, release: ZotRelease) -> bool:
    """Repo mode: edit the template (and its variables), then deploy; True when done (a dry
    run shows the edits and the deploy instead)."""
    repo = _repo.zot_repo(ctx)
    planned = _repo_zot.plan(ctx, release)
    problem = _repo_zot.credentials_problem(ctx)
    if problem is not None:
        raise ConfigError(problem)
    changed = False
    for edit in planned.edits:
        if chain.replace_file(ctx, edit.path, edit.before, edit.after):
            changed = True
            ctx.log.info("wrote %s for zot %s", edit.path, release)
    if ctx.dry_run:
        print(f"then deploy zot {release}: {' '.join(repo.deploy.argv) or '(no deploy_command)'}")
        return False
    client_id = ctx.outputs.read(chain.REGISTER, "client_id")
    if changed or _login_problem(ctx, zot, client_id) is not None:
        _warn(ctx, release)
        repo.deploy.run(ctx, repo.root)
        ctx.log.info("deployed zot: %s", " ".join(repo.deploy.argv))
    return True


def apply(ctx: Any) -> dict[str, Any] | None:
    zot = chain.zot_settings(ctx)
    release = chain.zot_release(ctx, zot)
    client_id = ctx.outputs.read(chain.REGISTER, "client_id")
    if zot.mode == "repo":
        if not _apply_repo(ctx, zot, release):
            return None
        _wait_live(ctx, zot, client_id)
        RegistryClient(ctx.http, zot.url).catalog(auth=None)
        return _outputs(ctx, zot, release)
    before, document = _load(zot)
    merged = zot_config.merge_hardening(document, _hardening(ctx, zot, release))
    zot_config.validate(merged, source=str(zot.api_config_file), release=release.version)
    after = zot_config.render(merged)
    changed = merged != document and before != after
    if ctx.dry_run:
        if changed:
            print(zot_config.unified_diff(before, after, str(zot.api_config_file)), end="")
        print(f"then restart zot {release}: {' '.join(zot.restart_command) or '(by hand)'}")
        return None
    _warn(ctx, release)
    if changed:
        zot_config.write_atomic(zot.api_config_file, after)
        ctx.log.info("wrote %s for zot %s", zot.api_config_file, release)
    if changed or _login_problem(ctx, zot, client_id) is not None:
        _restart(ctx, zot)
    _wait_live(ctx, zot, client_id)
    RegistryClient(ctx.http, zot.url).catalog(auth=None)  # anonymous reads still work
    return _outputs(ctx, zot, release)


def verify(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    release = chain.zot_release(ctx, zot)
    problems = _holds(ctx, release)
    if problems:
        raise MikadoError("; ".join(problems))
    RegistryClient(ctx.http, zot.url).catalog(auth=None)
    for key, value in _outputs(ctx, zot, release).items():
        if ctx.outputs.get(ctx.stem, key) != value:
            ctx.outputs.set(key, value)
    return True
