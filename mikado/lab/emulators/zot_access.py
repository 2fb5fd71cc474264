"""zot's authorization decision: which identity may do which action on which repository
(``pkg/api/authz.go``, the same logic v2.1.6 to v2.1.20 but for the notes below).

The policy group of the single longest repository glob that matches applies; inside it a user
or group policy, then ``defaultPolicy`` (any authenticated identity), then ``anonymousPolicy``
(no identity) grant actions; ``adminPolicy`` is the fallback on every repository. An identity's
groups are those its login stored (OIDC groups claim; an API key carries its owner's):
``accessControl.groups`` applies to htpasswd and LDAP users only, which are not emulated.
GET/HEAD need read, POST/PATCH/PUT create, DELETE delete; a manifest PUT to a tag that already
exists needs update, except ``latest`` before v2.1.15 (fixed in ace12e2a).
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
    static_groups: Mapping[str, frozenset[str]] | None = None  # group → users (htpasswd)
    metrics_users: frozenset[str] = frozenset()
    metrics_anonymous: frozenset[str] = frozenset()  # metrics.anonymousPolicy (2.1.18+)

    def anonymous_policy_exists(self) -> bool:
        return any(group.anonymous_policy for group in self.repositories.values())

    def can(self, identity: Identity, action: str, repository: str) -> bool:
        groups = identity.groups
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


def overwrite_action(release: tuple[int, ...], reference: str) -> str:
    """The action a manifest PUT to an existing tag needs: ``update``, but only ``create`` for
    ``latest`` before v2.1.15."""
    return CREATE if reference == "latest" and release < (2, 1, 15) else UPDATE


def metrics_access(
    control: AccessControl | None, identity: Identity, release: tuple[int, ...]
) -> int:
    """``MetricsAuthzHandler``: 200 to serve ``/metrics``, else the refusal's status.

    Before v2.1.18 an anonymous caller is let in only by ``""`` in ``metrics.users`` (and only
    when some repository has an anonymousPolicy, which authentication checks first); from
    v2.1.18 only by ``metrics.anonymousPolicy: ["read"]``, and an authenticated user outside
    ``metrics.users`` gets 403 (c18a4a97)."""
    if control is None:
        return 200
    if release >= (2, 1, 18):
        if identity.anonymous:
            return 200 if READ in control.metrics_anonymous else 401
        return 200 if identity.name in control.metrics_users else 403
    if not control.metrics_users:
        return 401
    if identity.name in control.metrics_users:
        return 200
    return 401 if identity.anonymous else 403
