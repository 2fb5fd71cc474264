"""Wall time and peak memory of `mikado check` and `mikado status` on generated docs trees.

    python benchmarks/bench_check.py [--sizes 120 1000 10000 100000] [--work /tmp/mikado-bench]

For each size a tree is generated once (see gen_docs.py) and kept under ``--work``. Each
command runs as a user runs it (``python -m mikado``, start-up included), "cold" with no
``.mikado`` cache and "warm" right after, when nothing changed; the best of ``--repeat`` runs
is shown. Peak memory is the largest sum of the resident set sizes of the command and all its
worker processes, sampled every few milliseconds from /proc (shared pages are counted once per
process, so this overstates rather than understates). CPU is the user+system time of the
command and its workers: on a shared machine it is steadier than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_docs import generate  # noqa: E402 - a sibling script, not a package

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measure:
    wall: float
    cpu: float
    peak_mb: float
    exit_code: int


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as stream:
                found.extend(int(child) for child in stream.read().split())
    except OSError:
        pass
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as stream:
            return int(stream.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss(current)
        stack.extend(_children(current))
    return total


def measure(args: list[str], cwd: Path) -> Measure:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(HERE.parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "mikado", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.003)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(wall, cpu, peak / 2**20, process.returncode)


def best(args: list[str], cwd: Path, repeat: int, *, cold: bool) -> Measure:
    runs = []
    for _ in range(repeat):
        if cold:
            shutil.rmtree(cwd / ".mikado", ignore_errors=True)
        else:
            measure(args, cwd)  # make sure the cache holds this very tree
        runs.append(measure(args, cwd))
    return min(runs, key=lambda m: m.wall)


def tree_for(work: Path, size: int) -> Path:
    tree = work / f"docs-{size}"
    marker = tree / ".generated"
    if not marker.exists():
        generate(tree, size, seed=size)
        marker.write_text("ok\n")
        time.sleep(0.05)  # let the files age past the filesystem clock's tick
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[120, 1000, 10000, 100000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/mikado-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best shown)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    header = (
        f"{'docs':>7}  {'command':<7} {'cold s':>7} {'cpu s':>6} {'MB':>5}   "
        f"{'warm s':>6} {'cpu s':>6} {'MB':>5}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        tree = tree_for(args.work, size)
        docs = sum(1 for _ in (tree / "docs").rglob("*.md"))
        for command in ("check", "status"):
            cold = best([command], tree, args.repeat, cold=True)
            warm = best([command], tree, args.repeat, cold=False)
            codes = {cold.exit_code, warm.exit_code}
            flag = "" if codes == {0} else f"  (exit {sorted(codes)})"
            print(
                f"{docs:>7}  {command:<7} {cold.wall:>7.2f} {cold.cpu:>6.2f} {cold.peak_mb:>5.0f}"
                f"   {warm.wall:>6.2f} {warm.cpu:>6.2f} {warm.peak_mb:>5.0f}{flag}",
                flush=True,
            )


if __name__ == "__main__":
    main()
