"""harden-zot-registry (the goal): prove end to end what the chain built.

With zot running its hardened configuration (switch-on-zot-auth) and CI holding its key
(wire-ci-registry-auth), ``apply`` pushes as each kind of caller and checks zot's answers: the
catalog and ``/metrics`` open without credentials, an anonymous push refused with 401, a push of
a fresh probe tag with the CI account's API key accepted, and overwriting that tag refused with
403 — tag immutability, enforced by zot itself.

``check`` and ``verify`` only read, so ``mikado run --recheck`` changes nothing anywhere: the
catalog and metrics still answer anonymously, the key still authenticates, and the probe tag
the last apply pushed is listed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import _repo_zot
import _zot_chain as chain
import httpx

from mikado.errors import MikadoError, ServiceError
from mikado.services import zot_config
from mikado.services._http import describe_request
from mikado.services.oci import RegistryClient

SETTINGS = chain.settings_tables("zot", "ci", "ci_credentials")
SUPPORTS_DRY_RUN = True


def _metrics_path(ctx: Any, zot: chain.ZotSettings) -> str | None:
    """Where zot serves metrics, or None when the metrics extension is off."""
    if zot.mode == "repo":
        document = _repo_zot.rendered(ctx)
    else:
        document = zot_config.parse(chain.read_text(zot.api_config_file, "zot configuration"))
    extensions = document.get("extensions")
    metrics = extensions.get("metrics") if isinstance(extensions, dict) else None
    if not isinstance(metrics, dict) or metrics.get("enable") in (False, "false"):
        return None
    prometheus = metrics.get("prometheus")
    path = prometheus.get("path") if isinstance(prometheus, dict) else None
    return path if isinstance(path, str) and path else "/metrics"


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


def _anonymous_reads(ctx: Any, zot: chain.ZotSettings) -> None:
    RegistryClient(ctx.http, zot.url).catalog(auth=None)
    metrics = _metrics_path(ctx, zot)
    if metrics is None:
        ctx.log.warning("zot's metrics extension is off: /metrics not checked")
    else:
        _anonymous_get(ctx, f"{zot.url}{metrics}", "metrics")


def _credentials(ctx: Any) -> tuple[str, str]:
    return ctx.outputs.read(chain.SWITCH, "ci_identity"), chain.ci_api_key(ctx)


def _expect_refusal(status: int, attempt: str, push: Any) -> None:
    try:
        push()
    except ServiceError as error:
        if error.status == status:
            return
        raise
    raise MikadoError(f"zot accepted {attempt}; expected {status}: the policy is not in force")


def _prove(ctx: Any, zot: chain.ZotSettings) -> str:
    """Push as each kind of caller and check zot's answers; returns the probe tag."""
    client = RegistryClient(ctx.http, zot.url)
    ci = _credentials(ctx)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    tag = f"mikado-probe-{stamp}-{secrets.token_hex(3)}"
    name = zot.probe_repository
    _anonymous_reads(ctx, zot)
    _expect_refusal(401, "an anonymous push", lambda: client.push_image(name, tag, auth=None))
    client.push_image(name, tag, auth=ci)
    ctx.log.info("pushed %s:%s as %s", name, tag, ci[0])
    _expect_refusal(
        403,
        f"an overwrite of {name}:{tag}",
        lambda: client.push_image(name, tag, auth=ci, payload=f"overwrite {tag}\n".encode()),
    )
    return tag


def _probe_listed(ctx: Any, zot: chain.ZotSettings) -> bool:
    tag = ctx.outputs.get(ctx.stem, "probe_tag")
    tags = RegistryClient(ctx.http, zot.url).tags(zot.probe_repository, auth=_credentials(ctx))
    return isinstance(tag, str) and tag in tags


def check(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    try:
        _anonymous_reads(ctx, zot)
    except ServiceError:
        return False
    return _probe_listed(ctx, zot)


def apply(ctx: Any) -> dict[str, Any] | None:
    zot = chain.zot_settings(ctx)
    if ctx.dry_run:
        print(
            f"push {zot.probe_repository}:<fresh tag> anonymously (expect 401), with the CI "
            "account's key (201) and again (403)"
        )
        return None
    return {"probe_tag": _prove(ctx, zot)}


def verify(ctx: Any) -> bool:
    zot = chain.zot_settings(ctx)
    _anonymous_reads(ctx, zot)
    if not _probe_listed(ctx, zot):
        tag = ctx.outputs.get(ctx.stem, "probe_tag")
        raise MikadoError(f"the probe tag {zot.probe_repository}:{tag} is not listed")
    return True
