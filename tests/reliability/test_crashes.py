"""SIGKILL at random moments during `mikado run`: a synthetic chain of recording actions and
the zot chain against emulators. Every card parses after every kill, none is lost, resuming
completes, and each side effect happens exactly once (the zot chain's probe tags excepted:
each proof pushes a fresh tag by design, at most one per start of the goal card).

MIKADO_CRASH_SEED replays a failure; benchmarks/stress.py runs the same for hundreds of kills.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from mikado.config import load_config
from mikado.edit import growth
from mikado.engine.journal import records
from mikado.engine.plan import RunOptions, plan_run
from mikado.engine.runner import Runner
from mikado.errors import ExitCode
from tests.chain_fixtures import make_tree

from .crashing import (
    SLOW_RECORDING,
    CrashStats,
    crash_synthetic,
    crash_zot_chain,
    identities,
    intact,
    synthetic_cards,
)

SYNTHETIC_KILLS = 18
ZOT_CHAIN_KILLS = 4


def _seed() -> int:
    return int(os.environ.get("MIKADO_CRASH_SEED", time.time_ns() % 1_000_000))


def test_a_synthetic_chain_killed_at_random_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    seed = _seed()
    rng = random.Random(seed)
    total = CrashStats()
    while total.kills < SYNTHETIC_KILLS and not total.failures:
        total.add(crash_synthetic(tmp_path / f"tree{total.iterations}", rng, cards=20))
    assert total.failures == [], f"MIKADO_CRASH_SEED={seed}"
    assert total.kills >= SYNTHETIC_KILLS


def test_the_zot_chain_killed_at_random_resumes_without_duplicates(tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    total = CrashStats()
    while total.kills < ZOT_CHAIN_KILLS and not total.failures:
        total.add(
            crash_zot_chain(
                tmp_path / f"lab{total.iterations}",
                rng,
                # half the labs let the chain generate the OIDC client secret, as the lab does
                configured_secret=total.iterations % 2 == 1,
            )
        )
    assert total.failures == [], f"MIKADO_CRASH_SEED={seed}"


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_a_run_killed_right_after_a_card_started_reruns_it_once(tmp_path: Path, jobs: str) -> None:
    """The kill lands while cards are `running`: the next run takes them as stale, calls the
    action again, and check recognises the work already done."""
    spec = synthetic_cards(8)
    stems = list(spec)
    tree = make_tree(tmp_path, spec, {stem: SLOW_RECORDING for stem in stems})
    before = identities(tree, stems)
    process = tree.popen("run", stems[-1], "--yes", "--jobs", jobs)
    deadline = time.monotonic() + 60
    while not any(tree.status(s) == "running" for s in stems):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    process.kill()
    process.communicate(timeout=30)
    assert intact(tree, before) is None
    resumed = tree.mikado("run", stems[-1], "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(tree.effects()) == sorted(stems)


# The Mikado loop's growth writes three files (the new card, the category index, the failing
# card); a crash between any two must leave a tree the next run finishes growing.
DISCOVERING = """
from mikado.errors import PrerequisiteDiscovered

def check(ctx):
    return False

def apply(ctx):
    raise PrerequisiteDiscovered("create-ci-group", "Create the CI group",
                                 "The registry rejects pushes until the CI group exists.")
"""


@pytest.mark.parametrize("crash_before", ["link_from_index", "require"])
def test_a_crash_inside_growth_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_before: str
) -> None:
    tree = make_tree(tmp_path, {"wire": {}, "goal": {"requires": ["wire"]}}, {"wire": DISCOVERING})

    class Killed(BaseException):
        """Stands for SIGKILL: nothing after it runs, no handler sees it."""

    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(growth, crash_before, die)
        with pytest.raises(Killed):
            config = load_config(cwd=tree.root)
            Runner(plan_run(config, "goal", RunOptions()), options=RunOptions()).run()
    assert tree.card_path("create-ci-group").exists()

    again = tree.mikado("run", "goal", "--yes")
    assert again.returncode == ExitCode.PREREQUISITE, again.stderr
    assert tree.meta("wire")["requires"] == ["create-ci-group"]
    assert "[[create-ci-group]]" in (tree.docs / "work" / "work.md").read_text()
    check = tree.mikado("check")
    assert check.returncode == 0, check.stdout + check.stderr


FAILING_WITH_A_COUNT = """
from pathlib import Path

COUNT = Path(__file__).resolve().parent.parent / "attempts"


def apply(ctx):
    n = int(COUNT.read_text()) + 1 if COUNT.exists() else 1
    COUNT.write_text(str(n))
    raise RuntimeError(f"attempt {n} failed")
"""


def test_a_journal_record_torn_by_a_crash_does_not_swallow_the_next(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}}, {"a": FAILING_WITH_A_COUNT})
    assert tree.mikado("run", "a", "--yes").returncode == 1
    journal = tree.runtime / "journal.jsonl"
    with journal.open("ab") as stream:  # what a crash mid-record leaves
        stream.write(b'{"time": "2026-01-01T00:00:00+00:00", "event": "card-en')
    assert tree.mikado("run", "a", "--yes").returncode == 1
    status = tree.mikado("status", "a", "--format", "json")
    (chain,) = json.loads(status.stdout)["chains"]
    (card,) = chain["cards"]
    assert "attempt 2 failed" in card["error"]
    events = [r["event"] for r in records(tree.runtime)]
    assert events[-4:] == ["run-start", "card-start", "card-end", "run-end"]
