"""Killing `mikado run` with SIGKILL at random moments and checking what it leaves: shared by
tests/reliability/test_crashes.py (a few dozen kills) and benchmarks/stress.py (hundreds).

A kill lands either anywhere (from the moment the process starts, so interpreter start-up,
planning and the lock are hit too) or just after the run has started its k-th card (so the
kills spread over the whole chain rather than piling up in start-up).

After every kill: every card parses, none is lost, the tree still loads with its graph; at
the end, a run that is not killed completes, and every side effect happened exactly once.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mikado.config import load_config
from mikado.tree.loader import load_docs
from tests.chain.conftest import ChainLab
from tests.chain_fixtures import RECORDING_ACTION, Tree, make_tree

from .zot_lab import (
    CHAIN,
    GOAL,
    WITH_ACTIONS,
    Sentinels,
    mint_if_waiting,
    object_counts,
    probe_tags,
    run_chain,
    zot_chain,
)

# The synthetic chain's action: RECORDING_ACTION (check recognises its effect) that takes a
# few milliseconds, so kills land before, during and after effects.
SLOW_RECORDING = (
    RECORDING_ACTION
    + """
import random
import time

_record = apply


def apply(ctx):
    time.sleep(random.uniform(0.0, 0.01))
    _record(ctx)
    time.sleep(random.uniform(0.0, 0.01))
"""
)


@dataclass
class CrashStats:
    iterations: int = 0  # trees driven to completion through kills
    kills: int = 0  # SIGKILLs that hit a live run
    runs: int = 0  # mikado run processes started
    failures: list[str] = field(default_factory=list)

    def add(self, other: CrashStats) -> None:
        self.iterations += other.iterations
        self.kills += other.kills
        self.runs += other.runs
        self.failures += other.failures


def synthetic_cards(count: int) -> dict[str, dict[str, object]]:
    """A chain with width: card i requires cards i-1 and i-4; the last card is the goal."""
    cards: dict[str, dict[str, object]] = {}
    for i in range(count):
        requires = [f"card-{j:03d}" for j in (i - 1, i - 4) if j >= 0]
        cards[f"card-{i:03d}"] = {"requires": requires}
    return cards


def _journal_starts(runtime: Path) -> int:
    try:
        return (runtime / "journal.jsonl").read_bytes().count(b'"event": "card-start"')
    except FileNotFoundError:
        return 0


def kill_at_random(
    process: subprocess.Popen[str],
    runtime: Path,
    rng: random.Random,
    *,
    cards: int,
    anywhere_within: float,
) -> bool:
    """SIGKILL ``process`` at a random moment; False when it finished first."""
    started_cards = _journal_starts(runtime)
    if rng.random() < 0.25:
        deadline = time.monotonic() + rng.uniform(0.0, anywhere_within)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.002)
    else:
        target = started_cards + rng.randint(1, max(1, cards))
        give_up = time.monotonic() + 120
        while (
            _journal_starts(runtime) < target
            and process.poll() is None
            and time.monotonic() < give_up
        ):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03))
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return True


def identities(tree: Tree, stems: list[str]) -> dict[str, tuple[object, object]]:
    """The fields of each card a run never changes: title and tags."""
    return {stem: (tree.meta(stem)["title"], tree.meta(stem)["tags"]) for stem in stems}


def intact(tree: Tree, before: dict[str, tuple[object, object]]) -> str | None:
    """What is wrong with the tree after a kill, or None: every card is there and parses
    with the title and tags it had, and the whole tree still loads with its graph."""
    for stem, (title, tags) in before.items():
        try:
            meta = tree.meta(stem)
        except Exception as error:  # a card that does not parse is what this looks for
            return f"{stem} does not parse: {type(error).__name__}: {error}"
        if meta.get("title") != title or meta.get("tags") != tags:
            return f"{stem} lost fields: {meta}"
    try:
        load_docs(load_config(cwd=tree.root), strict_graph=True)
    except Exception as error:
        return f"the tree no longer loads: {type(error).__name__}: {error}"
    return None


def crash_synthetic(
    root: Path, rng: random.Random, *, cards: int = 30, max_kills: int = 6
) -> CrashStats:
    """One synthetic tree, killed up to ``max_kills`` times, then run to completion."""
    stats = CrashStats(iterations=1)
    spec = synthetic_cards(cards)
    stems = list(spec)
    goal = stems[-1]
    tree = make_tree(root, spec, {stem: SLOW_RECORDING for stem in stems})
    before = identities(tree, stems)
    for _ in range(max_kills):
        jobs = rng.choice(["1", "1", "4"])
        process = tree.popen("run", goal, "--yes", "--jobs", jobs)
        stats.runs += 1
        remaining = sum(1 for stem in stems if tree.status(stem) is not None)
        killed = kill_at_random(process, tree.runtime, rng, cards=remaining, anywhere_within=1.0)
        _, stderr = process.communicate(timeout=60)
        if not killed:
            if process.returncode != 0:
                stats.failures.append(
                    f"{root}: an unkilled run exited {process.returncode}: {stderr}"
                )
            break
        stats.kills += 1
        problem = intact(tree, before)
        if problem:
            stats.failures.append(f"{root}: after kill {stats.kills}: {problem}")
            return stats
    final = tree.mikado("run", goal, "--yes", timeout=120)
    stats.runs += 1
    _expect(
        stats, root, final.returncode == 0, f"resuming exited {final.returncode}: {final.stderr}"
    )
    effects = tree.effects()
    missing = sorted(set(stems) - set(effects))
    repeated = sorted({e for e in effects if effects.count(e) > 1})
    _expect(stats, root, not missing and not repeated, f"missing {missing}, repeated {repeated}")
    open_cards = [s for s in stems if tree.status(s) is not None]
    _expect(stats, root, not open_cards, f"still open after resuming: {open_cards}")
    _expect(stats, root, intact(tree, before) is None, f"{intact(tree, before)}")
    return stats


def _expect(stats: CrashStats, where: Path, holds: bool, problem: str) -> None:
    if not holds:
        stats.failures.append(f"{where}: {problem}")


def _harden_applies(lab: ChainLab) -> int:
    """How many times harden-zot-registry's apply could have pushed a probe tag: every start
    of the card (check may skip apply, so this bounds the pushes from above)."""
    return sum(
        1
        for record in lab.tree.journal()
        if record["event"] == "card-start" and record["stem"] == "harden-zot-registry"
    )


def crash_zot_chain(
    root: Path,
    rng: random.Random,
    *,
    max_kills: int = 2,
    configured_secret: bool = False,
    on_lab: Callable[[ChainLab], None] | None = None,
) -> CrashStats:
    """The zot chain against emulators in this process, killed up to ``max_kills`` times,
    then resumed: every object it creates exists exactly once. Probe tags accumulate by
    design (a proof pushes a fresh tag), at most one per start of the goal card."""
    stats = CrashStats(iterations=1)
    with zot_chain(root, Sentinels(), configured_secret=configured_secret) as lab:
        before = identities(lab.tree, list(CHAIN))
        for _ in range(max_kills):
            process = lab.tree.popen("run", GOAL, "--yes", env=lab.env)
            stats.runs += 1
            remaining = sum(1 for stem in CHAIN if lab.tree.status(stem) is not None)
            killed = kill_at_random(
                process, lab.tree.runtime, rng, cards=remaining, anywhere_within=3.0
            )
            stdout, stderr = process.communicate(timeout=120)
            if not killed:
                done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
                if mint_if_waiting(lab, done):
                    continue  # the operator's manual step; the next run goes on
                _expect(stats, root, process.returncode == 0, f"unkilled run: {stderr}")
                break
            stats.kills += 1
            problem = intact(lab.tree, before)
            if problem:
                stats.failures.append(f"{root}: after kill {stats.kills}: {problem}")
                return stats
        final = run_chain(lab, timeout=120)
        stats.runs += 1
        _expect(
            stats,
            root,
            final.returncode == 0,
            f"resuming exited {final.returncode}: {final.stdout}{final.stderr}",
        )
        if final.returncode == 0:
            counts = object_counts(lab)
            _expect(stats, root, counts == dict.fromkeys(counts, 1), f"duplicates: {counts}")
            tags = probe_tags(lab)
            _expect(
                stats,
                root,
                1 <= len(tags) <= _harden_applies(lab),
                f"{len(tags)} probe tags for {_harden_applies(lab)} starts of the goal",
            )
        outputs = json.loads((lab.tree.runtime / "outputs.json").read_text(encoding="utf-8"))
        _expect(stats, root, set(outputs) == set(WITH_ACTIONS), f"outputs of {sorted(outputs)}")
        if on_lab is not None:
            on_lab(lab)
    return stats
