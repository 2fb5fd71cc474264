"""`field-typo` and `field-unknown`: front-matter keys mikado does not read."""

from __future__ import annotations

from pathlib import Path

import pytest
from treebuilder import doc, findings, report_of, write_tree

from mikado.checks.keys import KeyCheck
from mikado.config import load_config
from mikado.errors import ExitCode


def test_a_misspelt_requires_is_a_warning_naming_the_field_and_its_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "goal.md": doc("Goal", status="active", requries="[leaf]"),
            "leaf.md": doc("Leaf", status="active"),
        },
        actions=["goal", "leaf"],
    )
    report = report_of(tmp_path)
    assert [(f.rule, f.severity.value, f.path, f.line, f.target) for f in report.findings] == [
        ("field-typo", "warning", "goal.md", 6, "requries")
    ]
    assert "did you mean `requires`?" in report.findings[0].message
    # CI runs `check --strict`: the split chain no longer passes it
    assert report.exit_code() is ExitCode.OK
    assert report.exit_code(strict=True) is ExitCode.FAILURE


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("requries", "requires"),
        ("require", "requires"),
        ("Title", "title"),
        ("stauts", "status"),
        ("tgas", "tags"),
        ("modifed", "modified"),
        ("brnach", "branch"),
        ("actions", "action"),
    ],
)
def test_keys_a_letter_or_two_from_a_field(tmp_path: Path, key: str, meant: str) -> None:
    assert KeyCheck(load_config(cwd=tmp_path), frozenset({"field-typo"})).meant(key) == meant


@pytest.mark.parametrize(
    "key",
    [
        "author",
        "description",
        "date",
        "modified_by",
        "requirements",
        "state",
        "weight",
        "owner",
        "caption",  # as close to `action` as `requries` to `requires` by ratio
        "task",
        "requests",
        "requisites",
    ],
)
def test_keys_of_their_own_are_no_typos(tmp_path: Path, key: str) -> None:
    assert KeyCheck(load_config(cwd=tmp_path), frozenset({"field-typo"})).meant(key) is None


def test_allowed_fields_makes_every_other_key_a_warning(tmp_path: Path) -> None:
    files = {
        "a.md": doc("A", owner="ops", audience="devs"),
        "b.md": doc("B", ownr="ops"),
        "c.md": doc("C", actions="[x]", reviewer="me"),
    }
    write_tree(
        tmp_path,
        files,
        settings='allowed_fields = ["owner", "actions"]\nrequired = ["title", "reviewer"]',
    )
    report = report_of(tmp_path)
    found = [
        (f.rule, f.path, f.line, f.target) for f in report.findings if f.rule != "field-missing"
    ]
    # an allowed or required key is known: `actions` is no typo of `action` once allowed
    assert found == [
        ("field-unknown", "a.md", 6, "audience"),
        ("field-typo", "b.md", 5, "ownr"),
    ]
    messages = {f.target: f.message for f in report.findings}
    assert "`allowed_fields`" in messages["audience"]
    assert "did you mean `owner`?" in messages["ownr"]


def test_without_allowed_fields_other_keys_are_fine(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", owner="ops", audience="devs")})
    assert findings(tmp_path) == []


def test_a_changed_allowed_fields_is_not_answered_from_the_saved_report(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", owner="ops")})
    assert findings(tmp_path) == []
    (tmp_path / "mikado.toml").write_text('[mikado]\ndocs = "docs"\nallowed_fields = []\n')
    assert findings(tmp_path) == [("field-unknown", "a.md", 5, "owner")]


def test_the_key_rules_can_be_ignored_per_path(tmp_path: Path) -> None:
    files = {"drafts/a.md": doc("A", requries="[b]"), "b.md": doc("B", requries="[a]")}
    write_tree(tmp_path, files, settings='ignore = ["field-typo:drafts/*"]')
    assert findings(tmp_path) == [("field-typo", "b.md", 5, "requries")]


def test_the_goal_a_typo_cut_off_is_reported_through_the_cli(tmp_path: Path) -> None:
    from treebuilder import run_mikado

    write_tree(
        tmp_path,
        {
            "goal.md": doc("Goal", status="active", requries="[leaf]"),
            "leaf.md": doc("Leaf", status="active"),
        },
        actions=["goal", "leaf"],
    )
    result = run_mikado("check", "--strict", cwd=tmp_path)
    assert result.returncode == 1
    assert "did you mean `requires`?" in result.stdout and "field-typo" in result.stdout
