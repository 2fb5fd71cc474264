"""The command line as people and programs use it: real subprocesses for what a user sees,
in-process calls where only the result matters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from conftest import Tree
from terminal import on_a_terminal
from treebuilder import card_text, run_mikado

from mikado import __version__
from mikado.cli import cli, run_cli

REPO = Path(__file__).resolve().parents[2]


def invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def zot_tree(tree: Tree) -> Path:
    return tree(
        {
            "how-to/zot/goal.md": card_text(
                "Goal", status="active", requires=["oidc", "wire"], branch="mikado/goal"
            ),
            "how-to/zot/oidc.md": card_text("OIDC", status="failed"),
            "how-to/zot/wire.md": card_text("Wire", status="active", requires=["base"]),
            "how-to/zot/base.md": card_text("Base"),
            "reference/other.md": card_text("Other"),
            "changelog.d/+x.md": b"not a card at all: \xff",
        }
    )


def test_shipped_chain_status_json_matches_the_spec() -> None:
    result = run_mikado("status", "--format", "json", cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [chain] = data["chains"]
    assert {k: chain[k] for k in ("goal", "title", "branch", "done", "total")} == {
        "goal": "harden-zot-registry",
        "title": "Harden Zot Registry",
        "branch": None,
        "done": 0,
        "total": 6,
    }
    leaves = ["enforce-tag-immutability", "register-zot-oidc-client"]
    assert chain["ready"] == leaves
    assert chain["failed"] == [] and chain["blocked"] == []
    assert [c["stem"] for c in chain["cards"]] == [
        *leaves,
        "switch-on-zot-auth",
        "mint-zot-ci-api-key",
        "wire-ci-registry-auth",
        "harden-zot-registry",
    ]
    first = chain["cards"][0]
    assert set(first) == {"stem", "title", "path", "status", "requires", "state"}
    assert first["path"] == "zot/enforce-tag-immutability.md"
    assert (first["status"], first["requires"], first["state"]) == ("active", [], "ready")
    assert chain["cards"][-1]["requires"] == [
        "wire-ci-registry-auth",
        "switch-on-zot-auth",
        "enforce-tag-immutability",
    ]


def test_status_table_for_people(capsys: pytest.CaptureFixture[str], zot_tree: Path) -> None:
    code, out, _ = invoke(capsys, "--docs", str(zot_tree), "status")
    assert code == 0
    header, row, *rest = out.splitlines()
    assert header.split() == ["GOAL", "TITLE", "BRANCH", "DONE", "READY", "FAILED", "BLOCKED"]
    assert re.split(r"\s{2,}", row) == [
        "goal",
        "Goal",
        "mikado/goal",
        "1/4",
        "wire",
        "oidc",
        "goal",
    ]
    assert any(line.startswith("failed oidc: no journal entry") for line in rest)
    assert "\x1b[" not in out  # not a terminal: no colour


def test_status_goal_tree_and_failed_error_from_journal(
    capsys: pytest.CaptureFixture[str], zot_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = zot_tree.parent / ".mikado"
    runtime.mkdir()
    (runtime / "journal.jsonl").write_text(
        '{"event": "card-end", "stem": "oidc", "outcome": "failed", "error": "Authentik: 403",'
        ' "time": "2026-11-01T10:00:00+00:00"}\n{"torn line\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(zot_tree.parent)  # restored after the test: other tests run here too
    code, out, _ = invoke(capsys, "status", "goal", "--docs", "docs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Goal — 1/4 done, mikado/goal"
    assert lines[1].endswith("goal — Goal  [blocked]")
    assert lines[2].startswith("├── ✗ oidc — OIDC  [failed]")
    assert "Authentik: 403" in lines[2]
    assert lines[3].startswith("└── ▶ wire")
    assert lines[4].startswith("    └── ✓ base")

    code, out, _ = invoke(capsys, "status", "--format", "json", "--docs", "docs")
    oidc = next(c for c in json.loads(out)["chains"][0]["cards"] if c["stem"] == "oidc")
    assert oidc["error"] == "Authentik: 403"
    assert oidc["failed_at"] == "2026-11-01T10:00:00+00:00"


def test_shared_prerequisite_drawn_once(capsys: pytest.CaptureFixture[str], tree: Tree) -> None:
    root = tree(
        {
            "g.md": card_text("G", status="active", requires=["a", "b"]),
            "a.md": card_text("A", status="active", requires=["s"]),
            "b.md": card_text("B", status="active", requires=["s"]),
            "s.md": card_text("S", status="active", requires=["t"]),
            "t.md": card_text("T", status="active"),
        }
    )
    code, out, _ = invoke(capsys, "--docs", str(root), "status", "g")
    assert code == 0
    assert out.count("s — S") == 1
    assert out.count("t — T") == 1
    lines = out.splitlines()
    assert lines[-1] == "    └── · s  (see above)"  # b's prerequisite, named only


def test_global_options_before_or_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], zot_tree: Path
) -> None:
    before = invoke(capsys, "--docs", str(zot_tree), "--format", "json", "status")
    after = invoke(capsys, "status", "--format", "json", "--docs", str(zot_tree))
    mixed = invoke(capsys, "--format", "json", "status", "--docs", str(zot_tree))
    assert before == after == mixed
    assert before[0] == 0 and json.loads(before[1])["chains"][0]["goal"] == "goal"


def test_the_option_after_the_subcommand_wins(
    capsys: pytest.CaptureFixture[str], zot_tree: Path, tmp_path: Path
) -> None:
    code, out, _ = invoke(capsys, "--docs", str(tmp_path / "nope"), "next", "--docs", str(zot_tree))
    assert code == 0
    assert out.split() == ["oidc", "wire"]


def test_next_lists_takeable_cards(capsys: pytest.CaptureFixture[str], zot_tree: Path) -> None:
    code, out, _ = invoke(capsys, "--docs", str(zot_tree), "next", "goal")
    assert (code, out) == (0, "oidc\nwire\n")
    code, out, _ = invoke(capsys, "--docs", str(zot_tree), "next", "--format", "json")
    assert json.loads(out) == {"next": ["oidc", "wire"]}


def test_next_escapes_what_a_file_name_would_make_a_terminal_do(
    capsys: pytest.CaptureFixture[str], tree: Tree
) -> None:
    """`next` prints stems, which are file names: an escape sequence in one is shown, not
    obeyed (JSON keeps the name as it is)."""
    stem = "ti\x1b]0;owned\x07tle"
    docs = tree(
        {
            f"{stem}.md": card_text("Odd", status="active"),
            "index.md": card_text("Index", body=f"[[{stem}]]"),
        }
    )
    code, out, _ = invoke(capsys, "--docs", str(docs), "next")
    assert (code, out) == (0, "ti\\x1b]0;owned\\x07tle\n")
    code, out, _ = invoke(capsys, "--docs", str(docs), "next", "--format", "json")
    assert json.loads(out) == {"next": [stem]}


def test_unknown_goal_is_a_usage_error_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], zot_tree: Path
) -> None:
    code, _, err = invoke(capsys, "--docs", str(zot_tree), "status", "gaol")
    assert code == 2
    assert "no card `gaol`" in err and "did you mean `goal`?" in err


def test_unsupported_format_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], zot_tree: Path
) -> None:
    code, _, err = invoke(capsys, "--docs", str(zot_tree), "status", "--format", "github")
    assert code == 2
    assert "does not support --format github" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "--version")
    assert code == 0 and out.strip() == f"mikado, version {__version__}"


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    names = cli.list_commands(click.Context(cli))
    assert {"status", "check", "run", "lab"} <= set(names)
    code, out, _ = invoke(capsys, "--help")
    assert code == 0 and all(name in out for name in names)
    for name in names:
        code, out, _ = invoke(capsys, name, "--help")
        assert code == 0, name
        assert "Examples:" in out and f"mikado {name}" in out, name
        assert "--docs" in out and "--format" in out, name


def test_unknown_command_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(capsys, "stauts")
    assert code == 2 and "did you mean `status`?" in err


BAD_DOCS: dict[str, tuple[bytes, int | None]] = {
    "invalid-yaml": (b"---\ntitle: A\ntags: [a\n---\n", 3),
    "list-front-matter": (b"---\n- title\n---\n", 2),
    "requires-string": (b"---\ntitle: A\nstatus: active\nrequires: abc\n---\n", 4),
    "non-utf8": (b"---\ntitle: \xff\xfe\n---\n", 2),
    "empty": (b"", None),
    "unclosed": (b"---\ntitle: A\n", 1),
    "bad-status": (b"---\ntitle: A\nstatus: doing\n---\n", 3),
}


@pytest.mark.parametrize("name", sorted(BAD_DOCS))
def test_bad_input_exits_1_naming_file_and_line_without_traceback(tree: Tree, name: str) -> None:
    content, line = BAD_DOCS[name]
    root = tree({f"how-to/{name}.md": content, "how-to/ok.md": card_text("Ok", status="active")})
    result = run_mikado("--docs", root, "status", cwd=root.parent)
    assert result.returncode == 1
    where = f"how-to/{name}.md" + (f":{line}" if line else "")
    assert where + ":" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


@pytest.mark.parametrize(
    "files",
    [
        {"a/dup.md": "A", "b/dup.md": "B"},
        {"g.md": "requires-missing"},
        {"x.md": "cycle-x", "y.md": "cycle-y"},
    ],
)
def test_graph_problems_exit_1(tree: Tree, files: dict[str, str]) -> None:
    texts = {
        "A": card_text("A"),
        "B": card_text("B"),
        "requires-missing": card_text("G", status="active", requires=["ghost"]),
        "cycle-x": card_text("X", status="active", requires=["y"]),
        "cycle-y": card_text("Y", status="active", requires=["x"]),
    }
    root = tree({path: texts[key] for path, key in files.items()})
    result = run_mikado("--docs", root, "status", cwd=root.parent)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert next(iter(files)) in result.stderr


def test_cycle_message(tree: Tree) -> None:
    root = tree(
        {
            "x.md": card_text("X", status="active", requires=["y"]),
            "y.md": card_text("Y", status="active", requires=["x"]),
        }
    )
    result = run_mikado("--docs", root, "next", cwd=root.parent)
    assert result.returncode == 1
    assert "x → y → x" in result.stderr


def test_configuration_error_exits_2(tmp_path: Path) -> None:
    (tmp_path / "mikado.toml").write_text('[mikado]\ndoc = "cards"\n')
    result = run_mikado("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key `doc`" in result.stderr and "mikado.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_error_prints_one_line_and_writes_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mikado.config

    def explode(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mikado.config, "load_config", explode)
    code, _, err = invoke(capsys, "status")
    assert code == 1
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom" in err
    log = (tmp_path / ".mikado" / "crash.log").read_text()
    assert "Traceback" in log and "RuntimeError: boom" in log and __version__ in log


def test_seed_shaped_docs_tree(tree: Tree, tmp_path: Path) -> None:
    root = tree(
        {
            "how-to/how-to.md": card_text("How-to", body="[[zot]]"),
            "how-to/zot/harden.md": card_text("Harden", status="active", requires=["oidc", "wire"]),
            "how-to/zot/oidc.md": card_text("OIDC", status="active"),
            "how-to/zot/wire.md": card_text("Wire", status="active"),
            "how-to/plans/plans.md": card_text("Plans"),
            "reference/services/zot.md": card_text("Zot"),
            "changelog.d/+harden.feature.md": "Hardened zot\n",
            "tutorials/start.md": card_text("Start"),
        }
    )
    result = run_mikado("--docs", root, "status", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [chain] = json.loads(result.stdout)["chains"]
    assert (chain["goal"], chain["done"], chain["total"]) == ("harden", 0, 3)
    assert chain["cards"][0]["path"] == "how-to/zot/oidc.md"


def test_colour_only_on_a_terminal_and_never_with_no_color(zot_tree: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = on_a_terminal(["--docs", str(zot_tree), "status"], zot_tree.parent, env)
    assert "\x1b[" in coloured and "oidc" in coloured
    plain = on_a_terminal(
        ["--docs", str(zot_tree), "status"], zot_tree.parent, {**env, "NO_COLOR": "1"}
    )
    assert "\x1b[" not in plain and "oidc" in plain


def test_check_help_lists_every_rule_with_its_severity(capsys: pytest.CaptureFixture[str]) -> None:
    """The help's rule list is written out by hand; it must not drift from the rules."""
    from mikado.model.findings import Severity
    from mikado.model.rules import RULES

    code, out, _ = invoke(capsys, "check", "--help")
    assert code == 0
    listed = re.findall(r"([a-z]+(?:-[a-z]+)*)( \(warning\))?[,\n]", out.split("Rules")[1])
    shown = {name: bool(warned) for name, warned in listed if name in RULES}
    assert shown == {name: s is Severity.WARNING for name, s in RULES.items()}
