"""The run loop in-process: states written to the cards, the journal, stopping rules, and the
options that change what runs."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from chain_fixtures import RECORDING_ACTION, Tree, make_tree

from mikado.config import load_config
from mikado.engine.journal import last_failures
from mikado.engine.plan import RunOptions, Will, plan_run
from mikado.engine.results import Outcome, RunResult
from mikado.engine.runner import Runner
from mikado.errors import ConfigError, DocsError, ExitCode, UsageError
from mikado.tree.loader import load_docs

TODAY = date(2026, 5, 17)

ORDERED = """
from pathlib import Path
LOG = Path(__file__).resolve().parent.parent / "order.log"
def apply(ctx):
    with LOG.open("a") as f:
        f.write(ctx.stem + "\\n")
"""

FAILING = """
def apply(ctx):
    raise RuntimeError("the registry said no")
"""


def run(tree: Tree, goal: str, **options: Any) -> RunResult:
    config = load_config(cwd=tree.root)
    opts = RunOptions(**options)
    prepared = plan_run(config, goal, opts)
    return Runner(prepared, options=opts, today=lambda: TODAY).run()


def order(tree: Tree) -> list[str]:
    path = tree.root / "order.log"
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def diamond(tmp_path: Path) -> Tree:
    """goal requires left and right; both require base."""
    cards = {
        "base": {},
        "left": {"requires": ["base"]},
        "right": {"requires": ["base"]},
        "goal": {"requires": ["left", "right"]},
    }
    return make_tree(tmp_path, cards, {stem: ORDERED for stem in cards})


def test_a_chain_runs_leaves_first_and_completes_every_card(diamond: Tree) -> None:
    result = run(diamond, "goal")
    assert result.exit_code == ExitCode.OK
    assert order(diamond) == ["base", "left", "right", "goal"]
    for stem in ("base", "left", "right", "goal"):
        meta = diamond.meta(stem)
        assert "status" not in meta
        assert meta["modified"] == TODAY
    events = [(r["event"], r.get("stem")) for r in diamond.journal()]
    assert events[0] == ("run-start", None)
    assert events[-1] == ("run-end", None)
    assert ("card-start", "base") in events and ("card-end", "goal") in events
    ends = [r for r in diamond.journal() if r["event"] == "card-end"]
    assert all(r["outcome"] == "done" and r["duration"] >= 0 for r in ends)


def test_completion_done_writes_status_done(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}}, {"a": ORDERED}, config='completion = "done"\n')
    assert run(tree, "a").exit_code == ExitCode.OK
    assert tree.status("a") == "done"


def test_complete_cards_are_skipped(diamond: Tree) -> None:
    path = diamond.card_path("base")
    path.write_text(path.read_text().replace("status: active\n", ""))
    result = run(diamond, "goal")
    assert result.outcomes["base"] is Outcome.SKIPPED
    assert order(diamond) == ["left", "right", "goal"]


def test_a_failure_marks_the_card_stops_the_run_and_reaches_status(tmp_path: Path) -> None:
    cards = {"a": {}, "b": {}, "goal": {"requires": ["a", "b"]}}
    tree = make_tree(tmp_path, cards, {"a": FAILING, "b": ORDERED, "goal": ORDERED})
    result = run(tree, "goal")
    assert result.exit_code == ExitCode.FAILURE
    assert tree.status("a") == "failed"
    assert tree.meta("a")["modified"] == TODAY
    assert order(tree) == []  # b comes after a in run order: the run stopped first
    assert tree.status("b") == "active"
    failure = last_failures(tree.runtime, ["a"])["a"]
    assert failure.error == "RuntimeError: the registry said no (a.py:3)"

    # The failed card runs again next time.
    (tree.root / "actions" / "a.py").write_text(ORDERED)
    assert run(tree, "goal").exit_code == ExitCode.OK
    assert order(tree) == ["a", "b", "goal"]
    assert last_failures(tree.runtime, ["a"]) == {}


def test_keep_going_holds_back_only_the_dependents_of_a_failure(tmp_path: Path) -> None:
    cards = {
        "a": {},
        "after-a": {"requires": ["a"]},
        "b": {},
        "goal": {"requires": ["after-a", "b"]},
    }
    actions = {"a": FAILING, "after-a": ORDERED, "b": ORDERED, "goal": ORDERED}
    tree = make_tree(tmp_path, cards, actions)
    result = run(tree, "goal", keep_going=True)
    assert result.exit_code == ExitCode.FAILURE
    assert order(tree) == ["b"]
    assert result.outcomes["after-a"] is Outcome.WAITING
    assert result.outcomes["goal"] is Outcome.WAITING
    assert tree.status("after-a") == "active"


def test_a_card_without_action_stops_the_run_with_exit_5(tmp_path: Path) -> None:
    cards = {"by-hand": {}, "z-auto": {}, "goal": {"requires": ["by-hand", "z-auto"]}}
    tree = make_tree(tmp_path, cards, {"z-auto": ORDERED, "goal": ORDERED})
    result = run(tree, "goal")
    assert result.exit_code == ExitCode.MANUAL
    assert result.outcomes["by-hand"] is Outcome.MANUAL
    assert order(tree) == []
    assert tree.status("by-hand") == "active"

    kept_going = run(tree, "goal", keep_going=True)
    assert kept_going.exit_code == ExitCode.MANUAL
    assert order(tree) == ["z-auto"]
    assert kept_going.outcomes["goal"] is Outcome.WAITING


def test_the_plan_says_run_skip_manual_and_wait(tmp_path: Path) -> None:
    cards = {
        "done-one": {"status": None},
        "by-hand": {},
        "auto": {"requires": ["done-one"]},
        "goal": {"requires": ["by-hand", "auto"]},
    }
    tree = make_tree(tmp_path, cards, {"auto": ORDERED, "goal": ORDERED})
    prepared = plan_run(load_config(cwd=tree.root), "goal", RunOptions(dry_run=True))
    plan = {s.stem: s.will for s in prepared.cards}
    assert plan == {
        "auto": Will.RUN,
        "by-hand": Will.MANUAL,
        "done-one": Will.SKIP,
        "goal": Will.WAIT,
    }
    assert prepared.as_json()["plan"] == [
        {"stem": "by-hand", "action": None, "will": "manual"},
        {"stem": "done-one", "action": None, "will": "skip"},
        {"stem": "auto", "action": "auto", "will": "run"},
        {"stem": "goal", "action": "goal", "will": "wait"},
    ]


def test_only_runs_one_card_and_is_refused_while_prerequisites_are_open(diamond: Tree) -> None:
    with pytest.raises(UsageError, match="prerequisites are still open: base"):
        run(diamond, "goal", only="left")
    assert run(diamond, "goal", only="base").exit_code == ExitCode.OK
    assert order(diamond) == ["base"]
    assert run(diamond, "goal", only="left").exit_code == ExitCode.OK
    assert order(diamond) == ["base", "left"]
    assert diamond.status("right") == "active"


def test_a_stale_running_card_runs_again(diamond: Tree) -> None:
    path = diamond.card_path("base")
    path.write_text(path.read_text().replace("status: active", "status: running"))
    assert run(diamond, "goal").exit_code == ExitCode.OK
    assert order(diamond)[0] == "base"


RECHECKED = """
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
def check(ctx):
    return (ROOT / (ctx.stem + ".present")).exists()
def apply(ctx):
    (ROOT / (ctx.stem + ".present")).touch()
    with (ROOT / "order.log").open("a") as f:
        f.write(ctx.stem + "\\n")
"""


def test_recheck_reopens_and_reruns_a_card_that_no_longer_holds(tmp_path: Path) -> None:
    cards = {
        "kept": {"status": None},
        "lost": {"status": None},
        "goal": {"requires": ["kept", "lost"]},
    }
    tree = make_tree(tmp_path, cards, {"kept": RECHECKED, "lost": RECHECKED, "goal": RECHECKED})
    (tmp_path / "kept.present").touch()
    result = run(tree, "goal", recheck=True)
    assert result.exit_code == ExitCode.OK
    assert result.outcomes["kept"] is Outcome.HELD
    assert order(tree) == ["lost", "goal"]
    assert "status" not in tree.meta("lost")
    outcomes = [(r["stem"], r["outcome"]) for r in tree.journal() if r["event"] == "card-end"]
    assert ("lost", "reopened") in outcomes and ("lost", "done") in outcomes


def test_a_check_that_says_done_skips_apply_and_completes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}}, {"a": RECORDING_ACTION})
    (tmp_path / "effects.log").write_text("a\n")
    result = run(tree, "a")
    assert result.outcomes["a"] is Outcome.SATISFIED
    assert tree.effects() == ["a"]
    assert tree.status("a") is None


def test_a_check_must_return_a_boolean(tmp_path: Path) -> None:
    source = "def check(ctx):\n    pass\ndef apply(ctx):\n    pass\n"
    tree = make_tree(tmp_path, {"a": {}}, {"a": source})
    result = run(tree, "a")
    assert result.exit_code == ExitCode.FAILURE
    assert "check(ctx) must return True or False, not NoneType" in result.errors["a"]


def test_verify_false_or_raising_fails_the_card(tmp_path: Path) -> None:
    source = "def apply(ctx):\n    pass\ndef verify(ctx):\n    return False\n"
    tree = make_tree(tmp_path, {"a": {}}, {"a": source})
    result = run(tree, "a")
    assert tree.status("a") == "failed"
    assert "verify returned False" in result.errors["a"]


def test_a_hung_action_fails_at_its_timeout(tmp_path: Path) -> None:
    source = """
    import time
    def apply(ctx):
        ctx.cancelled.wait(30)
    """
    tree = make_tree(tmp_path, {"slow": {}}, {"slow": source}, config="timeout = 0.3\n")
    result = run(tree, "slow")
    assert result.exit_code == ExitCode.FAILURE
    assert tree.status("slow") == "failed"
    # the deadline failed it: an action left to its 30 s wait would have completed
    assert result.errors["slow"].startswith("timed out after 0.3 s")
    assert result.errors["slow"] == "timed out after 0.3 s"


OUTPUTS_WRITER = """
def apply(ctx):
    return {"issuer": "https://id.example/app/"}
"""
OUTPUTS_READER = """
def apply(ctx):
    issuer = ctx.outputs.read("writer", "issuer")
    ctx.outputs.set("seen", issuer)
"""


def test_outputs_carry_values_to_later_actions_and_persist(tmp_path: Path) -> None:
    cards = {"writer": {}, "reader": {"requires": ["writer"]}}
    tree = make_tree(tmp_path, cards, {"writer": OUTPUTS_WRITER, "reader": OUTPUTS_READER})
    assert run(tree, "reader").exit_code == ExitCode.OK
    stored = json.loads((tree.runtime / "outputs.json").read_text())
    assert stored == {
        "reader": {"seen": "https://id.example/app/"},
        "writer": {"issuer": "https://id.example/app/"},
    }


def test_reading_a_missing_output_names_the_card_to_require(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"reader": {}}, {"reader": OUTPUTS_READER})
    result = run(tree, "reader")
    assert "card `writer` has recorded no output `issuer`" in result.errors["reader"]


def test_a_chain_with_errors_is_refused_before_anything_runs(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}, "goal": {"requires": ["a"]}}, {"a": ORDERED})
    path = tree.card_path("a")
    path.write_text(path.read_text().replace("title: A\n", ""))
    before = tree.snapshot()
    with pytest.raises(DocsError) as caught:
        run(tree, "goal")
    assert any("title" in str(p) for p in caught.value.problems)
    assert tree.snapshot() == before


KEYED = """
from pathlib import Path
LOG = Path(__file__).resolve().parent.parent / "order.log"
SETTINGS = {"svc": ("url", "reload_command")}
def apply(ctx):
    with LOG.open("a") as f:
        f.write(ctx.stem + "\\n")
"""


def test_an_unknown_settings_key_is_refused_before_any_card_runs(tmp_path: Path) -> None:
    # Only `goal`, which runs after `a`, reads [svc]: its typo stops the run before `a` runs.
    tree = make_tree(
        tmp_path,
        {"a": {}, "goal": {"requires": ["a"]}},
        {"a": ORDERED, "goal": KEYED},
        config='[svc]\nurl = "http://svc"\nreload_comand = ["true"]\n',
    )
    before = tree.snapshot()
    with pytest.raises(ConfigError) as caught:
        run(tree, "goal")
    assert caught.value.exit_code is ExitCode.USAGE
    assert caught.value.path == str(tree.root / "mikado.toml")
    assert "unknown key `reload_comand` in [svc]" in str(caught.value)
    assert "did you mean `reload_command`?" in str(caught.value)
    assert order(tree) == [] and tree.snapshot() == before


def test_unknown_goal_suggests_the_close_one(diamond: Tree) -> None:
    with pytest.raises(UsageError, match="did you mean `goal`"):
        run(diamond, "gaol")


DISCOVERING = """
from mikado.errors import PrerequisiteDiscovered
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
def apply(ctx):
    (ROOT / "half-done").touch()
    raise PrerequisiteDiscovered("create-ci-group", "Create the CI group",
                                 "The registry rejects pushes until the CI group exists.")
def rollback(ctx):
    (ROOT / "half-done").unlink()
"""


def test_a_discovered_prerequisite_grows_the_graph_and_stops(tmp_path: Path) -> None:
    cards = {"wire": {}, "goal": {"requires": ["wire"]}}
    tree = make_tree(tmp_path, cards, {"wire": DISCOVERING, "goal": ORDERED})
    result = run(tree, "goal")
    assert result.exit_code == ExitCode.PREREQUISITE
    assert not (tmp_path / "half-done").exists(), "rollback did not run"
    new = tree.meta("create-ci-group")
    assert new["status"] == "active" and new["title"] == "Create the CI group"
    assert tree.card_path("create-ci-group").parent == tree.card_path("wire").parent
    body = tree.card_path("create-ci-group").read_text()
    assert "The registry rejects pushes until the CI group exists." in body
    assert "[[wire]]" in body
    wire = tree.meta("wire")
    assert wire["status"] == "active" and wire["requires"] == ["create-ci-group"]
    assert "[[create-ci-group]]" in tree.card_path("wire").read_text()
    assert "[[create-ci-group]]" in (tree.docs / "work" / "work.md").read_text()
    # The tree still reads cleanly, and the next run starts with the new leaf.
    docs = load_docs(load_config(cwd=tree.root), strict_graph=True)
    assert docs.errors() == []
    prepared = plan_run(load_config(cwd=tree.root), "goal", RunOptions(dry_run=True))
    assert next(s.stem for s in prepared.cards) == "create-ci-group"


def test_planning_walks_and_reads_the_tree_once(
    diamond: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before a run reads every doc; the plan uses what it read rather than
    walking the tree and loading the cache again. When the check's saved report is reused
    (nothing changed), the cards come from the scan cache."""
    import mikado.checks.gate
    import mikado.tree.loader
    import mikado.tree.workers

    walks: list[Path] = []
    reads: list[str] = []
    real_walk, real_read = mikado.checks.gate.walk, mikado.tree.workers.read_docs

    def walk(root: Path, *args: Any, **kwargs: Any) -> Any:
        walks.append(root)
        return real_walk(root, *args, **kwargs)

    def read_docs(root: Path, paths: Any, options: Any) -> Any:
        reads.extend(paths)
        return real_read(root, paths, options)

    monkeypatch.setattr(mikado.checks.gate, "walk", walk)
    monkeypatch.setattr(mikado.tree.loader, "walk", walk)
    monkeypatch.setattr(mikado.tree.workers, "read_docs", read_docs)
    config = load_config(cwd=diamond.root)
    time.sleep(0.05)  # old enough to be cached
    plan_run(config, "goal", RunOptions(dry_run=True))
    assert len(walks) == 1
    assert sorted(reads) == sorted(set(reads)) and len(reads) == len(load_docs(config).paths)
    walks.clear()
    reads.clear()
    plan_run(config, "goal", RunOptions(dry_run=True))  # the report is reused
    assert len(walks) == 2 and reads == []
