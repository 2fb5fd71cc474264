"""zot's configuration file: load it, merge the hardening settings in, write it back.

Every change is checked against what the target zot release accepts
(:mod:`mikado.services.zot_schema`) and written atomically, so a crash never leaves half a
file. The hardening itself depends on the release (:mod:`mikado.services.zot_release`).
"""

from __future__ import annotations

import copy
import difflib
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.edit import atomic
from mikado.services.zot_release import ZotRelease
from mikado.services.zot_schema import ConfigProblem, ZotConfigError, json_type, validate

__all__ = ["ConfigProblem", "ZotConfigError", "validate"]

# ---------------------------------------------------------------------------------------
# Loading and rendering


def parse(text: str, *, source: str = "<zot config>") -> dict[str, Any]:
    """Decode ``text``; malformed JSON raises ZotConfigError naming line and column."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZotConfigError(
            f"column {exc.colno}: not valid JSON: {exc.msg}", path=source, line=exc.lineno
        ) from None
    if not isinstance(document, dict):
        raise ZotConfigError(
            f"expected a JSON object at the top, got {json_type(document)}", path=source, line=1
        )
    return document


def load(path: Path | str) -> dict[str, Any]:
    """Read and decode a zot configuration file, keeping its key order."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZotConfigError(f"cannot read: {exc.strerror}", path=str(file)) from None
    except UnicodeDecodeError as exc:
        raise ZotConfigError(f"not UTF-8: {exc.reason}", path=str(file)) from None
    return parse(text, source=str(file))


def render(document: Mapping[str, Any]) -> str:
    """The file text: 2-space indent, key order as in ``document``, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff of two renderings, for dry runs; empty when they are equal."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} (current)",
            tofile=f"{path} (hardened)",
        )
    )


def write_atomic(path: Path | str, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new, never half
    (temporary file in the same folder, fsync, rename; the old mode kept unless ``mode``)."""
    atomic.write_atomic(Path(path), text.encode("utf-8"), mode=mode)


def credentials_file_text(client_id: str, client_secret: str) -> str:
    """The OIDC credentials file zot reads: exactly ``clientid`` and ``clientsecret``."""
    return json.dumps({"clientid": client_id, "clientsecret": client_secret}, indent=2) + "\n"


def write_credentials_file(path: Path | str, client_id: str, client_secret: str) -> bool:
    """Write the OIDC credentials file with mode 0600; False when it already held them."""
    target = Path(path)
    text = credentials_file_text(client_id, client_secret)
    try:
        unchanged = target.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError):
        unchanged = False
    if unchanged and stat.S_IMODE(target.stat().st_mode) == 0o600:
        return False
    write_atomic(target, text, mode=0o600)
    return True


# ---------------------------------------------------------------------------------------
# The hardening


def access_control_policy(
    ci_group: str, admins_group: str, *, repositories: str = "**"
) -> dict[str, Any]:
    """zot's ``http.accessControl`` for the hardened registry, metrics aside.

    Anyone may pull. The CI group may push new tags but never overwrite or delete one (zot
    asks for ``update`` when a tag already exists). Admins may do everything.
    """
    return {
        "repositories": {
            repositories: {
                "policies": [
                    {"groups": [ci_group], "actions": ["read", "create"]},
                    {"groups": [admins_group], "actions": ["read", "create", "update", "delete"]},
                ],
                "anonymousPolicy": ["read"],
                "defaultPolicy": ["read"],
            }
        }
    }


def anonymous_metrics(release: ZotRelease) -> dict[str, Any]:
    """``accessControl.metrics`` that lets Prometheus scrape without credentials: from 2.1.18
    only ``anonymousPolicy`` admits an anonymous caller (``MetricsAuthzHandler``); before, the
    anonymous user name ``""`` in ``users`` did."""
    if release.metrics_anonymous_policy:
        return {"anonymousPolicy": ["read"]}
    return {"users": [""]}


@dataclass(frozen=True, slots=True)
class ZotHardening:
    """What the hardening sets in zot's configuration; everything else stays as it was."""

    external_url: str
    issuer: str
    credentials_file: str
    access_control: Mapping[str, Any]
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    # None: the release has no claimMapping, and zot names users by their email.
    username_claim: str | None = "preferred_username"
    # zot knows Authentik only as the generic OIDC provider, whose key must be "oidc".
    provider: str = "oidc"


def hardening_for(
    release: ZotRelease,
    *,
    external_url: str,
    issuer: str,
    credentials_file: str,
    policy: Mapping[str, Any],
) -> ZotHardening:
    """The hardening zot ``release`` accepts: claimMapping only from 2.1.11, the metrics rule
    of the release."""
    access_control = {**copy.deepcopy(dict(policy)), "metrics": anonymous_metrics(release)}
    return ZotHardening(
        external_url=external_url,
        issuer=issuer,
        credentials_file=credentials_file,
        access_control=access_control,
        username_claim="preferred_username" if release.claim_mapping else None,
    )


def _key_in(mapping: Mapping[str, Any], wanted: str) -> str:
    """The key of ``mapping`` that zot reads as ``wanted`` (key case is ignored), or it."""
    for key in mapping:
        if key.lower() == wanted.lower():
            return key
    return wanted


def _child(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    key = _key_in(mapping, name)
    value = mapping.get(key)
    if not isinstance(value, dict):
        value = {}
        mapping[key] = value
    return value


def _set(mapping: dict[str, Any], name: str, value: Any) -> None:
    mapping[_key_in(mapping, name)] = value


def merge_hardening(document: Mapping[str, Any], hardening: ZotHardening) -> dict[str, Any]:
    """A copy of ``document`` with the hardening set and every other setting kept.

    Keys already present keep their position and spelling; new keys go at the end of their
    object. The access-control policy replaces any previous one as a whole, because a
    merged policy could keep grants nobody asked for. Merging twice gives the same result.
    """
    merged = copy.deepcopy(dict(document))
    http = _child(merged, "http")
    _set(http, "externalUrl", hardening.external_url)
    auth = _child(http, "auth")
    providers = _child(_child(auth, "openid"), "providers")
    provider = _child(providers, hardening.provider)
    _set(provider, "credentialsFile", hardening.credentials_file)
    _set(provider, "issuer", hardening.issuer)
    _set(provider, "scopes", list(hardening.scopes))
    if hardening.username_claim is not None:
        _set(_child(provider, "claimMapping"), "username", hardening.username_claim)
    else:
        provider.pop(_key_in(provider, "claimMapping"), None)
    # zot turns API keys on whenever OpenID is configured; saying so keeps the file honest.
    _set(auth, "apikey", True)
    _set(http, "accessControl", copy.deepcopy(dict(hardening.access_control)))
    return merged
