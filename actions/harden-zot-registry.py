"""harden-zot-registry (the goal): switch zot's authentication on and prove what it does.

``apply`` merges the hardening into zot's configuration (OIDC provider ``oidc`` with the
issuer register-zot-oidc-client recorded, API keys, the access policy enforce-tag-immutability
recorded, ``externalUrl``), keeping every other setting and the key order; validates it;
writes it atomically; runs the reload command; waits until zot serves it; and then proves the
behaviour, pushing as it must: anonymous catalog 200, anonymous push 401, a push of a fresh
probe tag as the CI identity 201, overwriting that tag 403, metrics 200.

``check`` and ``verify`` only read, so ``mikado run --recheck`` changes nothing anywhere: the
configuration file holds the hardening, zot challenges for credentials while still answering
the catalog and metrics anonymously, and the probe tag the last apply pushed is listed.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import _zot_chain as chain
import httpx

from mikado.errors import ConfigError, MikadoError, ServiceError
from mikado.services import zot_config
from mikado.services._http import describe_request
from mikado.services.oci import RegistryClient

SETTINGS = chain.settings_tables("zot")
SUPPORTS_DRY_RUN = True
_POLL = 0.25


def _hardening(ctx: Any, zot: chain.ZotSettings) -> zot_config.ZotHardening:
    return zot_config.ZotHardening(
        external_url=zot.external_url,
        issuer=ctx.outputs.read(chain.REGISTER, "issuer"),
        credentials_file=zot.credentials_path,
        access_control=ctx.outputs.read(chain.ENFORCE, "access_control"),
    )


def _load(zot: chain.ZotSettings) -> tuple[str, dict[str, Any]]:
    text = chain.read_text(zot.config_file, "zot configuration")
    try:
        return text, zot_config.parse(text, source=str(zot.config_file))
    except zot_config.ZotConfigError as error:
        raise zot_config.ZotConfigError(
            f"{error.message}; zot would not start with this file either: fix it, then run again",
            path=error.path,
            line=error.line,
        ) from None


def _metrics_path(document: dict[str, Any]) -> str | None:
    """Where zot serves metrics, or None when the metrics extension is off."""
    extensions = document.get("extensions")
    metrics = extensions.get("metrics") if isinstance(extensions, dict) else None
    if not isinstance(metrics, dict) or metrics.get("enable") in (False, "false"):
        return None
    prometheus = metrics.get("prometheus")
    path = prometheus.get("path") if isinstance(prometheus, dict) else None
    return path if isinstance(path, str) and path else "/metrics"


def _not_challenging(ctx: Any, zot: chain.ZotSettings) -> str | None:
    """``None`` when zot serves an authenticating configuration (``/v2/`` names the basic
    realm); otherwise what it did instead, so a fault is never mistaken for old configuration."""
    try:
        answer: httpx.Response = ctx.http.get(f"{zot.url}/v2/")
    except httpx.TransportError as error:
        return f"GET {zot.url}/v2/ failed: {error or type(error).__name__} (is zot running?)"
    challenge = answer.headers.get("www-authenticate", "")
    if answer.status_code == 200 and challenge.lower().startswith("basic"):
        return None
    if answer.status_code != 200:
        return f"GET {zot.url}/v2/ answered {answer.status_code}"
    return "it still serves a configuration without authentication (no Basic challenge on /v2/)"


def _anonymous_get(ctx: Any, url: str, what: str) -> None:
    try:
        answer = ctx.http.get(url)
    except httpx.TransportError as error:
        raise ServiceError(
            "zot", describe_request("GET", url), str(error), hint="is zot running?"
        ) from None
    if answer.status_code != 200:
        raise ServiceError(
            "zot",
            describe_request("GET", url),
            f"{what} answered {answer.status_code} without credentials, expected 200",
            status=answer.status_code,
            hint="the access policy must keep it open to anonymous requests",
        )


def _anonymous_reads(ctx: Any, zot: chain.ZotSettings, document: dict[str, Any]) -> None:
    RegistryClient(ctx.http, zot.url).catalog(auth=None)
    metrics = _metrics_path(document)
    if metrics is None:
        ctx.log.warning("zot's metrics extension is off: /metrics not checked")
    else:
        _anonymous_get(ctx, f"{zot.url}{metrics}", "metrics")


def _holds(ctx: Any) -> list[str]:
    """What is not (yet) true of the hardened registry; read-only."""
    zot = chain.zot_settings(ctx)
    _, document = _load(zot)
    problems = []
    if zot_config.merge_hardening(document, _hardening(ctx, zot)) != document:
        problems.append(f"{zot.config_file} lacks the hardening")
    seen = _not_challenging(ctx, zot)
    if seen is not None:
        problems.append(f"zot at {zot.url} does not ask for credentials: {seen}")
    return problems


def _reload(ctx: Any, zot: chain.ZotSettings) -> None:
    if not zot.reload_command:
        return
    command = " ".join(zot.reload_command)
    try:
        done = subprocess.run(
            zot.reload_command,
            cwd=ctx.base,
            capture_output=True,
            text=True,
            timeout=zot.live_timeout,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MikadoError(f"the reload command `{command}` did not run: {error}") from None
    if done.returncode != 0:
        output = " ".join((done.stderr or done.stdout).split())[-300:]
        raise MikadoError(
            f"the reload command `{command}` exited {done.returncode}: {output or 'no output'}; "
            "zot may still serve the old configuration"
        )
    ctx.log.info("ran %s", command)


def _wait_live(ctx: Any, zot: chain.ZotSettings) -> None:
    deadline = time.monotonic() + zot.live_timeout
    while (seen := _not_challenging(ctx, zot)) is not None:
        if time.monotonic() >= deadline or ctx.cancelled.is_set():
            raise MikadoError(
                f"zot at {zot.url} is not live with the new configuration "
                f"{zot.live_timeout:g} s after {zot.config_file} was written: {seen}; check "
                "zot's log (it refuses a configuration it cannot load, and exits when the "
                "issuer is unreachable) and [zot] reload_command"
            )
        ctx.cancelled.wait(_POLL)


def _expect_refusal(status: int, attempt: str, push: Any) -> None:
    try:
        push()
    except ServiceError as error:
        if error.status == status:
            return
        raise
    raise MikadoError(f"zot accepted {attempt}; expected {status}: the policy is not in force")


def _prove(ctx: Any, zot: chain.ZotSettings, document: dict[str, Any]) -> str:
    """Push as each kind of caller and check zot's answers; returns the probe tag."""
    if zot.ci_api_key is None:
        raise ConfigError(
            "[zot] ci_api_key is needed to prove that CI can push; see wire-ci-registry-auth"
        )
    client = RegistryClient(ctx.http, zot.url)
    ci = (zot.ci_identity, zot.ci_api_key)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    tag = f"mikado-probe-{stamp}-{secrets.token_hex(3)}"
    name = zot.probe_repository
    _anonymous_reads(ctx, zot, document)
    _expect_refusal(401, "an anonymous push", lambda: client.push_image(name, tag, auth=None))
    client.push_image(name, tag, auth=ci)
    ctx.log.info("pushed %s:%s as %s", name, tag, zot.ci_identity)
    _expect_refusal(
        403,
        f"an overwrite of {name}:{tag}",
        lambda: client.push_image(name, tag, auth=ci, payload=f"overwrite {tag}\n".encode()),
    )
    return tag


def check(ctx: Any) -> bool:
    if _holds(ctx):
        return False
    tag = ctx.outputs.get(ctx.stem, "probe_tag")
    zot = chain.zot_settings(ctx)
    return isinstance(tag, str) and tag in RegistryClient(ctx.http, zot.url).tags(
        zot.probe_repository, auth=None
    )


def apply(ctx: Any) -> dict[str, Any] | None:
    zot = chain.zot_settings(ctx)
    before, document = _load(zot)
    merged = zot_config.merge_hardening(document, _hardening(ctx, zot))
    zot_config.validate(merged, source=str(zot.config_file))
    after = zot_config.render(merged)
    changed = merged != document and before != after
    if ctx.dry_run:
        if changed:
            print(zot_config.unified_diff(before, after, str(zot.config_file)), end="")
        if changed and zot.reload_command:
            print(f"run {' '.join(zot.reload_command)}")
        print(
            f"then push {zot.probe_repository}:<fresh tag> anonymously (expect 401), as "
            f"{zot.ci_identity} (201) and again (403)"
        )
        return None
    if changed:
        zot_config.write_atomic(zot.config_file, after)
        ctx.log.info("wrote %s", zot.config_file)
    if changed or _not_challenging(ctx, zot) is not None:
        _reload(ctx, zot)
    _wait_live(ctx, zot)
    return {"probe_tag": _prove(ctx, zot, merged)}


def verify(ctx: Any) -> bool:
    problems = _holds(ctx)
    if problems:
        raise MikadoError("; ".join(problems))
    zot = chain.zot_settings(ctx)
    _, document = _load(zot)
    _anonymous_reads(ctx, zot, document)
    tag = ctx.outputs.get(ctx.stem, "probe_tag")
    tags = RegistryClient(ctx.http, zot.url).tags(zot.probe_repository, auth=None)
    if tag not in tags:
        raise MikadoError(f"the probe tag {zot.probe_repository}:{tag} is not listed anonymously")
    return True
