"""Wall time of the README's main job, `mikado run harden-zot-registry --lab`, and how soon it
prints its first line, for each combination of releases the lab test matrix runs.

    python benchmarks/bench_lab.py [--repeat 3] [--versions authentik=2025.2,zot=2.1.10,...]

Each run starts a fresh process in a new workspace, as a user does (start-up, emulators,
provisioning, the chain up to the manual card, the lab's mint, the rest of the chain, the
report); a second run in the same workspace measures the no-op. The best and the worst of
``--repeat`` runs are shown. Targets (issue 13): under 10 s wall on 2 cores, first output
within the first second.
"""

from __future__ import annotations

import argparse
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VERSIONS = (
    "",  # the newest of each
    "authentik=2025.2,zot=2.1.10,forgejo=11",
    "authentik=2025.2,zot=2.1.17,forgejo=16",
    "authentik=2026.8,zot=2.1.10,forgejo=16",
)


def timed_run(workspace: Path, versions: str) -> tuple[float, float, int]:
    """(seconds to the first line of output, seconds in all, exit code)."""
    command = [sys.executable, "-m", "mikado", "run", "harden-zot-registry", "--lab"]
    if versions:
        command += ["--lab-versions", versions]
    command += ["--workspace", str(workspace)]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    first: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            selector.select()
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - started
    code = process.wait()
    return first if first is not None else float("nan"), time.monotonic() - started, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--versions", action="append", help="repeatable; default: the matrix")
    args = parser.parse_args()
    combinations = args.versions or list(DEFAULT_VERSIONS)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print(f"{'releases':<42} {'first line':>10} {'full run':>16} {'second run':>16}")
    failed = False
    for versions in combinations:
        firsts, fulls, seconds = [], [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="mikado-bench-lab-") as folder:
                workspace = Path(folder) / "ws"
                first, full, code = timed_run(workspace, versions)
                _, again, code_again = timed_run(workspace, versions)
            failed |= code != 0 or code_again != 0
            firsts.append(first)
            fulls.append(full)
            seconds.append(again)
        print(
            f"{versions or 'newest of each':<42} {max(firsts):>9.2f}s "
            f"{min(fulls):>7.2f}-{max(fulls):<5.2f}s {min(seconds):>7.2f}-{max(seconds):<5.2f}s"
        )
    if failed:
        print("some runs did not exit 0")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
