"""Malformed docs trees and configurations through the real command (issue 8, bad input).

Each case is one entry of :data:`CASES`: the files that differ from a small valid tree, the commands
to run on it and the exit code docs/reference.md#exit-codes assigns each (1 for docs that cannot be
read or fail the gate, 2 for usage and configuration). Every command must also name the file the
problem is in (and its line, where it has one), print no traceback, and change no byte of the tree.
Adding a case is adding one entry."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from treebuilder import write_files

from .forked_cli import ForkedCli, Result, python_m

Files = Mapping[str, str | bytes | None]  # None deletes a file of the base tree


def card(
    title: str = "A card",
    *,
    status: str | None = "active",
    requires: tuple[str, ...] = (),
    extra: str = "",
    body: str = "",
) -> str:
    lines = ["---", f"title: {title}", "modified: 2026-01-01", "tags: [test]"]
    if status:
        lines.append(f"status: {status}")
    if requires:
        lines.append("requires:")
        lines += [f"  - {r}" for r in requires]
    if extra:
        lines.append(extra.rstrip("\n"))
    lines.append("---")
    return "\n".join(lines) + "\n\n" + (body or f"# {title}\n")


def base_files() -> dict[str, str | bytes]:
    """A tree that passes `check`: goal ← leaf, both open, linked from the index."""
    return {
        "mikado.toml": '[mikado]\ndocs = "docs"\n',
        "docs/index.md": card("Index", status=None, body="- [[goal]]\n- [[leaf]]\n"),
        "docs/goal.md": card("Goal", requires=("leaf",), body="Needs [[leaf]].\n"),
        "docs/leaf.md": card("Leaf"),
    }


Command = tuple[tuple[str, ...], int]

# Commands that need a trustworthy graph: a problem in it stops them all with exit 1.
READERS: tuple[Command, ...] = (
    (("status",), 1),
    (("status", "goal"), 1),
    (("next",), 1),
    (("graph",), 1),
    (("check",), 1),
    (("run", "goal", "--dry-run"), 1),
    (("run", "goal", "--yes"), 1),
    (("done", "leaf"), 1),
    (("new", "extra", "--title", "Extra", "--required-by", "goal"), 1),
)
# A problem only the gate sees: the graph is fine, so the readers answer.
GATE_ONLY: tuple[Command, ...] = (
    (("check",), 1),
    (("status",), 0),
    (("next",), 0),
    (("run", "goal", "--dry-run"), 1),  # docs/reference.md#run: a chain with errors is refused
)

# A problem the engine would only meet half-way through a chain: `run` refuses it up front
# and changes nothing (the leaf has an action, so a run that started would complete it).
GATE_AND_RUN: tuple[Command, ...] = (*GATE_ONLY, (("run", "goal", "--yes"), 1))


def every(code: int) -> tuple[Command, ...]:
    return tuple((argv, code) for argv, _ in READERS)


@dataclass(frozen=True)
class Case:
    name: str
    files: Files
    commands: tuple[Command, ...]
    where: str | None  # the file the message must name (path as printed), or None
    line: int | None = None  # and its line, printed as `where:line`
    setup: Callable[[Path], None] | None = None  # for what files cannot say (links)
    forbidden: tuple[str, ...] = ()  # text that must never be printed (a secret)
    timeout: float = 20.0
    sequential: bool = False  # run the commands one after another, in order


def link(name: str, target: str) -> Callable[[Path], None]:
    def make(base: Path) -> None:
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)

    return make


def alias_bomb(last: str) -> str:
    """Billion laughs: nine levels of nine aliases, the last under the key ``last``."""
    levels = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        levels.append(f"l{level}: &l{level} [{aliases}]")
    head = "title: Bomb\nmodified: 2026-01-01\ntags: [test]\nstatus: active"
    return f"---\n{head}\n" + "\n".join(levels) + f"\n{last}: *l8\n---\n\n# Bomb\n"


CASES: list[Case] = [
    # -- YAML that does not parse ------------------------------------------------------------
    Case(
        "yaml-unclosed-flow-list",
        {"docs/leaf.md": card("Leaf", extra="requires: [a, b")},
        every(1),
        "leaf.md",
    ),
    Case(
        "yaml-bad-indentation",
        {"docs/leaf.md": "---\ntitle: Leaf\n  modified: 2026-01-01\ntags: [test]\n---\n"},
        every(1),
        "leaf.md",
        3,
    ),
    Case(
        "yaml-tab-indentation",
        {"docs/leaf.md": "---\ntitle: Leaf\nmodified: 2026-01-01\ntags:\n\t- test\n---\n"},
        every(1),
        "leaf.md",
        5,
    ),
    Case(
        "yaml-unknown-python-tag",
        {"docs/leaf.md": card("Leaf", extra="x: !!python/object/apply:os.system ['true']")},
        every(1),
        "leaf.md",
        6,
    ),
    Case(
        "yaml-int-tag-on-words",
        {"docs/leaf.md": card("Leaf", extra="x: !!int abc")},
        every(1),
        "leaf.md",
    ),
    Case(
        "yaml-empty-float-tag",
        {"docs/leaf.md": card("Leaf", extra="x: !!float")},
        every(1),
        "leaf.md",
        6,
    ),
    Case(
        "yaml-empty-bool-tag",
        {
            "docs/leaf.md": card("Leaf", extra="x: !!bool"),
            "docs/goal.md": card("Goal", requires=("leaf",)),
        },
        every(1),
        "leaf.md",
        6,
    ),
    Case(
        # The goal's own front-matter is unreadable, so its `requires` are unknown too.
        "yaml-empty-timestamp-tag",
        {
            "docs/leaf.md": card("Leaf"),
            "docs/goal.md": card("Goal", requires=("leaf",), extra="y: !!timestamp"),
        },
        every(1),
        "goal.md",
        8,
    ),
    Case(
        "yaml-unhashable-key",
        {"docs/leaf.md": card("Leaf", extra="? [a, b]\n: c")},
        every(1),
        "leaf.md",
    ),
    Case(
        "yaml-undefined-alias",
        {"docs/leaf.md": card("Leaf", extra="requires: *nowhere")},
        every(1),
        "leaf.md",
        6,
    ),
    Case(
        "yaml-two-documents",
        {"docs/leaf.md": card("Leaf", extra="...\n--- \nother: doc")},
        every(1),
        "leaf.md",
    ),
    Case(
        "yaml-deep-nesting",
        {"docs/leaf.md": card("Leaf", extra="x: " + "[" * 5000 + "]" * 5000)},
        every(1),
        "leaf.md",
    ),
    Case("yaml-alias-bomb", {"docs/leaf.md": alias_bomb("requires")}, every(1), "leaf.md", 7),
    Case(
        "yaml-alias-bomb-in-an-unused-field",
        {"docs/leaf.md": alias_bomb("x")},
        every(1),
        "leaf.md",
    ),
    Case(
        "yaml-recursive-alias",
        {"docs/leaf.md": card("Leaf", extra="x: &loop [*loop]")},
        every(1),
        "leaf.md",
        6,
    ),
    # -- front-matter that is missing, unclosed or not a mapping -----------------------------
    Case("empty-file", {"docs/leaf.md": b""}, every(1), "leaf.md"),
    Case(
        "frontmatter-never-closed", {"docs/leaf.md": "---\ntitle: Leaf\n"}, every(1), "leaf.md", 1
    ),
    Case("frontmatter-only-opening", {"docs/leaf.md": "---"}, every(1), "leaf.md", 1),
    Case("frontmatter-is-a-list", {"docs/leaf.md": "---\n- a\n- b\n---\n"}, every(1), "leaf.md", 2),
    Case(
        "frontmatter-is-a-scalar", {"docs/leaf.md": "---\njust words\n---\n"}, every(1), "leaf.md"
    ),
    Case(
        "frontmatter-cr-only-line-ends",
        {"docs/leaf.md": card("Leaf").replace("\n", "\r").encode()},
        every(1),
        "leaf.md",
    ),
    Case(
        "frontmatter-indented-delimiter",
        {"docs/leaf.md": " ---\ntitle: Leaf\n---\n"},
        every(1),
        "leaf.md",
    ),
    # -- encodings and bytes -----------------------------------------------------------------
    Case(
        "latin-1-front-matter",
        {"docs/leaf.md": card("Lé Leaf").encode("latin-1")},
        every(1),
        "leaf.md",
        2,
    ),
    Case(
        "utf-16-file",
        {"docs/leaf.md": card("Leaf").encode("utf-16")},
        every(1),
        "leaf.md",
    ),
    Case(
        "double-bom",
        {"docs/leaf.md": b"\xef\xbb\xbf\xef\xbb\xbf" + card("Leaf").encode()},
        every(1),
        "leaf.md",
    ),
    Case(
        "nul-in-front-matter",
        {"docs/leaf.md": card("Le\x00af").encode()},
        every(1),
        "leaf.md",
        2,
    ),
    Case(
        "nul-and-latin-1-in-body",
        {"docs/leaf.md": card("Leaf", body="# Leaf\n\x00caf\xe9 [[goal]]\n").encode("latin-1")},
        (
            (("check",), 1),  # fills the cache with the body's finding
            (("status",), 0),  # which must not fail the front-matter readers
            (("next",), 0),
            (("run", "goal", "--dry-run"), 1),
        ),
        "leaf.md",
        sequential=True,
    ),
    Case(
        "lone-surrogate-escape",
        {"docs/leaf.md": card("Leaf", extra='x: "\\ud800"')},
        every(1),
        "leaf.md",
    ),
    # -- fields of the wrong type ------------------------------------------------------------
    Case(
        "requires-a-string",
        {"docs/goal.md": card("Goal", extra="requires: leaf", body="[[leaf]]\n")},
        every(1),
        "goal.md",
        6,
    ),
    Case(
        "requires-a-mapping",
        {"docs/goal.md": card("Goal", extra="requires:\n  leaf: yes", body="[[leaf]]\n")},
        every(1),
        "goal.md",
        6,
    ),
    Case(
        "requires-holds-numbers-and-null",
        {"docs/goal.md": card("Goal", extra="requires:\n  - 12\n  -\n", body="[[leaf]]\n")},
        every(1),
        "goal.md",
        6,
    ),
    Case(
        "status-a-typo",
        {"docs/leaf.md": card("Leaf", status="actve")},
        every(1),
        "leaf.md",
        5,
    ),
    Case(
        "status-a-boolean",
        {"docs/leaf.md": card("Leaf", status="yes")},
        every(1),
        "leaf.md",
        5,
    ),
    Case(
        "status-a-list",
        {"docs/leaf.md": card("Leaf", status="[active]")},
        every(1),
        "leaf.md",
        5,
    ),
    Case(
        "status-a-mapping",
        {"docs/leaf.md": card("Leaf", status="{a: 1}")},
        every(1),
        "leaf.md",
        5,
    ),
    Case(
        "action-a-list",
        {"docs/leaf.md": card("Leaf", extra="action: [a, b]")},
        every(1),
        "leaf.md",
        6,
    ),
    Case(
        "tags-a-string",
        {"docs/leaf.md": card("Leaf").replace("[test]", "test")},
        GATE_ONLY,
        "leaf.md",
        4,
    ),
    Case(
        "modified-impossible-date",
        {"docs/leaf.md": card("Leaf").replace("2026-01-01", "2026-02-30")},
        GATE_ONLY,
        "leaf.md",
        3,
    ),
    Case(
        "modified-a-timestamp",
        {"docs/leaf.md": card("Leaf").replace("2026-01-01", "2026-01-01 10:00:00")},
        GATE_ONLY,
        "leaf.md",
        3,
    ),
    Case(
        "title-a-list",
        {"docs/leaf.md": card("Leaf").replace("title: Leaf", "title: [a, b]")},
        GATE_ONLY,
        "leaf.md",
        2,
    ),
    Case(
        "required-field-missing",
        {"docs/leaf.md": card("Leaf").replace("tags: [test]\n", "")},
        GATE_ONLY,
        "leaf.md",
    ),
    # -- the requires graph ------------------------------------------------------------------
    Case(
        "requires-itself",
        {"docs/leaf.md": card("Leaf", requires=("leaf",))},
        every(1),
        "leaf.md",
        7,
    ),
    Case(
        "mutual-cycle",
        {"docs/leaf.md": card("Leaf", requires=("goal",), body="[[goal]]\n")},
        every(1),
        "goal.md",
        6,
    ),
    Case(
        "three-card-cycle",
        {
            "docs/leaf.md": card("Leaf", requires=("mid",), body="[[mid]]\n"),
            "docs/mid.md": card("Mid", requires=("goal",), body="[[goal]]\n"),
        },
        every(1),
        "goal.md",
        6,
    ),
    Case(
        "requires-missing-card",
        {"docs/leaf.md": card("Leaf", requires=("nowhere",))},
        every(1),
        "leaf.md",
        7,
    ),
    Case(
        "requires-a-path",
        {
            "docs/zot/sub.md": card("Sub", body="[[goal]]\n"),
            "docs/leaf.md": card("Leaf", requires=("zot/sub",), body="[[sub]]\n"),
        },
        every(1),
        "leaf.md",
        7,
    ),
    Case(
        "requires-dot-dot",
        {"docs/leaf.md": card("Leaf", requires=("../goal",))},
        every(1),
        "leaf.md",
        7,
    ),
    Case(
        "requires-with-md-suffix",
        {"docs/goal.md": card("Goal", requires=("leaf.md",), body="[[leaf]]\n")},
        every(1),
        "goal.md",
        7,
    ),
    Case(
        "duplicate-stem-in-two-folders",
        {"docs/zot/leaf.md": card("Other leaf", status=None, body="[[goal]]\n")},
        every(1),
        "zot/leaf.md",
    ),
    # -- links in the file system ------------------------------------------------------------
    Case(
        "symlink-leaving-the-root",
        {
            "outside/far.md": card("Far"),
            "docs/leaf.md": card("Leaf", requires=("far",)),
        },
        every(1),
        "leaf.md",
        7,
        setup=link("docs/out", "../outside"),
    ),
    Case(
        "symlinked-card-leaving-the-root",
        {"outside/far.md": card("Far"), "docs/leaf.md": card("Leaf", requires=("far",))},
        every(1),
        "leaf.md",
        7,
        setup=link("docs/far.md", "../outside/far.md"),
    ),
    Case(
        "symlink-loop-and-self-link",
        {"docs/leaf.md": card("Leaf", requires=("nowhere",))},
        every(1),
        "leaf.md",
        7,
        setup=lambda base: (link("docs/loop", ".")(base), link("docs/self.md", "self.md")(base)),
    ),
    # -- `mikado new` and `done` with impossible names --------------------------------------
    Case(
        "new-stem-with-slash",
        {},
        ((("new", "zot/evil", "--title", "Evil"), 2),),
        None,
    ),
    Case(
        "new-stem-dot-dot",
        {},
        ((("new", "../evil", "--title", "Evil"), 2), (("new", "..", "--title", "Evil"), 2)),
        None,
    ),
    Case(
        "new-stem-backslash-and-control",
        {},
        ((("new", "a\\b", "--title", "E"), 2), (("new", "a\tb", "--title", "E"), 2)),
        None,
    ),
    Case(
        "new-stem-or-title-with-undecodable-bytes",
        {},
        (
            # How Python hands over command-line bytes that are not UTF-8: lone surrogates.
            (("new", "extra", "--title", "caf\udce9"), 2),
            (("new", "caf\udce9", "--title", "Cafe"), 2),
            (("new", "extra", "--title", " "), 2),
        ),
        None,
    ),
    Case(
        "new-stem-that-exists",
        {},
        ((("new", "leaf", "--title", "Again"), 2),),
        "leaf.md",
    ),
    Case(
        "new-requires-dot-dot",
        {},
        (
            (("new", "extra", "--title", "E", "--requires", "../leaf"), 2),
            (("new", "extra", "--title", "E", "--required-by", "docs/goal"), 2),
        ),
        None,
    ),
    Case(
        "new-dir-outside-the-root",
        {},
        (
            (("new", "extra", "--title", "E", "--dir", "docs/../elsewhere"), 2),
            (("new", "extra", "--title", "E", "--dir", "/tmp"), 2),
        ),
        None,
    ),
    Case(
        "new-dir-through-a-link-leaving-the-root",
        {"outside/keep.txt": "x"},
        ((("new", "extra", "--title", "E", "--dir", "docs/out"), 2),),
        None,
        setup=link("docs/out", "../outside"),
    ),
    Case(
        "new-closes-a-cycle",
        {},
        (
            (("new", "mid", "--title", "Mid", "--requires", "goal", "--required-by", "leaf"), 2),
            (("new", "mid", "--title", "Mid", "--requires", "leaf", "--required-by", "leaf"), 2),
        ),
        "leaf → mid → ",
        sequential=True,
    ),
    Case(
        # The first --required-by card is fine, the second cannot be edited: nothing is
        # written, not even the first edit or the new card.
        "new-required-by-a-flow-mapping-doc",
        {"docs/flow.md": "---\n{title: Flow, modified: 2026-01-01, tags: [test]}\n---\n"},
        ((("new", "extra", "--title", "E", "--required-by", "goal", "--required-by", "flow"), 1),),
        "flow.md",
        2,
    ),
    Case(
        "new-required-by-a-doc-with-a-duplicate-key",
        {"docs/twice.md": card("Twice", status=None, extra="modified: 2026-01-02")},
        ((("new", "extra", "--title", "E", "--required-by", "goal", "--required-by", "twice"), 1),),
        "twice.md",
        5,
    ),
    Case(
        "new-dir-hidden-excluded-or-changelog",
        {"mikado.toml": '[mikado]\ndocs = "docs"\nexclude = ["archive", "ops/old"]\n'},
        (
            (("new", "extra", "--title", "E", "--dir", "docs/.drafts"), 2),
            (("new", "extra", "--title", "E", "--dir", "docs/changelog.d"), 2),
            (("new", "extra", "--title", "E", "--dir", "docs/ops/changelog.d/x"), 2),
            (("new", "extra", "--title", "E", "--dir", "docs/team/archive"), 2),
            (("new", "extra", "--title", "E", "--dir", "docs/ops/old"), 2),
        ),
        "never reads",
        sequential=True,
    ),
    Case(
        "unknown-goal-and-card",
        {},
        (
            (("status", "nowhere"), 2),
            (("run", "nowhere", "--dry-run"), 2),
            (("done", "../leaf"), 2),
            (("graph", "nowhere"), 2),
        ),
        None,
    ),
    # -- front-matter the engine could not edit: the gate refuses it before anything runs --
    Case(
        "status-written-twice",
        {
            "docs/goal.md": card("Goal", requires=("leaf",), extra="status: active"),
            "actions/leaf.py": "def apply(ctx):\n    pass\n",
        },
        GATE_AND_RUN,
        "goal.md",
        8,
    ),
    Case(
        "requires-written-twice",
        {
            "docs/goal.md": card("Goal", requires=("leaf",), extra="requires: [leaf]"),
            "actions/leaf.py": "def apply(ctx):\n    pass\n",
        },
        GATE_AND_RUN,
        "goal.md",
        8,
    ),
    Case(
        "status-anchor-another-field-uses",
        {
            "docs/goal.md": card(
                "Goal", status="&open active", requires=("leaf",), extra="phase: *open"
            ),
            "actions/leaf.py": "def apply(ctx):\n    pass\n",
        },
        GATE_AND_RUN,
        "goal.md",
        5,
    ),
    Case(
        "merge-key-in-a-card",
        {
            "docs/goal.md": "---\ntitle: Goal\nmodified: 2026-01-01\ntags: [test]\n"
            "<<: {status: active}\nrequires: [leaf]\n---\n\nNeeds [[leaf]].\n",
            "actions/leaf.py": "def apply(ctx):\n    pass\n",
        },
        GATE_AND_RUN,
        "goal.md",
        5,
    ),
    Case(
        "card-front-matter-a-flow-mapping",
        {
            "docs/goal.md": "---\n{title: Goal, modified: 2026-01-01, tags: [test], "
            "status: active, requires: [leaf]}\n---\n\nNeeds [[leaf]].\n",
            "actions/leaf.py": "def apply(ctx):\n    pass\n",
        },
        GATE_AND_RUN,
        "goal.md",
        2,
    ),
    # -- configuration -----------------------------------------------------------------------
    Case(
        "config-literal-secret",
        {"mikado.toml": '[mikado]\ndocs = "docs"\n[zot]\napi_token = "hunter2-sentinel"\n'},
        every(2),
        "mikado.toml",
        forbidden=("hunter2-sentinel",),
    ),
    Case(
        "config-literal-secret-nested",
        {
            "mikado.toml": '[mikado]\ndocs = "docs"\n'
            '[forgejo.admin]\npassword = "hunter2-sentinel"\n'
        },
        ((READERS[0][0], 2), (("check",), 2)),
        "mikado.toml",
        forbidden=("hunter2-sentinel",),
    ),
    Case(
        "config-unknown-key",
        {"mikado.toml": '[mikado]\ndocs = "docs"\ncompletoin = "done"\n'},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-unknown-rule",
        {"mikado.toml": '[mikado]\ndocs = "docs"\nignore = ["orphans"]\n'},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-toml-syntax",
        {"mikado.toml": '[mikado]\ndocs = "docs\n'},
        every(2),
        "mikado.toml",
        2,
    ),
    Case(
        "config-wrong-types",
        {"mikado.toml": "[mikado]\ndocs = 3\n"},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-mikado-not-a-table",
        {"mikado.toml": 'mikado = "docs"\n'},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-not-utf-8",
        {"mikado.toml": '[mikado]\ndocs = "docs" # caf\xe9\n'.encode("latin-1")},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-nul-byte",
        {"mikado.toml": b'[mikado]\ndocs = "do\x00cs"\n'},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-bad-timeout-and-tls",
        {"mikado.toml": '[mikado]\ndocs = "docs"\ntimeout = -1\n[mikado.tls]\nverify = false\n'},
        every(2),
        "mikado.toml",
    ),
    Case(
        "config-docs-missing",
        {"mikado.toml": '[mikado]\ndocs = "nowhere"\n'},
        every(2),
        "nowhere",
    ),
    Case(
        "config-docs-is-a-file",
        {"mikado.toml": '[mikado]\ndocs = "docs/leaf.md"\n'},
        every(2),
        "leaf.md",
    ),
    Case(
        "pyproject-unknown-key",
        {
            "mikado.toml": None,
            "pyproject.toml": '[project]\nname = "x"\n[tool.mikado]\ndocs = "docs"\ndoc = "d"\n',
        },
        every(2),
        "pyproject.toml",
    ),
    Case(
        "config-flag-names-no-file",
        {},
        ((("status", "--config", "missing.toml"), 2), (("check", "--docs", "missing"), 2)),
        "missing",
    ),
    Case(
        "usage-unknown-format-and-option",
        {},
        (
            (("status", "--format", "yaml"), 2),
            (("check", "--strcit"), 2),
            (("run", "goal", "--jobs", "0"), 2),
        ),
        None,
    ),
    # -- action modules ----------------------------------------------------------------------
    Case(
        "action-raises-at-import",
        {"actions/leaf.py": "import os\nraise RuntimeError('broken at import')\n"},
        ((("run", "goal", "--yes"), 1), (("run", "goal", "--dry-run"), 1)),
        "leaf.py",
        2,
    ),
    Case(
        "action-syntax-error",
        {"actions/leaf.py": "def apply(ctx):\n    return (\n"},
        ((("run", "goal", "--yes"), 1),),
        "leaf.py",
    ),
    Case(
        "action-missing-dependency",
        {"actions/leaf.py": "import no_such_module_anywhere\n\ndef apply(ctx):\n    pass\n"},
        ((("run", "goal", "--yes"), 1),),
        "leaf.py",
        1,
    ),
    Case(
        "action-exits-at-import",
        {"actions/leaf.py": "import sys\nsys.exit(0)\n"},
        ((("run", "goal", "--yes"), 1),),
        "leaf.py",
        2,
    ),
    Case(
        "action-without-apply",
        {"actions/leaf.py": "def check(ctx):\n    return False\n"},
        ((("run", "goal", "--yes"), 1),),
        "leaf.py",
    ),
    Case(
        "action-hangs-at-import",
        {
            "mikado.toml": '[mikado]\ndocs = "docs"\ntimeout = 1\n',
            "actions/leaf.py": "import time\nwhile True:\n    time.sleep(0.05)\n",
        },
        ((("run", "goal", "--yes"), 1), (("run", "goal", "--dry-run"), 1)),
        "leaf.py",
        timeout=15,
    ),
    Case(
        "action-field-dot-dot",
        {
            "docs/leaf.md": card("Leaf", extra="action: ../outside/evil"),
            "outside/evil.py": "raise SystemExit('must never be imported')\n",
        },
        every(1),
        "leaf.md",
        6,
    ),
]


def snapshot(base: Path) -> dict[str, bytes]:
    """Every file and link under ``base`` by content, except mikado's runtime folder."""
    found: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(base, followlinks=False):
        rel_folder = os.path.relpath(folder, base)
        dirs[:] = [d for d in dirs if not (rel_folder == "." and d == ".mikado")]
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, base)
            if os.path.islink(path):
                found[rel] = b"link:" + os.readlink(path).encode()
            elif os.path.isfile(path):
                with open(path, "rb") as stream:
                    found[rel] = hashlib.sha256(stream.read()).digest()
            else:
                found[rel] = b"dir"
    return found


def build(base: Path, case: Case) -> None:
    files: dict[str, str | bytes | None] = {**base_files(), **case.files}
    write_files(base, {rel: content for rel, content in files.items() if content is not None})
    if case.setup is not None:
        case.setup(base)


def names_place(output: str, where: str, line: int | None) -> bool:
    """Whether ``output`` names the file and line: ``where:line`` in a message, or the line
    column under the file's heading in `check`'s report."""
    if line is None:
        return where in output
    if f"{where}:{line}" in output:
        return True
    section = rf"{re.escape(where)}\n(?:  .*\n)*?  +{line}  +(?:error|warning) "
    return re.search(section, output) is not None


@pytest.fixture(scope="module")
def cli() -> Iterator[ForkedCli]:
    server = ForkedCli()
    yield server
    server.close()


def assert_refused(case: Case, argv: tuple[str, ...], expected: int, result: Result) -> None:
    shown = f"mikado {' '.join(argv)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    output = result.stdout + result.stderr
    assert result.returncode == expected, shown
    assert "Traceback" not in output, shown
    assert "internal error" not in output, shown
    if case.where is not None and expected != 0:
        assert names_place(output, case.where, case.line), shown
    for secret in case.forbidden:
        assert secret not in output, shown


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(tmp_path: Path, case: Case, cli: ForkedCli) -> None:
    base = tmp_path / "tree"
    base.mkdir()
    build(base, case)
    before = snapshot(base)
    commands = [argv for argv, _ in case.commands]
    if case.sequential:
        results = [cli.run_many(base, [argv], timeout=case.timeout)[0] for argv in commands]
    else:
        results = cli.run_many(base, commands, timeout=case.timeout)
    for (argv, expected), result in zip(case.commands, results, strict=True):
        assert_refused(case, argv, expected, result)
    assert snapshot(base) == before
    assert not (base / ".mikado" / "crash.log").exists()


# One case of each kind, run as `python -m mikado` too: the forking server must not hide what
# a real start-up would show.
SAMPLED = (
    "yaml-tab-indentation",
    "latin-1-front-matter",
    "mutual-cycle",
    "config-literal-secret",
    "new-stem-dot-dot",
    "action-raises-at-import",
)


@pytest.mark.parametrize("name", SAMPLED)
def test_python_m_mikado_gives_the_same_answers(tmp_path: Path, name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    base = tmp_path / "tree"
    base.mkdir()
    build(base, case)
    before = snapshot(base)
    for argv, expected in case.commands[:3]:
        assert_refused(case, argv, expected, python_m(base, argv, timeout=case.timeout))
    assert snapshot(base) == before


def test_there_are_at_least_forty_distinct_cases() -> None:
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names) >= 40
