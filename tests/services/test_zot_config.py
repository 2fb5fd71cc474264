"""zot configuration: load, merge the hardening, validate against zot's keys, write safely."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mikado.services.zot_config import (
    ZotConfigError,
    ZotHardening,
    access_control_policy,
    credentials_file_text,
    load,
    merge_hardening,
    problems,
    render,
    unified_diff,
    validate,
    write_atomic,
    write_credentials_file,
)

BEFORE = Path(__file__).parent / "data" / "zot-config.before.json"

HARDENING = ZotHardening(
    external_url="https://registry.example.test",
    issuer="https://auth.example.test/application/o/zot/",
    credentials_file="/etc/zot/oidc-credentials.json",
    access_control=access_control_policy("artifact-workloads", "admins"),
)


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
            "'raed' is not one of create, delete, read, update",
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
    policy = access_control_policy("ci", "ops", metrics_users=["prometheus"])
    repository = policy["repositories"]["**"]
    grants = {tuple(entry["groups"]): set(entry["actions"]) for entry in repository["policies"]}
    assert grants == {("ci",): {"read", "create"}, ("ops",): {"read", "create", "update", "delete"}}
    assert repository["anonymousPolicy"] == ["read"]
    assert policy["metrics"] == {"users": ["prometheus"]}
    assert "metrics" not in access_control_policy("ci", "ops")
    assert problems({"http": {"accessControl": policy}}) == []
