"""Small docs trees with actions, written to a temporary folder, for the run tests.

A tree has a ``mikado.toml``, a category ``cards/work/work.md`` linking every card, the cards
themselves and an ``actions/`` folder. Actions are Python source given by the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from treebuilder import card_text

from mikado.tree.frontmatter import parse_block, split_bytes

WORKTREE = Path(__file__).resolve().parent.parent


def disposable(path: Path) -> bool:
    """mikado's own throw-away runtime files: the lock (an empty file once a run has looked),
    the scan cache any read may fill, and the runtime folder's .gitignore. "Changes nothing"
    is about everything else."""
    parts = path.parts
    if ".mikado" not in parts:
        return False
    rest = parts[parts.index(".mikado") + 1 :]
    return rest[:1] == ("cache",) or rest in (("run.lock",), (".gitignore",))


# An action that records its effect once: `check` recognises work already done, so a second
# call after a crash changes nothing. Effects are lines in effects.log beside mikado.toml.
RECORDING_ACTION = """
from pathlib import Path
import os

EFFECTS = Path(__file__).resolve().parent.parent / "effects.log"


def _done(stem):
    return EFFECTS.exists() and stem in EFFECTS.read_text().split()


def check(ctx):
    return _done(ctx.stem)


def apply(ctx):
    fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (ctx.stem + "\\n").encode())
    finally:
        os.close(fd)
"""


@dataclass(frozen=True)
class Tree:
    root: Path

    @property
    def docs(self) -> Path:
        return self.root / "cards"

    @property
    def runtime(self) -> Path:
        return self.root / ".mikado"

    def card_path(self, stem: str) -> Path:
        found = list(self.docs.rglob(f"{stem}.md"))
        assert len(found) == 1, f"{stem}: {found}"
        return found[0]

    def meta(self, stem: str) -> dict[str, Any]:
        block = split_bytes(self.card_path(stem).read_bytes())
        assert block is not None
        return parse_block(block)

    def status(self, stem: str) -> str | None:
        value = self.meta(stem).get("status")
        return None if value is None else str(value)

    def effects(self) -> list[str]:
        path = self.root / "effects.log"
        return path.read_text().split() if path.exists() else []

    def journal(self) -> list[dict[str, Any]]:
        import json

        path = self.runtime / "journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def snapshot(self) -> dict[str, bytes]:
        """Every file's bytes, but mikado's disposable runtime files."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and not disposable(p)
        }

    def mikado(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mikado", *args],
            cwd=self.root,
            env=subprocess_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mikado", *args],
            cwd=self.root,
            env=subprocess_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(WORKTREE), env.get("PYTHONPATH", "")) if p)
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    return env


def chain_card(
    stem: str,
    *,
    requires: Sequence[str] = (),
    status: str | None = "active",
    action: str | None = None,
    extra: str = "",
) -> str:
    """A card of a synthetic chain: titled after its stem, linking what it requires."""
    title = stem.replace("-", " ").title()
    links = "".join(f"- needs [[{r}]]\n" for r in requires)
    return card_text(
        title,
        status=status,
        requires=list(requires) or None,
        action=action,
        extra=extra,
        body=f"# {title}\n\n{links}",
    )


def make_tree(
    root: Path,
    cards: Mapping[str, Mapping[str, Any]],
    actions: Mapping[str, str] = {},
    *,
    config: str = "",
) -> Tree:
    """``cards``: stem → keyword arguments of :func:`chain_card`; ``actions``: name → source."""
    docs = root / "cards" / "work"
    docs.mkdir(parents=True)
    (root / "mikado.toml").write_text("[mikado]\n" + textwrap.dedent(config))
    index = ["---", "title: Work", "modified: 2026-01-01", "tags: [test]", "---", "", "# Work", ""]
    index += [f"- [[{stem}]]" for stem in cards]
    (docs / "work.md").write_text("\n".join(index) + "\n")
    for stem, fields in cards.items():
        (docs / f"{stem}.md").write_text(chain_card(stem, **fields))
    folder = root / "actions"
    folder.mkdir()
    for name, source in actions.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return Tree(root)
