"""enforce-tag-immutability: the access policy zot will enforce, and a guard at each push.

The policy is an output (``access_control``) that switch-on-zot-auth writes into zot's
configuration: anonymous read, the CI group read + create (zot asks for ``update`` to move an
existing tag, so CI can never overwrite one), admins everything. (The rule that keeps
``/metrics`` open differs per zot release; switch-on-zot-auth adds it.) The guard, a block in
each CI push script right before the push command, checks the very tag the push is about to
use: a version tag that already exists fails the job with a readable message; commit-SHA tags
skip it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _workflows as workflows
import _zot_chain as chain

from mikado.errors import ConfigError
from mikado.services import zot_config

SETTINGS = chain.settings_tables("zot", "ci")
SUPPORTS_DRY_RUN = True


def policy(zot: chain.ZotSettings) -> dict[str, Any]:
    return zot_config.access_control_policy(zot.ci_group, zot.admins_group)


def _edits(ctx: Any) -> list[tuple[Path, str, str]]:
    """(file, text now, text with the guards) for each workflow."""
    zot = chain.zot_settings(ctx)
    ci = chain.ci_settings(ctx, zot)
    dagger = chain.dagger_module(ci)
    edit = workflows.guard_edit(ci.registry_host, ci.registry_url, dagger)
    found = []
    for path in ci.workflows:
        text = chain.read_text(path, "CI workflow")
        document = workflows.parse(text, path)
        if not workflows.push_steps(document, ci.registry_host, dagger, path=path):
            raise ConfigError(
                f"no step pushes to {ci.registry_host} (skopeo copy ... docker://"
                f"{ci.registry_host}/NAME:TAG, or a dagger call whose registry, given or the "
                "Dagger module's default, is that host); is [ci] registry_host right?",
                path=str(path),
            )
        found.append((path, text, workflows.edited(text, path, edit)))
    return found


def _validated_policy(ctx: Any) -> dict[str, Any]:
    wanted = policy(chain.zot_settings(ctx))
    zot_config.validate({"http": {"accessControl": wanted}}, source="the access-control policy")
    return wanted


def _policy_lines(policy: dict[str, Any]) -> list[str]:
    """The policy as a person reads it: per repository pattern, who may do what."""
    lines = []
    for pattern, rules in policy.get("repositories", {}).items():
        who = [
            f"{', '.join(rule.get('groups', []) + rule.get('users', []))}: "
            f"{', '.join(rule.get('actions', []))}"
            for rule in rules.get("policies", [])
        ]
        for name, key in (("anonymous", "anonymousPolicy"), ("anyone else", "defaultPolicy")):
            if rules.get(key):
                who.append(f"{name}: {', '.join(rules[key])}")
        lines.append(f"{pattern}  " + "; ".join(who))
    return lines


def check(ctx: Any) -> bool:
    with workflows.EDIT_LOCK:
        guarded = all(before == after for _, before, after in _edits(ctx))
    return guarded and ctx.outputs.get(ctx.stem, "access_control") == _validated_policy(ctx)


def apply(ctx: Any) -> dict[str, Any] | None:
    wanted = _validated_policy(ctx)
    with workflows.EDIT_LOCK:
        for path, before, after in _edits(ctx):
            if chain.replace_file(ctx, path, before, after):
                ctx.log.info("%s: tag guard added before each push", path.name)
    if ctx.dry_run:
        if ctx.outputs.get(ctx.stem, "access_control") != wanted:
            print("record output access_control, zot's access policy:")
            for line in _policy_lines(wanted):
                print(f"  {line}")
        return None
    return {"access_control": wanted}


def verify(ctx: Any) -> bool:
    wanted = _validated_policy(ctx)
    with workflows.EDIT_LOCK:
        missing = [path.name for path, before, after in _edits(ctx) if before != after]
    if missing:
        raise ConfigError(
            f"the tag guard is missing or outdated before a push in {', '.join(missing)}"
        )
    if ctx.outputs.get(ctx.stem, "access_control") != wanted:
        ctx.outputs.set("access_control", wanted)
    return True
