"""Authentik's policy engine as far as application access goes
(authentik/policies/engine.py): who passes an application's bindings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def passes(
    bindings: Iterable[Mapping[str, Any]],
    application: Mapping[str, Any],
    user: Mapping[str, Any],
) -> bool:
    """Whether ``user`` passes the application's bindings: no enabled binding lets everyone
    through; group and user bindings are one result, true when any matches (``negate``
    honoured); superusers get no bypass."""
    bound = [b for b in bindings if b["target"] == application["pk"] and b.get("enabled", True)]
    if not bound:
        return True
    groups = {str(pk) for pk in user.get("groups", [])}
    for binding in bound:
        if binding.get("group") is not None:
            matched = str(binding["group"]) in groups
        elif binding.get("user") is not None:
            matched = int(binding["user"]) == int(user["pk"])
        else:
            continue  # policies are not emulated
        if matched != bool(binding.get("negate", False)):
            return True
    return False
