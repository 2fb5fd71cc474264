"""zot's authorization rules, decided without a server: globs, the longest match, the policy
kinds, the groups that count, the action an overwrite needs and the metrics rule, per
release."""

from __future__ import annotations

import pytest

from mikado.lab.emulators.releases import RELEASES, version_tuple
from mikado.lab.emulators.zot_access import (
    AccessControl,
    Identity,
    Policy,
    PolicyGroup,
    glob_matches,
    metrics_access,
    overwrite_action,
)

ZOT_RELEASES = RELEASES["zot"]
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
        ("blumeops/*", "blumeops/a/b", False),
        ("blumeops/**", "blumeops/a/b", True),
        ("**/app", "app", True),
        ("**/app", "x/y/app", True),
        ("app?", "app1", True),
        ("app?", "app/", False),
        ("app.x", "appx", False),  # a dot is literal
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
    assert control.can(SOMEONE, "read", "locked/app")


def test_user_group_default_anonymous_and_admin_policies() -> None:
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
    assert not control.can(ADMIN, "delete", "app")  # but only its own actions
    assert control.anonymous_policy_exists()


def test_default_policy_is_for_authenticated_callers_and_anonymous_for_anonymous_only() -> None:
    control = AccessControl(
        repositories={
            "**": PolicyGroup(
                default_policy=frozenset({"read"}), anonymous_policy=frozenset({"create"})
            )
        }
    )
    assert not control.can(ANONYMOUS, "read", "app")
    assert control.can(ANONYMOUS, "create", "app")
    assert control.can(SOMEONE, "read", "app") and not control.can(SOMEONE, "create", "app")
    assert control.readable(SOMEONE, ["a", "b"]) == ["a", "b"]
    assert control.readable(ANONYMOUS, ["a", "b"]) == []


def test_access_control_groups_do_not_reach_key_or_oidc_users() -> None:
    # accessControl.groups is applied to htpasswd/LDAP logins only; an API key or OIDC
    # identity carries the groups its login stored, nothing else
    control = AccessControl(
        repositories={
            "**": PolicyGroup(
                policies=(Policy(groups=frozenset({"pushers"}), actions=frozenset({"create"})),)
            )
        },
        static_groups={"pushers": frozenset({"someone"})},
    )
    assert not control.can(SOMEONE, "create", "app")
    assert control.can(Identity("someone", frozenset({"pushers"})), "create", "app")
    assert control.readable(SOMEONE, ["a", "b"]) == []


def test_an_empty_access_control_grants_nothing() -> None:
    control = AccessControl(repositories={})
    assert not control.can(ADMIN, "read", "app")
    assert not control.can(ANONYMOUS, "read", "app")
    assert not control.anonymous_policy_exists()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_overwriting_a_tag_needs_update_but_latest_only_from_2_1_15(release: str) -> None:
    version = version_tuple(release)
    assert overwrite_action(version, "v1") == "update"
    assert overwrite_action(version, "latest") == ("create" if release == "2.1.10" else "update")
    assert overwrite_action(version, "Latest") == "update"  # the exemption is exact


def _control(users: tuple[str, ...] = (), anonymous: tuple[str, ...] = ()) -> AccessControl:
    return AccessControl(
        repositories={"**": PolicyGroup(anonymous_policy=frozenset({"read"}))},
        metrics_users=frozenset(users),
        metrics_anonymous=frozenset(anonymous),
    )


# (metrics users, metrics anonymousPolicy, caller) → status in 2.1.10, 2.1.17, 2.1.20
METRICS_TABLE = [
    ((), (), ANONYMOUS, (401, 401, 401)),
    (("",), (), ANONYMOUS, (200, 200, 401)),  # "" admitted anonymous callers until 2.1.18
    ((), ("read",), ANONYMOUS, (401, 401, 200)),  # anonymousPolicy from 2.1.18 on
    (("", "admin"), (), Identity("admin"), (200, 200, 200)),
    (("admin",), (), SOMEONE, (403, 403, 403)),
    ((), (), SOMEONE, (401, 401, 403)),  # empty list: 401 for everyone before c18a4a97
    ((), ("read",), SOMEONE, (401, 401, 403)),
]


@pytest.mark.parametrize("release", ZOT_RELEASES)
@pytest.mark.parametrize(("users", "anonymous", "caller", "statuses"), METRICS_TABLE)
def test_metrics_rule_per_release(
    release: str,
    users: tuple[str, ...],
    anonymous: tuple[str, ...],
    caller: Identity,
    statuses: tuple[int, int, int],
) -> None:
    expected = dict(zip(ZOT_RELEASES, statuses, strict=True))[release]
    assert metrics_access(_control(users, anonymous), caller, version_tuple(release)) == expected


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_metrics_without_access_control_are_open(release: str) -> None:
    assert metrics_access(None, ANONYMOUS, version_tuple(release)) == 200
    assert metrics_access(None, SOMEONE, version_tuple(release)) == 200
