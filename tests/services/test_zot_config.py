"""zot configuration: load, merge the hardening of each zot release, validate against the keys
that release knows, write safely. The release of each key is the one /work/research/zot.md
§1.2-1.5 gives (read from zot's structs at each tag)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mikado.lab.emulators.releases import RELEASES
from mikado.services import zot_config, zot_schema
from mikado.services.zot_config import (
    ZotConfigError,
    ZotHardening,
    access_control_policy,
    anonymous_metrics,
    credentials_file_text,
    hardening_for,
    load,
    merge_hardening,
    render,
    unified_diff,
    validate,
    write_atomic,
    write_credentials_file,
)
from mikado.services.zot_release import ZotRelease
from mikado.services.zot_schema import NEWEST, problems

BEFORE = Path(__file__).parent / "data" / "zot-config.before.json"
SETTINGS: dict[str, Any] = {
    "external_url": "https://registry.example.test",
    "issuer": "https://auth.example.test/application/o/zot/",
    "credentials_file": "/etc/zot/oidc-credentials.json",
}
POLICY = access_control_policy("artifact-workloads", "admins")


def hardening(release: str) -> ZotHardening:
    return hardening_for(ZotRelease.parse(release), policy=POLICY, **SETTINGS)


HARDENING = hardening("2.1.20")


def _keys(document: Any, prefix: str = "") -> list[str]:
    """Every key path in document order."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            path = f"{prefix}.{key}" if prefix else key
            found.append(path)
            found.extend(_keys(value, path))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_keys(value, f"{prefix}[{index}]"))
    return found


def test_seed_like_config_round_trips_byte_for_byte() -> None:
    text = BEFORE.read_text()
    document = load(BEFORE)
    assert render(document) == text
    assert problems(document) == []


def test_merge_keeps_every_setting_and_its_order() -> None:
    before = load(BEFORE)
    after = merge_hardening(before, HARDENING)
    before_keys = _keys(before)
    after_keys = _keys(after)
    # Every old key survives, in the same relative order, with the same value.
    assert [key for key in after_keys if key in before_keys] == before_keys
    assert after["extensions"] == before["extensions"]
    assert after["storage"] == before["storage"]
    assert list(after["http"]) == ["address", "port", "externalUrl", "auth", "accessControl"]
    assert before == load(BEFORE), "merge must not modify its input"


def test_merge_sets_what_the_hardening_needs() -> None:
    after = merge_hardening(load(BEFORE), HARDENING)
    http = after["http"]
    assert http["externalUrl"] == "https://registry.example.test"
    provider = http["auth"]["openid"]["providers"]["oidc"]
    assert provider == {
        "credentialsFile": "/etc/zot/oidc-credentials.json",
        "issuer": "https://auth.example.test/application/o/zot/",
        "scopes": ["openid", "email", "profile"],
        "claimMapping": {"username": "preferred_username"},
    }
    assert http["auth"]["apikey"] is True
    repository = http["accessControl"]["repositories"]["**"]
    assert repository["anonymousPolicy"] == ["read"]
    assert {"groups": ["artifact-workloads"], "actions": ["read", "create"]} in repository[
        "policies"
    ]
    assert http["accessControl"]["metrics"] == {"anonymousPolicy": ["read"]}
    validate(after)


def test_merging_twice_gives_the_same_bytes() -> None:
    once = render(merge_hardening(load(BEFORE), HARDENING))
    twice = render(merge_hardening(json.loads(once), HARDENING))
    assert once == twice


def test_merge_reuses_existing_keys_whatever_their_case_and_keeps_unrelated_auth() -> None:
    document = load(BEFORE)
    document["http"]["externalURL"] = "http://old"
    document["http"]["auth"] = {"htpasswd": {"path": "/etc/zot/htpasswd"}, "APIKey": False}
    document["http"]["accessControl"] = {"repositories": {"old/**": {"defaultPolicy": ["read"]}}}
    after = merge_hardening(document, HARDENING)
    assert after["http"]["externalURL"] == "https://registry.example.test"
    assert "externalUrl" not in after["http"]
    assert after["http"]["auth"]["APIKey"] is True
    assert "apikey" not in after["http"]["auth"]
    assert after["http"]["auth"]["htpasswd"] == {"path": "/etc/zot/htpasswd"}
    # The policy is replaced whole: a stale grant must not survive the hardening.
    assert list(after["http"]["accessControl"]["repositories"]) == ["**"]
    assert problems(after) == []


def test_unknown_keys_are_reported_with_their_path() -> None:
    document = merge_hardening(load(BEFORE), HARDENING)
    document["http"]["auth"]["openid"]["providers"]["oidc"]["claimMaping"] = {}
    document["extensions"]["sync"]["registries"][1]["onDemnd"] = True
    document["storage"]["gcdelay"] = "2h"  # same key as gcDelay once viper lowercases it
    document["tracing"] = {}
    found = {problem.path: problem.message for problem in problems(document)}
    assert set(found) == {
        "http.auth.openid.providers.oidc.claimMaping",
        "extensions.sync.registries[1].onDemnd",
        "storage.gcdelay",
        "tracing",
    }
    assert found["tracing"].startswith("unknown key")
    assert "claimMapping" in found["http.auth.openid.providers.oidc.claimMaping"]
    with pytest.raises(ZotConfigError) as caught:
        validate(document, source="/etc/zot/config.json")
    assert caught.value.path == "/etc/zot/config.json"
    assert len(caught.value.problems) == 4
    assert "extensions.sync.registries[1].onDemnd: unknown key" in str(caught.value)


def test_ldap_bind_password_inline_is_refused_as_zot_does() -> None:
    document = {"http": {"auth": {"ldap": {"address": "ldap", "bindPassword": "x"}}}}
    assert [problem.path for problem in problems(document)] == ["http.auth.ldap.bindPassword"]


def test_key_case_does_not_matter_as_in_viper() -> None:
    document = {"HTTP": {"Address": "0.0.0.0", "AccessControl": {"Repositories": {}}}}
    assert problems(document) == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("storage", "gc"), "yes", "expected a boolean"),
        (("storage", "gcDelay"), "1 hour", "expected a duration"),
        (("storage", "gcDelay"), True, "expected a duration"),
        (("http", "port"), ["5000"], "expected a string"),
        (("http", "auth"), "on", "expected an object"),
        (("scheduler",), {"numWorkers": "four"}, "expected an integer"),
        (("extensions", "sync", "registries"), {"urls": []}, "expected a list"),
        (
            ("http", "accessControl"),
            {"repositories": {"**": {"defaultPolicy": ["raed"]}}},
            "'raed' is not one of create, delete, detectManifestCollision, read, update",
        ),
    ],
)
def test_types_are_checked(path: tuple[str, ...], value: Any, message: str) -> None:
    document: dict[str, Any] = load(BEFORE)
    target = document
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    found = problems(document)
    assert len(found) == 1
    assert message in found[0].message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gc", "true"),
        ("gc", 1),
        ("gcDelay", 3_600_000_000_000),
        ("gcDelay", "1h30m0.5s"),
        ("dedupe", "False"),
        ("maxRepos", "0x10"),
    ],
)
def test_weakly_typed_values_zot_accepts_pass(key: str, value: Any) -> None:
    assert problems({"storage": {key: value}}) == []


def test_comma_separated_string_counts_as_a_list() -> None:
    assert problems({"http": {"compat": "docker2s2"}}) == []


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "config.json"
    broken.write_text('{\n  "http": {\n    "port": "5000",\n  }\n}\n')
    with pytest.raises(ZotConfigError) as caught:
        load(broken)
    assert caught.value.path == str(broken)
    assert caught.value.line == 4
    assert "column 3" in caught.value.message
    assert str(caught.value).startswith(f"{broken}:4: ")


def test_a_top_level_list_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "config.json"
    listed.write_text("[]\n")
    with pytest.raises(ZotConfigError, match="JSON object"):
        load(listed)


def test_unified_diff_shows_only_the_change() -> None:
    before = render(load(BEFORE))
    after = render(merge_hardening(load(BEFORE), HARDENING))
    diff = unified_diff(before, after, "/etc/zot/config.json")
    assert diff.startswith(
        "--- /etc/zot/config.json (current)\n+++ /etc/zot/config.json (hardened)"
    )
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert removed == ['-    "port": "5050"']
    assert '+    "port": "5050",' in added
    assert '+    "externalUrl": "https://registry.example.test",' in added
    assert unified_diff(before, before, "x") == ""


def test_write_atomic_keeps_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("{}\n")
    target.chmod(0o640)
    write_atomic(target, '{\n  "a": 1\n}\n')
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


def test_write_atomic_new_file_gets_0644(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    write_atomic(target, "{}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_write_atomic_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.json"
    target.write_text("old\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, '{"new": true}\n')
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


def test_credentials_file_is_0600_with_exactly_the_two_keys(tmp_path: Path) -> None:
    target = tmp_path / "oidc-credentials.json"
    assert write_credentials_file(target, "zot", "s3cret") is True
    assert json.loads(target.read_text()) == {"clientid": "zot", "clientsecret": "s3cret"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert write_credentials_file(target, "zot", "s3cret") is False
    target.chmod(0o644)
    assert write_credentials_file(target, "zot", "s3cret") is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert credentials_file_text("a", "b") == '{\n  "clientid": "a",\n  "clientsecret": "b"\n}\n'


def test_access_control_policy_grants_ci_create_but_not_update() -> None:
    policy = access_control_policy("ci", "ops")
    repository = policy["repositories"]["**"]
    grants = {tuple(entry["groups"]): set(entry["actions"]) for entry in repository["policies"]}
    assert grants == {("ci",): {"read", "create"}, ("ops",): {"read", "create", "update", "delete"}}
    assert repository["anonymousPolicy"] == ["read"]
    assert repository["defaultPolicy"] == ["read"]
    # metrics belong to the release's hardening (anonymous_metrics), not to the policy
    assert list(policy) == ["repositories"]
    assert list(access_control_policy("ci", "ops", repositories="team/**")["repositories"]) == [
        "team/**"
    ]
    for release in ((2, 1, 6), NEWEST):
        assert problems({"http": {"accessControl": policy}}, release=release) == []


# ---------------------------------------------------------------------------------------
# The split: the schema lives in zot_schema, zot_config re-exports what callers use


def test_zot_config_re_exports_the_schema_errors_and_validate() -> None:
    assert sorted(zot_config.__all__) == ["ConfigProblem", "ZotConfigError", "validate"]
    assert zot_config.validate is zot_schema.validate
    assert zot_config.ZotConfigError is zot_schema.ZotConfigError
    assert zot_config.ConfigProblem is zot_schema.ConfigProblem


def test_the_default_release_is_the_newest_the_lab_imitates() -> None:
    assert ZotRelease.parse(RELEASES["zot"][-1]).version == NEWEST
    document = {"http": {"accessControl": {"metrics": {"anonymousPolicy": ["read"]}}}}
    assert problems(document) == problems(document, release=NEWEST) == []


# ---------------------------------------------------------------------------------------
# Keys per release: each one accepted from the release that added it, refused before

OIDC = ("http", "auth", "openid", "providers", "oidc")
# (release that added the key, where it goes, its value); the key's path is where + key.
SINCE: list[tuple[str, tuple[str, ...], Any]] = [
    # §1.3 http
    ("2.1.17", ("http", "readTimeout"), "30s"),
    ("2.1.17", ("http", "writeTimeout"), "1m"),
    # §1.4 http.auth
    ("2.1.9", ("http", "auth", "sessionDriver"), {"name": "local"}),
    ("2.1.11", ("http", "auth", "secureSession"), True),
    ("2.1.12", ("http", "auth", "mtls"), {"identityAttributes": ["CommonName"]}),
    ("2.1.14", ("http", "auth", "bearer", "oidc"), [{"issuer": "https://i", "audiences": ["z"]}]),
    ("2.1.15", ("http", "auth", "bearer", "awsSecretsManager"), {"region": "eu"}),
    ("2.1.19", ("http", "auth", "bearer", "upstreamTokenEndpoint"), {"realm": "https://t"}),
    ("2.1.15", ("http", "auth", "openid", "callbackAllowOrigins"), ["https://ui.example.test"]),
    ("2.1.6", (*OIDC, "credentialsFile"), "/etc/zot/oidc.json"),
    ("2.1.11", ("http", "auth", "openid", "providers", "github", "authUrl"), "https://gh/a"),
    ("2.1.11", ("http", "auth", "openid", "providers", "github", "tokenUrl"), "https://gh/t"),
    ("2.1.11", (*OIDC, "claimMapping"), {"username": "preferred_username"}),
    ("2.1.17", (*OIDC, "claimMapping", "groups"), "groups"),
    # §1.5 http.accessControl
    ("2.1.18", ("http", "accessControl", "metrics", "anonymousPolicy"), ["read"]),
    ("2.1.17", ("http", "accessControl", "adminPolicy", "conditions"), [{"expression": "true"}]),
    # §1.2 storage, and (zot's structs at v2.1.16 / v2.1.18) the Trivy settings
    ("2.1.16", ("storage", "maxRepos"), 100),
    ("2.1.16", ("storage", "subPaths", "/team", "maxRepos"), 10),
    ("2.1.18", ("storage", "redirectBlobURL"), True),
    ("2.1.18", ("storage", "fastRestart"), True),
    ("2.1.19", ("storage", "gcTimeWindow"), "01:00-08:00"),
    ("2.1.19", ("storage", "subPaths", "/team", "gcTimeWindow"), "22:00-06:00"),
    ("2.1.16", ("extensions", "search", "cve", "trivy", "vulnSeveritySources"), ["nvd"]),
    ("2.1.18", ("extensions", "search", "cve", "trivy", "sbom"), {"enable": True}),
]
# Keys inside lists, where the path carries the index.
SINCE_IN_LISTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "2.1.17",
        {
            "http": {
                "accessControl": {
                    "repositories": {
                        "**": {
                            "policies": [
                                {"users": ["a"], "actions": ["read"]},
                                {"users": ["b"], "actions": ["read"], "conditions": []},
                            ]
                        }
                    }
                }
            }
        },
        "http.accessControl.repositories.**.policies[1].conditions",
    ),
    (
        "2.1.19",
        {
            "storage": {
                "retention": {
                    "policies": [
                        {"repositories": ["**"], "keepUntagged": {"mostRecentlyPushedCount": 5}}
                    ]
                }
            }
        },
        "storage.retention.policies[0].keepUntagged",
    ),
]
EVERY_RELEASE = [(2, 1, patch) for patch in range(5, 21)]


def _nested(where: tuple[str, ...], value: Any) -> dict[str, Any]:
    document: dict[str, Any] = {}
    target = document
    for key in where[:-1]:
        target = target.setdefault(key, {})
    target[where[-1]] = value
    # the parents a newer key needs are themselves known from 2.1.6 on, except claimMapping
    if where[:-1] == (*OIDC, "claimMapping"):
        target.setdefault("username", "preferred_username")
    return document


def _cases() -> list[tuple[str, dict[str, Any], str]]:
    return [(added, _nested(where, value), ".".join(where)) for added, where, value in SINCE]


def _version(text: str) -> tuple[int, int, int]:
    return ZotRelease.parse(text).version


def _before(release: tuple[int, int, int]) -> tuple[int, int, int]:
    major, minor, patch = release
    return (major, minor, patch - 1)


@pytest.mark.parametrize(
    ("added", "document", "path"),
    _cases() + SINCE_IN_LISTS,
    ids=[path for _, _, path in _cases() + SINCE_IN_LISTS],
)
def test_a_key_is_accepted_from_the_release_that_added_it_and_refused_before(
    added: str, document: dict[str, Any], path: str
) -> None:
    arrived = _version(added)
    before = _before(arrived)
    assert problems(document, release=arrived) == []
    assert problems(document, release=NEWEST) == []
    found = problems(document, release=before)
    assert [(problem.path, problem.message) for problem in found] == [
        (path, f"unknown key in zot {'.'.join(map(str, before))} (it arrived in {added})")
    ]
    for release in EVERY_RELEASE:
        assert (problems(document, release=release) == []) is (release >= arrived), release


def test_every_key_zot_2_1_6_knows_is_accepted_by_2_1_6() -> None:
    policy = {"users": ["u"], "actions": ["read"], "groups": ["g"]}
    document = {
        "distSpecVersion": "1.1.0",
        "goVersion": "go1.22.5",
        "commit": "v2.1.6-0-gabc",
        "releaseTag": "v2.1.6",
        "binaryType": "-minimal",
        "storage": {
            "rootDirectory": "/var/lib/zot",
            "dedupe": True,
            "remoteCache": False,
            "gc": True,
            "commit": False,
            "gcDelay": "1h",
            "gcInterval": "24h",
            "retention": {
                "dryRun": True,
                "delay": "24h",
                "policies": [
                    {
                        "repositories": ["**"],
                        "deleteReferrers": True,
                        "deleteUntagged": True,
                        "keepTags": [
                            {
                                "patterns": ["v.*"],
                                "pulledWithin": "720h",
                                "pushedWithin": "720h",
                                "mostRecentlyPushedCount": 5,
                                "mostRecentlyPulledCount": 5,
                            }
                        ],
                    }
                ],
            },
            "storageDriver": {"name": "s3", "bucket": "zot"},
            "cacheDriver": {"name": "dynamodb"},
            "subPaths": {"/team": {"rootDirectory": "/var/lib/zot-team", "gc": False}},
        },
        "http": {
            "address": "0.0.0.0",
            "port": "5000",
            "allowOrigin": "*",
            "externalUrl": "https://registry.example.test",
            "realm": "zot",
            "tls": {"cert": "c", "key": "k", "cacert": "ca"},
            "auth": {
                "failDelay": 5,
                "htpasswd": {"path": "/etc/zot/htpasswd"},
                "ldap": {
                    "credentialsFile": "/etc/zot/ldap.json",
                    "port": 389,
                    "insecure": False,
                    "startTLS": True,
                    "skipVerify": False,
                    "subtreeSearch": True,
                    "address": "ldap",
                    "userGroupAttribute": "memberOf",
                    "baseDN": "dc=example",
                    "userAttribute": "uid",
                    "userFilter": "(objectClass=person)",
                    "caCert": "/ca.pem",
                },
                "bearer": {"realm": "https://auth", "service": "zot", "cert": "/c.pem"},
                "openid": {
                    "providers": {
                        "oidc": {
                            "credentialsFile": "/etc/zot/oidc.json",
                            "name": "Authentik",
                            "clientId": "zot",
                            "clientSecret": "inline",
                            "keyPath": "/k.pem",
                            "issuer": "https://auth.example.test/application/o/zot/",
                            "scopes": ["openid", "email"],
                        }
                    }
                },
                "apikey": True,
                "sessionKeysFile": "/etc/zot/session.json",
            },
            "accessControl": {
                "repositories": {
                    "**": {
                        "policies": [policy],
                        "defaultPolicy": ["read"],
                        "anonymousPolicy": ["read"],
                    }
                },
                "adminPolicy": policy,
                "groups": {"admins": {"users": ["ops"]}},
                "metrics": {"users": ["prometheus", ""]},
            },
            "ratelimit": {"rate": 10, "methods": [{"method": "GET", "rate": 5}]},
            "compat": ["docker2s2"],
        },
        "log": {"level": "info", "output": "/var/log/zot.log", "audit": "/var/log/audit.log"},
        "extensions": {
            "search": {"enable": True, "cve": {"updateInterval": "2h"}},
            "metrics": {"enable": True, "prometheus": {"path": "/metrics"}},
            "scrub": {"enable": True, "interval": "24h"},
            "lint": {"enable": True, "mandatoryAnnotations": ["org.opencontainers.image.source"]},
            "ui": {"enable": True},
            "mgmt": {"enable": True},
            "apikey": {"enable": True},
            "trust": {"enable": True, "cosign": True, "notation": False},
        },
        "scheduler": {"numWorkers": 4},
        "cluster": {"members": ["a:5000"], "hashKey": "0123456789abcdef", "tls": {"cacert": "c"}},
    }
    assert problems(document, release=(2, 1, 6)) == []
    assert problems(document, release=NEWEST) == []
    assert problems(load(BEFORE), release=(2, 1, 6)) == []


def test_key_case_does_not_hide_a_key_of_a_newer_release() -> None:
    metrics = {"METRICS": {"anonymouspolicy": ["read"]}}
    document = {"HTTP": {"ReadTimeout": "30s", "AccessControl": metrics}}
    found = {problem.path: problem.message for problem in problems(document, release=(2, 1, 16))}
    assert found == {
        "HTTP.ReadTimeout": "unknown key in zot 2.1.16 (it arrived in 2.1.17)",
        "HTTP.AccessControl.METRICS.anonymouspolicy": (
            "unknown key in zot 2.1.16 (it arrived in 2.1.18)"
        ),
    }


def test_a_typo_lists_only_the_keys_the_release_knows() -> None:
    document = _nested((*OIDC, "claimMaping"), {})
    (old,) = problems(document, release=(2, 1, 10))
    (new,) = problems(document, release=NEWEST)
    assert old.message.startswith("unknown key (zot accepts: ")
    assert "claimMapping" not in old.message
    assert "authUrl" not in old.message
    assert "credentialsFile" in old.message
    assert "claimMapping" in new.message
    assert "authUrl" in new.message


def test_validate_names_the_release_that_would_refuse() -> None:
    document = {"http": {"readTimeout": "30s"}, "storage": {"maxRepos": 5}}
    validate(document, release=(2, 1, 17))
    with pytest.raises(ZotConfigError) as caught:
        validate(document, source="/etc/zot/config.json", release=(2, 1, 10))
    assert caught.value.path == "/etc/zot/config.json"
    assert caught.value.message == (
        "zot 2.1.10 would refuse this configuration: "
        "http.readTimeout: unknown key in zot 2.1.10 (it arrived in 2.1.17); "
        "storage.maxRepos: unknown key in zot 2.1.10 (it arrived in 2.1.16)"
    )
    # in document order
    assert [problem.path for problem in caught.value.problems] == [
        "http.readTimeout",
        "storage.maxRepos",
    ]


def test_detect_manifest_collision_is_an_action_of_every_release() -> None:
    document = {
        "http": {
            "accessControl": {
                "adminPolicy": {"users": ["ops"], "actions": ["detectManifestCollision"]},
                "repositories": {"**": {"defaultPolicy": ["read", "detectManifestCollision"]}},
            }
        }
    }
    assert problems(document, release=(2, 1, 6)) == []


def test_a_newer_key_is_still_type_checked() -> None:
    (found,) = problems({"http": {"readTimeout": "soon"}}, release=NEWEST)
    assert found.path == "http.readTimeout"
    assert "expected a duration" in found.message


# ---------------------------------------------------------------------------------------
# The hardening of each release


@pytest.mark.parametrize(
    ("release", "username_claim", "metrics"),
    [
        ("2.1.6", None, {"users": [""]}),
        ("2.1.10", None, {"users": [""]}),
        ("2.1.11", "preferred_username", {"users": [""]}),
        ("2.1.17", "preferred_username", {"users": [""]}),
        ("2.1.18", "preferred_username", {"anonymousPolicy": ["read"]}),
        ("2.1.20", "preferred_username", {"anonymousPolicy": ["read"]}),
    ],
)
def test_hardening_for_each_release_and_the_merge_validates_for_it(
    release: str, username_claim: str | None, metrics: dict[str, Any]
) -> None:
    zot = ZotRelease.parse(release)
    assert anonymous_metrics(zot) == metrics
    wanted = hardening(release)
    assert wanted.username_claim == username_claim
    assert wanted.access_control == {**POLICY, "metrics": metrics}
    assert (wanted.external_url, wanted.issuer, wanted.credentials_file) == tuple(SETTINGS.values())
    merged = merge_hardening(load(BEFORE), wanted)
    provider = merged["http"]["auth"]["openid"]["providers"]["oidc"]
    if username_claim is None:
        assert "claimMapping" not in provider
    else:
        assert provider["claimMapping"] == {"username": username_claim}
    assert merged["http"]["accessControl"]["metrics"] == metrics
    validate(merged, source="config.json", release=zot.version)
    assert problems(merged, release=zot.version) == []


@pytest.mark.parametrize(
    ("release", "refused_by", "path"),
    [
        ("2.1.6", (2, 1, 5), "http.auth.openid.providers.oidc.credentialsFile"),
        ("2.1.11", (2, 1, 10), "http.auth.openid.providers.oidc.claimMapping"),
        ("2.1.18", (2, 1, 17), "http.accessControl.metrics.anonymousPolicy"),
    ],
)
def test_a_releases_hardening_is_refused_by_the_release_before_it(
    release: str, refused_by: tuple[int, int, int], path: str
) -> None:
    merged = merge_hardening(load(BEFORE), hardening(release))
    assert [problem.path for problem in problems(merged, release=refused_by)] == [path]


def test_hardening_for_leaves_the_policy_it_was_given_alone() -> None:
    policy = access_control_policy("ci", "ops")
    snapshot = json.loads(json.dumps(policy))
    wanted = hardening_for(ZotRelease.parse("2.1.20"), policy=policy, **SETTINGS)
    assert policy == snapshot
    wanted.access_control["repositories"]["**"]["anonymousPolicy"].append("create")
    assert policy == snapshot


@pytest.mark.parametrize("spelling", ["claimMapping", "claimmapping", "CLAIMMAPPING"])
def test_merging_an_older_releases_hardening_removes_claim_mapping(spelling: str) -> None:
    newer = merge_hardening(load(BEFORE), hardening("2.1.20"))
    provider = newer["http"]["auth"]["openid"]["providers"]["oidc"]
    provider[spelling] = provider.pop("claimMapping")
    kept = json.loads(json.dumps(newer))
    older = merge_hardening(newer, hardening("2.1.10"))
    provider = older["http"]["auth"]["openid"]["providers"]["oidc"]
    assert [key for key in provider if key.lower() == "claimmapping"] == []
    assert older["http"]["accessControl"]["metrics"] == {"users": [""]}
    assert newer == kept, "merge must not modify its input"
    validate(older, release=(2, 1, 10))
    assert render(merge_hardening(older, hardening("2.1.10"))) == render(older)
