"""Engine overhead of `mikado run` per card: a generated 1,000-card chain whose actions do
nothing, so all the time measured is the engine's (planning, the two durable card writes per
card, the journal, starting each card's process and reading its result).

    python benchmarks/bench_run.py [--cards 1000] [--jobs 1] [--keep]

Target: under 50 ms per card, durable writes and the card's own process included.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mikado.config import load_config
from mikado.engine.plan import RunOptions, plan_run
from mikado.engine.runner import Runner


def generate(root: Path, count: int) -> str:
    """A chain where card i requires i-1 and i-7 (some width for --jobs), all with the
    same no-op action; returns the goal's stem."""
    docs = root / "cards" / "bench"
    docs.mkdir(parents=True)
    (root / "actions").mkdir()
    (root / "actions" / "noop.py").write_text("def apply(ctx):\n    pass\n")
    (root / "mikado.toml").write_text("[mikado]\n")
    stems = [f"card-{i:04d}" for i in range(count)]
    index = "---\ntitle: Bench\nmodified: 2026-01-01\ntags: [bench]\n---\n\n"
    index += "".join(f"- [[{s}]]\n" for s in stems)
    (docs / "bench.md").write_text(index)
    for i, stem in enumerate(stems):
        requires = [stems[j] for j in (i - 1, i - 7) if j >= 0]
        lines = ["---", f"title: Card {i}", "modified: 2026-01-01", "status: active"]
        lines += ["action: noop", "tags:", "  - bench"]
        if requires:
            lines += ["requires:"] + [f"  - {r}" for r in requires]
        lines += ["---", "", f"# Card {i}", "", "Some body text that stays as it is.", ""]
        (docs / f"{stem}.md").write_text("\n".join(lines))
    return stems[-1]


def durable_write_ms(root: Path, count: int = 300) -> float:
    """What one durable replace of a card-sized file costs on this disk, alone."""
    from mikado.edit.atomic import write_atomic

    target = root / "probe.md"
    data = b"x" * 400
    started = time.perf_counter()
    for _ in range(count):
        write_atomic(target, data)
    return (time.perf_counter() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mikado-bench-"))
    try:
        goal = generate(root, args.cards)
        config = load_config(cwd=root)
        options = RunOptions(jobs=args.jobs)
        t0 = time.perf_counter()
        prepared = plan_run(config, goal, options)
        t1 = time.perf_counter()
        result = Runner(prepared, options=options).run()
        t2 = time.perf_counter()
        assert int(result.exit_code) == 0, result.errors
        done = len(result.stems(*result.outcomes.values()))
        per_card = (t2 - t1) / done * 1000
        print(f"cards run:           {done} (jobs {args.jobs})")
        print(f"plan_run (read+plan): {(t1 - t0) * 1000:.0f} ms")
        print(f"run:                 {(t2 - t1) * 1000:.0f} ms")
        print(f"engine overhead:     {per_card:.2f} ms per card (target < 50 ms)")
        print(
            f"  of which the disk: {2 * durable_write_ms(root):.2f} ms per card "
            "(2 durable card writes: fsync of file and folder)"
        )
        if args.keep:
            print(f"tree kept in {root}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
