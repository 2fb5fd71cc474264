"""zot's authorization decision: which identity may do which action on which repository.

The rules follow zot v2.1.20: the policy group of the longest repository glob that matches
applies; inside it a user or group policy, then `defaultPolicy` (any authenticated identity),
then `anonymousPolicy` (no identity) grant actions; `adminPolicy` grants its actions on every
repository. GET/HEAD need read, POST/PATCH/PUT create, DELETE delete, and a manifest PUT to a
tag that already exists needs update (no `latest` exemption since zot 2.1.15).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

READ = "read"
CREATE = "create"
UPDATE = "update"
DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Policy:
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PolicyGroup:
    policies: tuple[Policy, ...] = ()
    default_policy: frozenset[str] = frozenset()
    anonymous_policy: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent a request; `name` is "" for an anonymous request."""

    name: str = ""
    groups: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.name == ""


@dataclass(frozen=True, slots=True)
class AccessControl:
    repositories: Mapping[str, PolicyGroup]
    admin_policy: Policy = Policy()
    static_groups: Mapping[str, frozenset[str]] | None = None  # group → users
    metrics_users: frozenset[str] = frozenset()

    def anonymous_policy_exists(self) -> bool:
        return any(group.anonymous_policy for group in self.repositories.values())

    def groups_of(self, identity: Identity) -> frozenset[str]:
        """The identity's groups: from its login, plus accessControl.groups naming it."""
        static = {
            group for group, users in (self.static_groups or {}).items() if identity.name in users
        }
        return identity.groups | static

    def can(self, identity: Identity, action: str, repository: str) -> bool:
        groups = self.groups_of(identity)
        pattern = self._longest_match(repository)
        if pattern is not None and _permitted(self.repositories[pattern], identity, groups, action):
            return True
        admin = self.admin_policy
        return action in admin.actions and (
            identity.name in admin.users or bool(groups & admin.groups)
        )

    def readable(self, identity: Identity, repositories: Iterable[str]) -> list[str]:
        return [repo for repo in repositories if self.can(identity, READ, repo)]

    def _longest_match(self, repository: str) -> str | None:
        matches = [p for p in self.repositories if glob_matches(p, repository)]
        return max(matches, key=len) if matches else None


def _permitted(group: PolicyGroup, identity: Identity, groups: frozenset[str], action: str) -> bool:
    for policy in group.policies:
        if action not in policy.actions:
            continue
        if not identity.anonymous and identity.name in policy.users:
            return True
        if policy.groups & groups:
            return True
    if not identity.anonymous and action in group.default_policy:
        return True
    return identity.anonymous and action in group.anonymous_policy


def glob_matches(pattern: str, repository: str) -> bool:
    """doublestar semantics: `**` crosses `/`, `*` and `?` stay within one segment."""
    return _compile(pattern).fullmatch(repository) is not None


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex)
