"""The check of the actions' settings tables against the keys their actions declare."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikado.engine.settings import Declaration, TableKeys, check_settings
from mikado.errors import ConfigError, ExitCode

ZOT = TableKeys(required=("url", "config_file"), optional=("reload_command", "live_timeout"))
SOURCE = Path("/srv/ops/mikado.toml")


def refused(declarations: list[Declaration], settings: dict[str, dict[str, object]]) -> str:
    with pytest.raises(ConfigError) as caught:
        check_settings(declarations, settings, source=SOURCE)
    assert caught.value.exit_code is ExitCode.USAGE
    assert caught.value.path == str(SOURCE)
    return str(caught.value)


def test_a_misspelt_key_is_refused_with_table_file_and_the_close_match() -> None:
    settings = {"zot": {"url": "http://z", "config_file": "c.json", "reload_comand": ["x"]}}
    message = refused([Declaration("harden", "zot", ZOT)], settings)
    assert message.startswith("/srv/ops/mikado.toml: unknown key `reload_comand` in [zot]")
    assert "did you mean `reload_command`?" in message
    assert "(harden)" in message


def test_a_key_like_no_other_lists_the_known_keys() -> None:
    settings = {"zot": {"url": "u", "config_file": "c", "colour": "blue"}}
    message = refused([Declaration("harden", "zot", ZOT)], settings)
    assert "known keys: config_file, live_timeout, reload_command, url" in message


def test_a_missing_required_key_is_refused_naming_the_action() -> None:
    message = refused([Declaration("harden", "zot", ZOT)], {"zot": {"url": "u"}})
    assert "[zot] lacks `config_file`, which action `harden` requires" in message


def test_every_problem_is_reported_at_once() -> None:
    settings = {"zot": {"url": "u", "reload_comand": ["x"], "live_timout": 3}}
    message = refused([Declaration("harden", "zot", ZOT)], settings)
    assert "`reload_comand`" in message and "`live_timout`" in message
    assert "lacks `config_file`" in message


def test_actions_sharing_a_table_accept_the_union_of_their_keys() -> None:
    declarations = [
        Declaration("harden", "zot", ZOT),
        Declaration("enforce", "zot", TableKeys(optional=("ci_group",))),
    ]
    check_settings(
        declarations,
        {"zot": {"url": "u", "config_file": "c", "ci_group": "g"}},
        source=SOURCE,
    )
    message = refused(declarations, {"zot": {"url": "u", "config_file": "c", "ci_grop": "g"}})
    assert "did you mean `ci_group`?" in message and "(enforce, harden)" in message


def test_a_table_named_without_keys_accepts_any_key() -> None:
    declarations = [Declaration("old-style", "zot", None), Declaration("harden", "zot", ZOT)]
    check_settings(
        declarations, {"zot": {"url": "u", "config_file": "c", "anything": 1}}, source=SOURCE
    )
    # ...but what a keyed declaration requires is still required
    assert "lacks `config_file`" in refused(declarations, {"zot": {"url": "u"}})


def test_in_pyproject_the_table_is_named_as_written_there() -> None:
    with pytest.raises(ConfigError, match=r"unknown key `urll` in \[tool\.mikado\.zot\]"):
        check_settings(
            [Declaration("harden", "zot", ZOT)],
            {"zot": {"urll": "u", "url": "u", "config_file": "c"}},
            source=Path("/srv/pyproject.toml"),
        )


def test_an_absent_table_names_its_actions_and_points_to_the_lab_and_init() -> None:
    declarations = [
        Declaration("harden", "zot", ZOT),
        Declaration("enforce", "zot", None),
        Declaration("wire", "forgejo", None),
        Declaration("wire", "ci", None),
    ]
    message = refused(declarations, {"ci": {}})
    assert "no settings tables [zot] (read by actions `enforce`, `harden`), " in message
    assert "[forgejo] (read by action `wire`) in the configuration" in message
    assert "[ci]" not in message
    assert "`mikado run GOAL --lab`" in message and "`mikado init`" in message


def test_without_any_configuration_file_the_message_says_none_was_found() -> None:
    with pytest.raises(ConfigError) as caught:
        check_settings([Declaration("harden", "zot", ZOT)], {}, source=None)
    assert caught.value.path is None
    message = str(caught.value)
    assert message.startswith("no settings table [zot] (read by action `harden`) (no mikado.toml")
    assert "--lab" in message and "mikado init" in message
