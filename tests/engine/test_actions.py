"""Loading actions by path: a module per card stem, `action:` overriding it, helpers, and
import errors reported with the file and line before anything runs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mikado.engine.actions import ActionRegistry, action_names
from mikado.engine.settings import TableKeys
from mikado.errors import ActionLoadError


def write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_a_module_provides_its_hooks_and_declared_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "register-client",
        """
        SETTINGS = ("authentik", "zot")
        def check(ctx): return False
        def apply(ctx): return None
        def rollback(ctx): pass
        """,
    )
    action = ActionRegistry(tmp_path).load("register-client")
    assert action.settings == ("authentik", "zot")
    assert action.check is not None and action.rollback is not None and action.verify is None
    assert action.can_recheck


def test_settings_may_declare_the_keys_of_each_table(tmp_path: Path) -> None:
    write(
        tmp_path,
        "keyed",
        """
        from mikado.engine.settings import TableKeys
        SETTINGS = {
            "zot": ("url", "external_url"),
            "ci": TableKeys(required=("repository_path",), optional=("registry_host",)),
        }
        def apply(ctx): return None
        """,
    )
    action = ActionRegistry(tmp_path).load("keyed")
    assert action.settings == ("zot", "ci")
    assert action.setting_keys == {
        "zot": TableKeys(optional=("url", "external_url")),
        "ci": TableKeys(required=("repository_path",), optional=("registry_host",)),
    }
    assert [d.keys for d in action.declarations()] == list(action.setting_keys.values())


def test_helpers_are_not_actions_but_can_be_imported(tmp_path: Path) -> None:
    write(tmp_path, "_common", "GREETING = 'hi'\n")
    write(
        tmp_path, "uses-helper", "import _common\ndef apply(ctx): return {'g': _common.GREETING}\n"
    )
    assert action_names(tmp_path) == frozenset({"uses-helper"})
    action = ActionRegistry(tmp_path).load("uses-helper")
    assert action.apply(None) == {"g": "hi"}
    # On sys.path only while the module imported: nothing else imports from the folder.
    assert str(tmp_path) not in sys.path


def test_dataclasses_work_inside_an_action_module(tmp_path: Path) -> None:
    write(
        tmp_path,
        "typed",
        """
        from dataclasses import dataclass
        @dataclass
        class Wanted:
            name: str
        def apply(ctx): return {"name": Wanted("x").name}
        """,
    )
    assert ActionRegistry(tmp_path).load("typed").apply(None) == {"name": "x"}


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("x = 1\ndef apply(ctx) pass\n", 2, "does not compile"),
        ("import os\nimport zot_sdk_not_installed\n", 2, "ModuleNotFoundError"),
        ("VALUE = 1 / 0\n", 1, "ZeroDivisionError: division by zero"),
        ("def check(ctx): return True\n", None, "defines no `apply(ctx)`"),
        ("SETTINGS = 'zot'\ndef apply(ctx): pass\n", None, "SETTINGS must be a tuple"),
        ("SETTINGS = {'zot': 'url'}\ndef apply(ctx): pass\n", None, "SETTINGS['zot'] must be"),
        ("SETTINGS = {'zot': [1]}\ndef apply(ctx): pass\n", None, "SETTINGS['zot'] must be"),
        ("SETTINGS = {1: ()}\ndef apply(ctx): pass\n", None, "or a mapping of table names"),
        ("apply = 3\n", None, "`apply` is not a function"),
    ],
)
def test_a_broken_module_is_reported_with_file_and_line(
    tmp_path: Path, source: str, line: int | None, words: str
) -> None:
    path = write(tmp_path, "broken", source)
    with pytest.raises(ActionLoadError) as caught:
        ActionRegistry(tmp_path).load("broken")
    assert words in caught.value.message
    assert caught.value.path == str(path)
    assert caught.value.line == line


def test_load_all_reports_every_broken_module_at_once(tmp_path: Path) -> None:
    write(tmp_path, "one", "raise RuntimeError('first')\n")
    write(tmp_path, "two", "raise RuntimeError('second')\n")
    write(tmp_path, "fine", "def apply(ctx): pass\n")
    with pytest.raises(ActionLoadError) as caught:
        ActionRegistry(tmp_path).load_all(["one", "fine", "two"])
    assert "first" in str(caught.value) and "second" in str(caught.value)


def test_a_missing_actions_folder_has_no_actions(tmp_path: Path) -> None:
    assert action_names(tmp_path / "nowhere") == frozenset()
    assert not ActionRegistry(tmp_path / "nowhere").has("x")


def test_the_action_field_names_another_module(tmp_path: Path) -> None:
    from chain_fixtures import make_tree

    from mikado.config import load_config
    from mikado.engine.plan import RunOptions, plan_run

    tree = make_tree(
        tmp_path,
        {"card-a": {"action": "shared"}, "card-b": {}},
        {"shared": "def apply(ctx): pass\n"},
    )
    prepared = plan_run(load_config(cwd=tree.root), "card-a", RunOptions(dry_run=True))
    assert [s.as_json() for s in prepared.cards] == [
        {"stem": "card-a", "action": "shared", "will": "run"}
    ]
