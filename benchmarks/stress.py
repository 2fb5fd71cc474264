"""Long reliability runs: SIGKILL `mikado run` at random moments and inject random service
faults, for as long as asked, then print the figures.

    python benchmarks/stress.py [--minutes 5] [--seed N] [--lab-kills 4] [--keep]

Each round picks one of:

- a synthetic chain (10 to 60 cards of recording actions, --jobs 1 or 4) killed up to
  eight times, then resumed: every card parses after each kill, resuming completes, each
  effect happened once;
- the zot chain against emulators in this process, killed up to three times, then resumed:
  one provider, application, binding, Forgejo secret and set of workflow edits (probe tags
  accumulate by design, at most one per start of the goal card);
- a synthetic chain (4 to 12 cards, --jobs 1 or 4, timeout 1 s) whose actions hang at random
  in one of the ways an action can (a regex that never lets go of the interpreter, a sleep, a
  program that never ends, a busy loop, a flood of output, a thread left behind, a process
  stopped by SIGSTOP): every hanging card fails "timed out", nothing of it is left running, the
  others complete, and a run without the hangs converges;
- the zot chain facing one to three random faults (500, 502, 503, reset, truncated body,
  slow answer, 429 with Retry-After) on random methods and paths of random services: the
  run exits 0 or 1 without a traceback, every failed card names its service, no secret
  shows anywhere, and a second run without faults converges with no duplicates.

Before the rounds, ``--lab-kills`` runs of `mikado run harden-zot-registry --lab` are killed
at random and resumed (each opens a fresh lab, which takes seconds).

Exit status 1 when any failure was found; each is printed with the seed that replays it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the tests' own helpers import each other by name

from mikado.lab.emulators._server import Fault  # noqa: E402
from tests.reliability.crashing import CrashStats, crash_synthetic, crash_zot_chain  # noqa: E402
from tests.reliability.zot_lab import (  # noqa: E402
    CHAIN,
    TRACEBACK,
    Sentinels,
    object_counts,
    run_chain,
    zot_chain,
)

SERVICE_NAMES = ("authentik", "forgejo", "registry", "zot")
# Paths the chain uses, broad and narrow, so most injected faults fire.
PREFIXES = {
    "authentik": ("/", "/api/v3/", "/api/v3/providers/", "/api/v3/core/", "/api/v3/policies/"),
    "forgejo": ("/", "/api/v1/repos/"),
    "zot": ("/", "/v2/", "/v2/_catalog", "/v2/mikado/probe/", "/metrics"),
}
ROUNDS = ("synthetic", "zot-chain", "hangs", "faults")

# How an action can hang, each the body of `apply` after it noted its pid.
HANGS = {
    "regex": "re.match(r'(a+)+$', 'a' * 64 + 'b')",
    "sleep": "time.sleep(3600)",
    "program": "subprocess.run(['sleep', '3600'])",
    "busy": "while True:\n            pass",
    "flood": "while True:\n            print('x' * 4096)",
    "thread": "threading.Thread(target=time.sleep, args=(3600,)).start()\n"
    "        threading.Event().wait()",
    "stopped": "os.kill(os.getpid(), signal.SIGSTOP)",
}
HANG_ACTION = """
import os, re, signal, subprocess, threading, time
from pathlib import Path
def apply(ctx):
    (Path(__file__).resolve().parent.parent / "pids" / ctx.stem).write_text(str(os.getpid()))
    if os.environ.get("STRESS_HANG") == "1":
        {hang}
"""


@dataclass
class Figures:
    crash: CrashStats = field(default_factory=CrashStats)
    lab_kills: int = 0
    lab_runs: int = 0
    fault_rounds: int = 0
    hang_rounds: int = 0
    hangs: int = 0
    faults_injected: int = 0
    faults_fired: int = 0
    failed_cards: int = 0
    failures: list[str] = field(default_factory=list)


def random_fault(rng: random.Random) -> Fault:
    kind = rng.choice(["500", "502", "503", "reset", "truncated", "slow", "429"])
    processed = rng.random() < 0.5
    if kind in ("500", "502", "503"):
        return Fault.error(int(kind), processed=processed)
    if kind == "reset":
        return Fault.reset(processed=processed)
    if kind == "truncated":
        return Fault.truncated()
    if kind == "slow":
        return Fault.slow(rng.uniform(0.05, 0.6))
    return Fault.rate_limited(retry_after=rng.choice([0, 1]))


def fault_round(root: Path, rng: random.Random, figures: Figures) -> None:
    sentinels = Sentinels()
    with zot_chain(root, sentinels, configured_secret=rng.random() < 0.5) as lab:
        emulators = {"authentik": lab.authentik, "forgejo": lab.forgejo, "zot": lab.zot}
        injected = 0
        for _ in range(rng.randint(1, 3)):
            service = rng.choice(list(emulators))
            times = rng.randint(1, 6)
            emulators[service].inject_fault(
                random_fault(rng),
                method=rng.choice(["*", "*", "GET", "GET", "POST", "PUT", "PATCH", "HEAD"]),
                path_prefix=rng.choice(PREFIXES[service]),
                times=times,
            )
            injected += times
        first = run_chain(lab, "--keep-going", timeout=300)
        fired = injected - sum(e.pending_faults for e in emulators.values())
        figures.faults_injected += injected
        figures.faults_fired += fired
        for emulator in emulators.values():
            emulator.clear_faults()
        second = run_chain(lab, timeout=300)
        problems = []
        texts = first.stdout + first.stderr + second.stdout + second.stderr
        texts += (lab.tree.runtime / "journal.jsonl").read_text(encoding="utf-8")
        if first.returncode not in (0, 1):
            problems.append(f"the faulty run exited {first.returncode}")
        if TRACEBACK.search(texts):
            problems.append("a traceback was printed")
        for line in first.stderr.splitlines():
            if " failed: " in line:
                figures.failed_cards += 1
                error = line.split(" failed: ", 1)[1]
                if not any(
                    error.startswith(f"{name}") or f" {name} " in error for name in SERVICE_NAMES
                ):
                    problems.append(f"a failure that names no service: {line}")
        if any(secret in texts for secret in sentinels.values()):
            problems.append("a secret was shown")
        if second.returncode != 0:
            problems.append(f"the re-run exited {second.returncode}: {second.stderr[-2000:]}")
        else:
            counts = object_counts(lab)
            if counts != dict.fromkeys(counts, 1):
                problems.append(f"duplicates after the re-run: {counts}")
            if any(lab.tree.status(stem) is not None for stem in CHAIN):
                problems.append("a card is still open after the re-run")
        if problems:
            figures.failures.append(f"{root}: " + "; ".join(problems) + f"\n{first.stderr}")


def lab_kill_round(root: Path, rng: random.Random, figures: Figures) -> None:
    command = [sys.executable, "-m", "mikado", "run", "harden-zot-registry", "--lab"]
    command += ["--workspace", str(root)]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    for name in ("AUTHENTIK_TOKEN", "FORGEJO_TOKEN", "ZOT_CI_API_KEY"):
        env.pop(name, None)
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    figures.lab_runs += 1
    journal = root / ".mikado" / "journal.jsonl"
    deadline = time.monotonic() + 120
    if rng.random() < 0.7:  # in the chain, after its first card started
        while process.poll() is None and time.monotonic() < deadline:
            if journal.exists() and b"card-start" in journal.read_bytes():
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 2.0))
    else:
        time.sleep(rng.uniform(0.0, 8.0))
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        figures.lab_kills += 1
    process.wait(timeout=60)
    resumed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    figures.lab_runs += 1
    if resumed.returncode != 0:
        figures.failures.append(
            f"{root}: the resumed lab run exited {resumed.returncode}: {resumed.stderr[-2000:]}"
        )
        return
    state = json.loads((root / "lab" / "authentik.json").read_text())["state"]["objects"]
    forgejo = json.loads((root / "lab" / "forgejo.json").read_text())["state"]["secrets"]
    groups = {g["pk"]: g["name"] for g in state["groups"].values()}
    bound = [groups.get(b["group"]) for b in state["bindings"].values()]
    counts = {
        "providers": len(state["providers"]),
        "applications": len(state["applications"]),
        # The application is bound to the admins and to the CI group, each once.
        **{f"bindings of {name}": bound.count(name) for name in set(bound)},
        "forgejo secrets": sum(len(s) for s in forgejo.values()),
    }
    if counts != dict.fromkeys(counts, 1):
        figures.failures.append(f"{root}: duplicates in the lab: {counts}")


def hang_round(root: Path, rng: random.Random, figures: Figures) -> None:
    from chain_fixtures import make_tree

    count = rng.randint(4, 12)
    stems = [f"card-{i:02d}" for i in range(count)]
    cards: dict[str, dict[str, object]] = {
        stem: {"requires": rng.sample(stems[:i], k=min(i, rng.randint(0, 2)))}
        for i, stem in enumerate(stems)
    }
    goal = "goal"
    cards[goal] = {"requires": stems}
    hanging = {stem: rng.choice(list(HANGS)) for stem in stems if rng.random() < 0.5}
    actions = {
        stem: HANG_ACTION.format(hang=HANGS[hanging[stem]] if stem in hanging else "pass")
        for stem in [*stems, goal]
    }
    tree = make_tree(root, cards, actions, config="timeout = 1\n")
    (root / "pids").mkdir()
    jobs = rng.choice(["1", "4"])
    problems = []
    first = tree.mikado(
        "run",
        goal,
        "--yes",
        "--keep-going",
        "--jobs",
        jobs,
        env={"STRESS_HANG": "1"},
        timeout=60 + 2 * count,
    )
    timed_out = {
        line.split(" failed: ")[0].removeprefix("mikado: ")
        for line in first.stderr.splitlines()
        if line.endswith("failed: timed out after 1 s")
    }
    started_hanging = {stem for stem in hanging if (root / "pids" / stem).exists()}
    figures.hangs += len(timed_out)
    if first.returncode != (1 if started_hanging else 0):
        problems.append(f"the hanging run exited {first.returncode}")
    if timed_out != started_hanging:
        problems.append(f"timed out {sorted(timed_out)}, but these hung: {sorted(started_hanging)}")
    if TRACEBACK.search(first.stdout + first.stderr):
        problems.append("a traceback was printed")
    for stem in stems:
        expected = "failed" if stem in started_hanging else None
        if (root / "pids" / stem).exists() and tree.status(stem) != expected:
            problems.append(f"{stem} is {tree.status(stem)!r} after the hanging run")
    deadline = time.monotonic() + 5  # the killed processes' parent reaps them
    alive = [p.name for p in (root / "pids").iterdir() if _group_alive(int(p.read_text()))]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p.name for p in (root / "pids").iterdir() if _group_alive(int(p.read_text()))]
    if alive:
        problems.append(f"still running after the run: {alive}")
    second = tree.mikado("run", goal, "--yes", "--jobs", jobs, env={"STRESS_HANG": "0"})
    if second.returncode != 0:
        problems.append(f"the run without hangs exited {second.returncode}: {second.stderr}")
    elif any(tree.status(stem) is not None for stem in [*stems, goal]):
        problems.append("a card is still open after the run without hangs")
    if problems:
        kinds = {stem: hanging[stem] for stem in sorted(started_hanging)}
        figures.failures.append(f"{root} (hangs {kinds}): " + "; ".join(problems))


def _group_alive(pgid: int) -> bool:
    """Whether any process of the action's group is left (zombies awaiting their parent's
    wait are dead already)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lab-kills", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", choices=ROUNDS, default=None, help="run only this kind of round")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="mikado-stress-"))
    figures = Figures()
    started = time.monotonic()
    print(f"stress: seed {seed}, {args.minutes:g} minutes, work in {work}", flush=True)
    try:
        for number in range(args.lab_kills):
            lab_kill_round(work / f"lab-{number}", rng, figures)
        end = started + args.minutes * 60
        number = 0
        while time.monotonic() < end:
            number += 1
            root = work / f"round-{number}"
            pick = rng.random()
            if args.only is not None:
                pick = {"synthetic": 0.0, "zot-chain": 0.6, "hangs": 0.85, "faults": 0.95}[
                    args.only
                ]
            if pick < 0.55:
                stats = crash_synthetic(root, rng, cards=rng.randint(10, 60), max_kills=8)
                figures.crash.add(stats)
            elif pick < 0.8:
                figures.crash.add(
                    crash_zot_chain(root, rng, max_kills=3, configured_secret=rng.random() < 0.5)
                )
            elif pick < 0.9:
                figures.hang_rounds += 1
                hang_round(root, rng, figures)
            else:
                figures.fault_rounds += 1
                fault_round(root, rng, figures)
            if number % 10 == 0:
                print(
                    f"  round {number}: {figures.crash.kills} kills, "
                    f"{figures.faults_fired} faults fired, "
                    f"{len(figures.failures) + len(figures.crash.failures)} failures",
                    flush=True,
                )
            if not args.keep and not figures.failures and not figures.crash.failures:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        elapsed = time.monotonic() - started
        failures = figures.crash.failures + figures.failures
        print(f"\nstress: {elapsed / 60:.1f} minutes, seed {seed}")
        print(
            f"  crash iterations (trees run to completion through kills): "
            f"{figures.crash.iterations}"
        )
        print(
            f"  SIGKILLs of a live `mikado run`: {figures.crash.kills} "
            f"(+ {figures.lab_kills} of `mikado run --lab`)"
        )
        print(f"  mikado run processes: {figures.crash.runs + figures.lab_runs}")
        print(
            f"  fault rounds: {figures.fault_rounds}; faults injected {figures.faults_injected}, "
            f"fired {figures.faults_fired}; cards failed cleanly {figures.failed_cards}"
        )
        print(
            f"  hang rounds: {figures.hang_rounds}; hangs induced and timed out cleanly "
            f"{figures.hangs}"
        )
        print(f"  failures found: {len(failures)}")
        for failure in failures:
            print(f"    - {failure}")
        if not args.keep and not failures:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
