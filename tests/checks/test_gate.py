"""Every rule of docs/reference.md#check-rules on a minimal tree that breaks it and one that does
not."""

from __future__ import annotations

from pathlib import Path

import pytest
from treebuilder import Finding, doc, findings, report_of, write_tree

from mikado.errors import ExitCode
from mikado.model.rules import RULE_NAMES, RULES

OPEN = {"status": "active"}

# name: (files, expected findings); each tree also gets a root index.md linking every doc.
BROKEN: dict[str, tuple[dict[str, str | bytes], list[Finding]]] = {
    "frontmatter-missing": (
        {"a.md": "# A\n\nNo front-matter at all.\n"},
        [("frontmatter-missing", "a.md", None, None)],
    ),
    "frontmatter-invalid-yaml": (
        {"a.md": "---\ntitle: A\nbad: a: b\ntags: [x]\n---\n"},
        [("frontmatter-invalid", "a.md", 3, None)],
    ),
    "frontmatter-invalid-yaml-crlf": (
        {"a.md": "---\r\ntitle: A\r\nmodified: 2024-01-02\r\nbad: a: b\r\n---\r\n"},
        [("frontmatter-invalid", "a.md", 4, None)],
    ),
    "frontmatter-invalid-list": (
        {"a.md": "---\n- title\n- tags\n---\n"},
        [("frontmatter-invalid", "a.md", 2, None)],
    ),
    "frontmatter-invalid-never-closed": (
        {"a.md": "---\ntitle: A\nmodified: 2024-01-02\n"},
        [("frontmatter-invalid", "a.md", 1, None)],
    ),
    "field-missing": (
        {"a.md": "---\ntitle: A\nmodified: 2024-01-02\n---\n"},
        [("field-missing", "a.md", None, "tags")],
    ),
    "field-missing-null": (
        {"a.md": "---\ntitle:\nmodified: 2024-01-02\ntags: [x]\n---\n"},
        [("field-missing", "a.md", 2, "title")],
    ),
    "field-missing-blank": (
        {"a.md": '---\ntitle: ""\nmodified: 2024-01-02\ntags: [x]\n---\n'},
        [("field-missing", "a.md", 2, "title")],
    ),
    "field-type-requires-string": (
        # `abc` is one wrong value, not the three prerequisites a, b and c
        {"a.md": doc("A", requires="abc")},
        [("field-type", "a.md", 5, "requires")],
    ),
    "field-type-tags": (
        {"a.md": "---\ntitle: A\nmodified: 2024-01-02\ntags: docs\n---\n"},
        [("field-type", "a.md", 4, "tags")],
    ),
    "field-type-impossible-date": (
        {"a.md": "---\ntitle: A\nmodified: 2024-13-45\ntags: [x]\n---\n"},
        [("field-type", "a.md", 3, "modified")],
    ),
    "status-invalid": (
        {"a.md": doc("A", status="todo")},
        [("status-invalid", "a.md", 5, "status")],
    ),
    "requires-missing": (
        {"a.md": doc("A", status="active", requires="[nope]")},
        [("requires-missing", "a.md", 6, "nope")],
    ),
    "requires-self": (
        {"a.md": doc("A", status="active", requires="[a]")},
        [("requires-self", "a.md", 6, "a")],
    ),
    "cycle": (
        {
            "a.md": doc("A", status="active", requires="[b]"),
            "b.md": doc("B", status="active", requires="[a]"),
        },
        [("cycle", "a.md", 6, "a")],
    ),
    "branch-name": (
        {"a.md": doc("A", status="active", branch="feature/a")},
        [("branch-name", "a.md", 6, "branch")],
    ),
    "done-requires-open": (
        {"a.md": doc("A", requires="[b]"), "b.md": doc("B", status="active")},
        [("done-requires-open", "a.md", 5, "b")],
    ),
    "duplicate-stem": (
        {"one/same.md": doc("One"), "two/same.md": doc("Two")},
        [
            # the index's two [[same]] links are ambiguous, so neither doc is linked
            ("ambiguous-link", "index.md", 6, "same"),
            ("ambiguous-link", "index.md", 7, "same"),
            ("duplicate-stem", "one/same.md", None, "same"),
            ("orphan", "one/same.md", None, "same"),
            ("duplicate-stem", "two/same.md", None, "same"),
            ("orphan", "two/same.md", None, "same"),
        ],
    ),
    "field-duplicate": (
        {
            "a.md": doc("A", status="active", requires="[b]", **{"status ": "done"}),
            "b.md": doc("B"),
        },
        [("field-duplicate", "a.md", 7, "status")],
    ),
    "frontmatter-uneditable-anchor": (
        # the engine rewrites the `status` line: `phase` would lose what it refers to
        {"a.md": doc("A", status="&s active", phase="*s")},
        [("frontmatter-uneditable", "a.md", 5, None)],
    ),
    "frontmatter-uneditable-merge-key": (
        {"a.md": doc("A", **{"<<": "{status: active}"})},
        [("frontmatter-uneditable", "a.md", 5, None)],
    ),
    "unreadable-body": (
        {"a.md": doc("A", "fine\ncaf\xe9 [[b]]\n").encode("latin-1"), "b.md": doc("B")},
        [("unreadable", "a.md", 7, "body")],
    ),
}

CLEAN: dict[str, dict[str, str | bytes]] = {
    "front-matter and fields": {"a.md": doc("A")},
    "closing --- at the end of the file with no newline": {
        "a.md": "---\ntitle: A\nmodified: 2024-01-02\ntags: [x]\n---"
    },
    "CRLF and a BOM": {
        "a.md": "\ufeff---\r\ntitle: A\r\nmodified: 2024-01-02\r\ntags:\r\n  - x\r\n---\r\n"
        "[[b]]\r\n",
        "b.md": doc("B"),
    },
    "a chain": {
        "goal.md": doc("Goal", status="active", requires="[leaf]", branch="mikado/goal"),
        "leaf.md": doc("Leaf", status="active"),
        "done.md": doc("Done", requires="[finished]"),
        "finished.md": doc("Finished", status="done"),
    },
    "a doc without tags: an empty list is a value": {
        "a.md": "---\ntitle: A\nmodified: 2024-01-02\ntags: []\n---\n"
    },
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_tree_that_breaks_the_rule_gives_exactly_its_findings(tmp_path: Path, name: str) -> None:
    files, expected = BROKEN[name]
    write_tree(tmp_path, files, actions=["a", "b", "goal", "leaf"])
    assert findings(tmp_path) == expected


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_a_tree_that_keeps_the_rules_gives_none(tmp_path: Path, name: str) -> None:
    write_tree(tmp_path, CLEAN[name], actions=["a", "b", "goal", "leaf"])
    assert findings(tmp_path) == []


def test_field_misplaced_only_outside_cards_in(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"how-to/a.md": doc("A", status="active"), "reference/b.md": doc("B", status="active")},
        actions=["a", "b"],
        settings='cards_in = ["how-to"]',
    )
    assert findings(tmp_path) == [("field-misplaced", "reference/b.md", 5, "status")]


def test_messages_say_how_to_fix(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"a.md": doc("A", "[[b.md]] [[B]] [[x/b]] [[ b ]]\n"), "b.md": doc("B")},
    )
    messages = {f.rule + str(f.target): f.message for f in report_of(tmp_path).findings}
    assert "write [[b]]" in messages["broken-linkb.md"]
    assert "did you mean [[b]]" in messages["broken-linkB"]
    assert "[[b]]" in messages["path-linkx/b"]
    assert "write [[b]]" in messages["spaced-linkb"]


def test_every_rule_fires_and_every_rule_can_be_switched_off(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "nofm.md": "# No front-matter\n",
        "badyaml.md": "---\ntitle: A\nbad: a: b\n---\n",
        "notags.md": "---\ntitle: A\nmodified: 2024-01-02\n---\n",
        "strreq.md": doc("S", requires="abc"),
        "reference/misplaced.md": doc("M", status="active"),
        "how-to/typo.md": doc("T", status="todo"),
        "one/same.md": doc("One"),
        "two/same.md": doc("Two"),
        "how-to/missing.md": doc("M", status="active", requires="[nope]"),
        "how-to/selfish.md": doc("S", status="active", requires="[selfish]"),
        "how-to/ca.md": doc("A", status="active", requires="[cb]"),
        "how-to/cb.md": doc("B", status="active", requires="[ca]"),
        "how-to/goal.md": doc("G", status="active", branch="feature/x"),
        "how-to/done.md": doc("D", requires="[goal]"),
        "links.md": doc("L", "[[nope]] [[ links ]] [[x/links]] [[same]]\n"),
        "cat/cat.md": doc("Cat"),
        "cat/lost.md": doc("Lost"),
        "unread.md": doc("U", "caf\xe9\n").encode("latin-1"),
        "how-to/twice.md": doc("T", status="active", **{"status ": "active"}),
        "how-to/flow.md": "---\n{title: F, modified: 2024-01-02, tags: [x], status: done}\n---\n",
        "how-to/misspelt.md": doc("M", status="active", requries="[goal]"),
        "owned.md": doc("O", owner="ops"),
    }
    settings = 'cards_in = ["how-to"]\nallowed_fields = []'
    write_tree(tmp_path, files, index=False, settings=settings)
    assert {rule for rule, *_ in findings(tmp_path)} == RULE_NAMES
    ignored = ", ".join(f'"{rule}"' for rule in sorted(RULE_NAMES))
    (tmp_path / "mikado.toml").write_text(
        f'[mikado]\ndocs = "docs"\ncards_in = ["how-to"]\nignore = [{ignored}]\n'
    )
    assert findings(tmp_path) == []


def test_a_rule_can_be_switched_off_for_the_paths_a_pattern_matches(tmp_path: Path) -> None:
    files = {
        "work/manual-step.md": doc("Manual", status="active"),
        "work/automated.md": doc("Automated", status="active"),
        "manual-other.md": doc("Other", status="active"),
    }
    write_tree(tmp_path, files, settings='ignore = ["action-missing:work/manual-*.md"]')
    # the pattern matches one doc; the rule still fires on the others
    assert [(rule, path) for rule, path, *_ in findings(tmp_path)] == [
        ("action-missing", "manual-other.md"),
        ("action-missing", "work/automated.md"),
    ]
    # paths are matched from the docs root: this pattern now takes the root doc only
    (tmp_path / "mikado.toml").write_text(
        '[mikado]\ndocs = "docs"\nignore = ["action-missing:manual-*.md"]\n'
    )
    assert [path for _, path, *_ in findings(tmp_path)] == [
        "work/automated.md",
        "work/manual-step.md",
    ]


def test_links_to_docs_the_site_build_adds_are_valid_once_configured(tmp_path: Path) -> None:
    files = {"a.md": doc("A", "Changes: [[CHANGELOG]], [[CHANGELOG#v1|v1]], [[NEWS]].\n")}
    write_tree(tmp_path, files)
    assert findings(tmp_path) == [
        ("broken-link", "a.md", 6, "CHANGELOG"),
        ("broken-link", "a.md", 6, "CHANGELOG"),
        ("broken-link", "a.md", 6, "NEWS"),
    ]
    assert "build_time_docs" in report_of(tmp_path).findings[0].message
    # the saved report must not be reused once the setting changes
    (tmp_path / "mikado.toml").write_text(
        '[mikado]\ndocs = "docs"\nbuild_time_docs = ["CHANGELOG"]\n'
    )
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "NEWS")]


def test_a_build_time_name_that_is_a_stem_is_still_decided_by_the_stem(tmp_path: Path) -> None:
    files = {
        "one/CHANGELOG.md": doc("One"),
        "two/CHANGELOG.md": doc("Two"),
        "a.md": doc("A", "[[CHANGELOG]]\n"),
    }
    write_tree(tmp_path, files, index=False, settings='build_time_docs = ["CHANGELOG"]')
    assert ("ambiguous-link", "a.md", 6, "CHANGELOG") in findings(tmp_path)


def test_severities_and_exit_codes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", status="active")})  # no action: a warning only
    report = report_of(tmp_path)
    assert [(f.rule, f.severity.value) for f in report.findings] == [("action-missing", "warning")]
    assert report.exit_code() is ExitCode.OK
    assert report.exit_code(strict=True) is ExitCode.FAILURE
    assert {rule: RULES[rule].value for rule in ("action-missing", "orphan")} == {
        "action-missing": "warning",
        "orphan": "error",
    }


def test_action_missing_names_the_module_to_add(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "has.md": doc("Has", status="active"),
            "named.md": doc("Named", status="failed", action="shared"),
            "none.md": doc("None", status="running"),
            "helper.md": doc("Helper", status="active", action="_chain"),
            "complete.md": doc("Complete"),
        },
        actions=["has", "shared", "_chain"],
    )
    report = report_of(tmp_path)
    # `_chain.py` is a helper the actions share: `run` never runs it, so no more does check
    assert [(f.rule, f.path, f.target) for f in report.findings] == [
        ("action-missing", "helper.md", "helper"),
        ("action-missing", "none.md", "none"),
    ]
    assert "actions/none.py" in report.findings[1].message
    assert "mikado done none" in report.findings[1].message


def test_counts_docs_and_cards(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"a.md": doc("A", status="active"), "b.md": doc("B", requires="[c]"), "c.md": doc("C")},
        actions=["a"],
    )
    report = report_of(tmp_path)
    assert (report.docs, report.cards, report.errors, report.warnings) == (4, 2, 0, 0)


def test_the_projects_own_cards_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from treebuilder import run_mikado

    project = Path(__file__).resolve().parents[2]
    result = run_mikado("check", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"errors": 0' in result.stdout


def test_progress_counts_every_doc_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import mikado.tree.workers
    from mikado.checks.gate import check_docs
    from mikado.config import load_config

    write_tree(tmp_path, {f"d{n:02d}.md": doc(f"D{n}") for n in range(30)})
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 7)
    config = load_config(cwd=tmp_path)
    total = 31  # with the index

    def progress_of_a_check() -> list[int]:
        seen: list[tuple[int, int]] = []
        check_docs(config, lambda done, of: seen.append((done, of)))
        assert {of for _, of in seen} == {total}
        return [done for done, _ in seen]

    time.sleep(0.05)  # old enough to be cached
    cold = progress_of_a_check()
    assert cold[0] == 0 and cold[-1] == total and cold == sorted(cold)
    time.sleep(0.05)
    (tmp_path / "docs" / "d05.md").write_text(doc("Changed"))
    warm = progress_of_a_check()  # one doc read again, the others from the cache
    assert warm == [total - 1, total]


def test_temporary_files_a_killed_writer_left_are_not_docs(tmp_path: Path) -> None:
    """A write killed between creating its temporary file and renaming it leaves
    `.a.md.<pid>.<random>.tmp` beside the card: hidden, so never a doc, an embed target or a
    finding, however it is named."""
    write_tree(tmp_path, {"a.md": doc("A", "![[a.md.x.tmp]]\n")})
    for name in (".a.md.4242.abcdefgh.tmp", ".a.md.abcdefgh.tmp", ".a.md.x.md"):
        (tmp_path / "docs" / name).write_text("---\ntitle: half a card")
    (tmp_path / "docs" / "a.md.x.tmp").write_text("an embedded file, not hidden")
    report = report_of(tmp_path)
    assert report.findings == () and report.docs == 2
    (tmp_path / "docs" / "a.md.x.tmp").unlink()
    (tmp_path / "docs" / ".a.md.x.tmp").write_text("hidden: not an embed target")
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "a.md.x.tmp")]
