"""zot's authorization rules, decided without a server."""

from __future__ import annotations

import pytest

from mikado.lab.emulators.zot_access import (
    AccessControl,
    Identity,
    Policy,
    PolicyGroup,
    glob_matches,
)

CI = Identity("ci", frozenset({"artifact-workloads"}))
ADMIN = Identity("root", frozenset({"admins"}))
SOMEONE = Identity("someone")
ANONYMOUS = Identity()


@pytest.mark.parametrize(
    ("pattern", "repository", "expected"),
    [
        ("**", "blumeops/app", True),
        ("*", "app", True),
        ("*", "blumeops/app", False),
        ("blumeops/*", "blumeops/app", True),
        ("blumeops/**", "blumeops/a/b", True),
        ("**/app", "app", True),
        ("app?", "app1", True),
        ("app?", "app/", False),
    ],
)
def test_glob_matching_follows_doublestar(pattern: str, repository: str, expected: bool) -> None:
    assert glob_matches(pattern, repository) is expected


def test_the_longest_matching_pattern_alone_decides() -> None:
    control = AccessControl(
        repositories={
            "**": PolicyGroup(default_policy=frozenset({"read", "create"})),
            "locked/**": PolicyGroup(default_policy=frozenset({"read"})),
        }
    )
    assert control.can(SOMEONE, "create", "open/app")
    assert not control.can(SOMEONE, "create", "locked/app")  # the broader grant does not leak in


def test_policies_default_and_anonymous_policies() -> None:
    control = AccessControl(
        repositories={
            "**": PolicyGroup(
                policies=(
                    Policy(
                        groups=frozenset({"artifact-workloads"}),
                        actions=frozenset({"read", "create"}),
                    ),
                    Policy(users=frozenset({"someone"}), actions=frozenset({"delete"})),
                ),
                default_policy=frozenset({"read"}),
                anonymous_policy=frozenset({"read"}),
            )
        },
        admin_policy=Policy(groups=frozenset({"admins"}), actions=frozenset({"update", "read"})),
    )
    assert control.can(CI, "create", "app")
    assert not control.can(CI, "update", "app")
    assert control.can(SOMEONE, "delete", "app") and control.can(SOMEONE, "read", "app")
    assert not control.can(SOMEONE, "create", "app")
    assert control.can(ANONYMOUS, "read", "app") and not control.can(ANONYMOUS, "create", "app")
    assert control.can(ADMIN, "update", "app")  # admin policy spans every repository
    assert control.anonymous_policy_exists()


def test_static_groups_add_to_login_groups() -> None:
    control = AccessControl(
        repositories={
            "**": PolicyGroup(
                policies=(Policy(groups=frozenset({"pushers"}), actions=frozenset({"create"})),)
            )
        },
        static_groups={"pushers": frozenset({"someone"})},
    )
    assert control.can(SOMEONE, "create", "app")
    assert not control.can(Identity("other"), "create", "app")
    assert control.readable(SOMEONE, ["a", "b"]) == []
