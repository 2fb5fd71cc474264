"""`mikado run`, `done` and `new` as a user runs them: real processes on real trees, killed,
interrupted and raced."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
from chain_fixtures import RECORDING_ACTION, Tree, make_tree

from mikado.config import load_config
from mikado.tree.loader import load_docs

SLEEPY_RECORDING = (
    RECORDING_ACTION
    + """
import time

_apply = apply


def apply(ctx):
    time.sleep(0.02)
    _apply(ctx)
"""
)


def chain_of(count: int) -> dict[str, dict[str, object]]:
    """A chain with some width: card i requires cards i-1 and i-3."""
    cards: dict[str, dict[str, object]] = {}
    for i in range(count):
        requires = [f"step-{j:02d}" for j in (i - 1, i - 3) if j >= 0]
        cards[f"step-{i:02d}"] = {"requires": requires}
    return cards


def assert_intact(tree: Tree, stems: list[str]) -> None:
    for stem in stems:
        meta = tree.meta(stem)  # parses, or the test fails here
        assert meta["title"] and meta["tags"] == ["test"]
    load_docs(load_config(cwd=tree.root), strict_graph=True)


def test_sigkill_at_random_moments_never_loses_a_card_or_repeats_an_effect(
    tmp_path: Path,
) -> None:
    rng = random.Random(4)
    kills = 0
    trees = 0
    while kills < 20:
        trees += 1
        cards = chain_of(10)
        stems = list(cards)
        tree = make_tree(tmp_path / f"t{trees}", cards, {s: SLEEPY_RECORDING for s in stems})
        for _ in range(4):
            process = tree.popen("run", "step-09", "--yes", "--jobs", str(rng.choice([1, 3])))
            time.sleep(rng.uniform(0.1, 0.8))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=30)
            assert_intact(tree, stems)
        final = tree.mikado("run", "step-09", "--yes")
        assert final.returncode == 0, final.stderr
        assert sorted(tree.effects()) == sorted(stems), "an effect is missing or repeated"
        assert all(tree.status(s) is None for s in stems)
        assert_intact(tree, stems)


def test_a_second_concurrent_run_exits_4_and_changes_nothing(tmp_path: Path) -> None:
    blocking = """
    import time
    from pathlib import Path
    ROOT = Path(__file__).resolve().parent.parent
    def apply(ctx):
        (ROOT / "started").touch()
        while not (ROOT / "release").exists():
            time.sleep(0.02)
    """
    tree = make_tree(tmp_path, {"a": {}, "b": {"requires": ["a"]}}, {"a": blocking, "b": blocking})
    first = tree.popen("run", "b", "--yes")
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline, first.stderr
            time.sleep(0.02)
        before = tree.snapshot()
        second = tree.mikado("run", "b", "--yes")
        after = tree.snapshot()
        assert second.returncode == 4, second.stderr
        assert f"process {first.pid}" in second.stderr
        assert after == before
    finally:
        (tmp_path / "release").touch()
        first.communicate(timeout=30)
    assert first.returncode == 0


def test_jobs_8_runs_16_sleeping_cards_side_by_side(tmp_path: Path) -> None:
    sleeper = """
    import os, time
    from pathlib import Path
    LOG = Path(__file__).resolve().parent.parent / "spans.log"
    def apply(ctx):
        start = time.monotonic()
        time.sleep(0.3)
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{start} {time.monotonic()}\\n".encode())
        os.close(fd)
    """
    cards: dict[str, dict[str, object]] = {f"leaf-{i:02d}": {} for i in range(16)}
    cards["goal"] = {"requires": list(cards), "status": None}
    tree = make_tree(tmp_path, cards, {s: sleeper for s in cards if s != "goal"})
    result = tree.mikado("run", "goal", "--yes", "--jobs", "8")
    assert result.returncode == 0, result.stderr
    spans = [
        tuple(map(float, line.split()))
        for line in (tmp_path / "spans.log").read_text().splitlines()
    ]
    assert len(spans) == 16
    # At the busiest moment, exactly 8 actions were running together.
    busiest = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert busiest == 8


DISCOVERS_UNTIL_GROUP_EXISTS = """
from pathlib import Path
from mikado.errors import PrerequisiteDiscovered
ROOT = Path(__file__).resolve().parent.parent
def check(ctx):
    return (ROOT / "wired").exists()
def apply(ctx):
    if not (ROOT / "ci-group").exists():
        raise PrerequisiteDiscovered(
            "create-ci-group", "Create the CI group",
            "Pushes are refused until the `ci` group exists in the identity provider.")
    (ROOT / "wired").touch()
"""
CREATES_GROUP = """
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
def check(ctx):
    return (ROOT / "ci-group").exists()
def apply(ctx):
    (ROOT / "ci-group").touch()
"""


def test_the_mikado_loop_end_to_end(tmp_path: Path) -> None:
    cards = {"wire-ci": {}, "goal": {"requires": ["wire-ci"]}}
    goal_action = "def apply(ctx):\n    pass\n"
    tree = make_tree(
        tmp_path, cards, {"wire-ci": DISCOVERS_UNTIL_GROUP_EXISTS, "goal": goal_action}
    )

    first = tree.mikado("run", "goal", "--yes")
    assert first.returncode == 3, first.stderr
    assert "wire-ci discovered a prerequisite: wrote cards/work/create-ci-group.md" in first.stderr
    assert tree.status("create-ci-group") == "active"
    assert tree.meta("wire-ci")["requires"] == ["create-ci-group"]
    assert tree.status("wire-ci") == "active"

    # Without an action the new leaf is manual work; give it one and the chain completes.
    manual = tree.mikado("run", "goal", "--yes")
    assert manual.returncode == 5
    assert "create-ci-group is done by hand (" in manual.stdout
    assert "then run `mikado done create-ci-group` and `mikado run goal` again" in manual.stdout
    (tmp_path / "actions" / "create-ci-group.py").write_text(CREATES_GROUP)
    final = tree.mikado("run", "goal", "--yes")
    assert final.returncode == 0, final.stderr
    assert all(tree.status(s) is None for s in ("create-ci-group", "wire-ci", "goal"))
    status = json.loads(tree.mikado("status", "goal", "--format", "json").stdout)
    assert status["chains"][0]["done"] == 3


def test_a_sentinel_secret_never_leaves_the_engine(tmp_path: Path) -> None:
    sentinel = "s3ntinel-Vq8rZ2"
    secret_file = tmp_path / "secret.txt"  # outside the tree, whose every file is searched
    secret_file.write_text("file-" + sentinel + "\n")
    root = tmp_path / "tree"
    leaky = """
    SETTINGS = ("svc",)
    def apply(ctx):
        token = ctx.settings["svc"]["token"]
        other = ctx.settings["svc"]["password"]
        ctx.log.info("calling with %s and %s", token, other)
        ctx.log.warning("still %s", token)
        print("printed", token)
        try:
            ctx.outputs.set("token", token)
        except ValueError as exc:
            ctx.log.error("refused: %s", exc)
        raise RuntimeError("server rejected " + token)
    """
    discovering = """
    from mikado.errors import PrerequisiteDiscovered
    SETTINGS = ("svc",)
    def apply(ctx):
        token = ctx.settings["svc"]["token"]
        raise PrerequisiteDiscovered("rotate-token", "Rotate " + token, "Learned " + token)
    """
    # Run order is by stem among independent cards: the leak comes first, the discovery stops.
    cards = {"leaky": {}, "zz-discovering": {}, "goal": {"requires": ["leaky", "zz-discovering"]}}
    config = f"""
    [svc]
    token = "env:SENTINEL_TOKEN"
    password = "file:{secret_file}"
    """
    tree = make_tree(root, cards, {"leaky": leaky, "zz-discovering": discovering}, config=config)
    env = {"SENTINEL_TOKEN": "env-" + sentinel}
    runs = [
        tree.mikado("run", "goal", "--yes", "--verbose", "--keep-going", env=env),
        tree.mikado("run", "goal", "--yes", "--format", "json", env=env),
        tree.mikado("status", env=env),
    ]
    assert runs[0].returncode == 3, runs[0].stderr
    assert "calling with *** and ***" in runs[0].stdout
    assert "server rejected ***" in runs[0].stderr
    for result in runs:
        assert sentinel not in result.stdout + result.stderr
    for path, data in tree.snapshot().items():
        assert sentinel.encode() not in data, path


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_puts_the_running_card_back_to_active(
    tmp_path: Path, stop: signal.Signals
) -> None:
    waiting = """
    from pathlib import Path
    ROOT = Path(__file__).resolve().parent.parent
    def apply(ctx):
        (ROOT / "started").touch()
        ctx.cancelled.wait(30)
    """
    tree = make_tree(tmp_path, {"a": {}}, {"a": waiting})
    process = tree.popen("run", "a", "--yes")
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert tree.status("a") == "running"
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "back to active: a" in stderr
    assert tree.status("a") == "active"
    assert [r["outcome"] for r in tree.journal() if r["event"] == "card-end"] == ["interrupted"]


def test_dry_run_prints_the_spec_plan_and_changes_nothing(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path, {"a": {}, "goal": {"requires": ["a"]}}, {"a": "def apply(ctx):\n    pass\n"}
    )
    before = tree.snapshot()
    result = tree.mikado("run", "goal", "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "goal": "goal",
        "plan": [
            {"stem": "a", "action": "a", "will": "run"},
            {"stem": "goal", "action": None, "will": "manual"},
        ],
    }
    human = tree.mikado("run", "goal", "--dry-run")
    assert "manual  goal" in human.stdout and "run     a" in human.stdout
    assert tree.snapshot() == before


def test_an_action_that_cannot_import_stops_everything_before_it_starts(tmp_path: Path) -> None:
    broken = "import os\n\nraise ImportError('no module named zot_sdk')\n"
    tree = make_tree(
        tmp_path, {"a": {}, "b": {"requires": ["a"]}}, {"a": RECORDING_ACTION, "b": broken}
    )
    before = tree.snapshot()
    result = tree.mikado("run", "b", "--yes")
    assert result.returncode == 1
    assert "actions/b.py:3: action `b` failed to import: ImportError: no module named zot_sdk" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert tree.snapshot() == before


def test_a_chain_that_check_finds_errors_in_does_not_run(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}, "b": {"requires": ["a"], "extra": ""}},
        {"a": RECORDING_ACTION, "b": RECORDING_ACTION},
    )
    card = tree.root / "cards/work/a.md"
    card.write_text(card.read_text() + "See [[no-such-doc]].\n")
    before = tree.snapshot()
    result = tree.mikado("run", "b", "--yes")
    assert result.returncode == 1
    assert "error: cards/work/a.md:" in result.stderr and "[broken-link]" in result.stderr
    assert "[[no-such-doc]]" in result.stderr and "nothing was run" in result.stderr
    assert tree.snapshot() == before


def test_a_broken_doc_outside_the_chain_does_not_stop_it(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}, "b": {"requires": ["a"]}}, {"a": RECORDING_ACTION})
    (tree.root / "cards/work/draft.md").write_text("half-saved by an editor, no front-matter")
    result = tree.mikado("run", "a", "--yes")
    assert result.returncode == 0, result.stderr
    assert tree.effects() == ["a"]


def test_a_cycle_inside_the_chain_still_refuses_it(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {"requires": ["b"]}, "b": {"requires": ["a"]}, "goal": {"requires": ["a"]}},
        {"a": RECORDING_ACTION, "b": RECORDING_ACTION, "goal": RECORDING_ACTION},
    )
    before = tree.snapshot()
    result = tree.mikado("run", "goal", "--yes")
    assert result.returncode == 1
    assert "a → b → a" in result.stderr and "nothing was run" in result.stderr
    assert tree.snapshot() == before


def test_status_shows_a_failed_cards_last_error(tmp_path: Path) -> None:
    failing = "def apply(ctx):\n    raise RuntimeError('zot said 403')\n"
    tree = make_tree(
        tmp_path, {"a": {}, "goal": {"requires": ["a"], "status": "active"}}, {"a": failing}
    )
    assert tree.mikado("run", "goal", "--yes").returncode == 1
    status = json.loads(tree.mikado("status", "--format", "json").stdout)
    card = next(c for c in status["chains"][0]["cards"] if c["stem"] == "a")
    assert card["state"] == "failed"
    assert card["error"] == "RuntimeError: zot said 403 (a.py:2)"
    assert "zot said 403" in tree.mikado("status").stdout


def test_insecure_tls_warns_on_every_run(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}},
        {"a": "def apply(ctx):\n    pass\n"},
        config="[mikado.tls]\ninsecure = true\n",
    )
    for args in (("--dry-run",), ("--yes",)):
        result = tree.mikado("run", "a", *args)
        assert "TLS certificate verification is off" in result.stderr


def test_done_completes_a_card_by_hand_but_not_before_its_prerequisites(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}, "b": {"requires": ["a"]}})
    refused = tree.mikado("done", "b")
    assert refused.returncode == 2
    assert "open prerequisites: a" in refused.stderr
    assert tree.status("b") == "active"
    assert tree.mikado("done", "a").returncode == 0
    assert tree.status("a") is None
    assert tree.mikado("done", "b").returncode == 0
    assert tree.status("b") is None


def test_new_writes_and_links_a_card(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}, "b": {"requires": ["a"]}})
    result = tree.mikado(
        "new", "make-group", "--title", "Make: the group", "--required-by", "b", "--requires", "a"
    )
    assert result.returncode == 0, result.stderr
    assert tree.meta("make-group") == {
        "title": "Make: the group",
        "modified": tree.meta("make-group")["modified"],
        "tags": ["test"],
        "status": "active",
        "requires": ["a"],
    }
    assert tree.meta("b")["requires"] == ["a", "make-group"]
    assert "[[make-group]]" in tree.card_path("b").read_text()
    assert "[[make-group]]" in (tree.docs / "work" / "work.md").read_text()
    assert load_docs(load_config(cwd=tree.root), strict_graph=True).errors() == []

    # Without a dependent, the card is linked from its folder's category index.
    alone = tree.mikado("new", "loose", "--title", "Loose", "--dir", "cards/work")
    assert alone.returncode == 0, alone.stderr
    assert (tree.docs / "work" / "loose.md").is_file()
    assert "[[loose]]" in (tree.docs / "work" / "work.md").read_text()
    # Where no index would link it, nothing is written: an orphan fails `check` at once.
    orphan = tree.mikado("new", "stray", "--title", "Stray", "--dir", "cards")
    assert orphan.returncode == 2
    assert not (tree.docs / "stray.md").exists()


@pytest.mark.parametrize(
    ("stem", "words"),
    [
        ("a/b", "cannot contain `/`"),
        ("..x", "`..`"),
        ("a", "already exists"),
        ("x.md", "without `.md`"),
    ],
)
def test_new_refuses_bad_stems(tmp_path: Path, stem: str, words: str) -> None:
    tree = make_tree(tmp_path, {"a": {}})
    before = tree.snapshot()
    result = tree.mikado("new", stem, "--title", "T")
    assert result.returncode == 2
    assert words in result.stderr
    assert tree.snapshot() == before


def _on_a_terminal(tree: Tree, answer: bytes, *args: str) -> tuple[int, str]:
    """Run mikado with a pseudo-terminal as stdin and stdout, typing ``answer``."""
    import os
    import pty
    import subprocess
    import sys

    from chain_fixtures import subprocess_env

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mikado", *args],
        cwd=tree.root,
        env=subprocess_env({"NO_COLOR": "1"}),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in output and time.monotonic() < deadline:
        output += os.read(leader, 4096)
    os.write(leader, answer + b"\n")
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=30), output.decode(errors="replace")


def test_on_a_terminal_the_plan_is_shown_and_confirmed_first(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}}, {"a": RECORDING_ACTION})
    before = tree.snapshot()
    code, output = _on_a_terminal(tree, b"n", "run", "a")
    assert "Plan for a (1 card):" in output and "Run 1 action?" in output
    assert code == 1 and "Nothing was run." in output
    assert tree.snapshot() == before
    code, output = _on_a_terminal(tree, b"y", "run", "a")
    assert code == 0, output
    assert tree.effects() == ["a"]


REHEARSING_ACTION = """
SUPPORTS_DRY_RUN = True


def check(ctx):
    return False


def apply(ctx):
    if ctx.dry_run:
        print("would create the thing")
        ctx.outputs.set("thing", "planned")
        return None
    raise AssertionError("a rehearsal must not apply for real")
"""


def test_a_dry_run_rehearses_only_ready_actions_that_support_it(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}, "b": {}, "goal": {"requires": ["a", "b"]}},
        {"a": REHEARSING_ACTION, "b": RECORDING_ACTION, "goal": REHEARSING_ACTION},
    )
    before = tree.snapshot()
    result = tree.mikado("run", "goal", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "  a: would change:\n    would create the thing\n" in result.stdout
    assert "  b: not rehearsed (its action does not declare SUPPORTS_DRY_RUN)" in result.stdout
    assert "  goal: not rehearsed (waits for a, b)" in result.stdout
    assert tree.effects() == []
    assert tree.snapshot() == before  # no outputs.json either


def test_a_misspelt_settings_key_exits_2_naming_the_file_table_and_key(tmp_path: Path) -> None:
    keyed = """
    SETTINGS = {"svc": ("url", "reload_command")}
    def apply(ctx):
        raise RuntimeError("must not run")
    """
    tree = make_tree(
        tmp_path,
        {"goal": {}},
        {"goal": keyed},
        config='[svc]\nurl = "http://svc"\nreload_comand = ["true"]\n',
    )
    before = tree.snapshot()
    result = tree.mikado("run", "goal", "--yes")
    assert result.returncode == 2, result.stderr
    assert (
        f"mikado: {tree.root / 'mikado.toml'}: unknown key `reload_comand` in [svc]"
        in result.stderr
    )
    assert "did you mean `reload_command`?" in result.stderr
    assert "must not run" not in result.stdout + result.stderr
    assert tree.snapshot() == before
