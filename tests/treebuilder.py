"""Small real docs trees for the `check` tests: files on disk, a mikado.toml, and helpers that
run the check and list its findings as plain tuples."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from mikado.checks.gate import Report, check_docs
from mikado.config import load_config

Finding = tuple[str, str, int | None, str | None]  # rule, path, line, target


def card_text(
    title: str = "A Card",
    *,
    status: str | None = None,
    requires: Sequence[str] | None = None,
    branch: str | None = None,
    action: str | None = None,
    tags: Sequence[str] = ("test",),
    modified: str = "2026-01-01",
    body: str | None = None,
    extra: str = "",
) -> str:
    """A card as an operator writes one: ``title``, ``modified``, then the given Mikado
    fields, ``tags``, ``extra`` (raw YAML lines) and the body (default: a ``# title``
    heading). ``requires=[]`` writes ``requires: []``; ``None`` leaves the key out."""
    lines = ["---", yaml.safe_dump({"title": title}, allow_unicode=True, width=1 << 20).strip()]
    lines.append(f"modified: {modified}")
    if status is not None:
        lines.append(f"status: {status}")
    if branch is not None:
        lines.append(f"branch: {branch}")
    if action is not None:
        lines.append(f"action: {action}")
    if requires is not None:
        lines.append("requires:" + ("" if requires else " []"))
        lines.extend(f"  - {r}" for r in requires)
    lines.append("tags:")
    lines.extend(f"  - {t}" for t in tags)
    front = "\n".join(lines) + "\n" + extra
    return front + "---\n\n" + (f"# {title}\n" if body is None else body)


def doc(title: str = "A doc", body: str = "", **fields: str) -> str:
    """A doc whose front-matter is lines 1-4 (``---``, title, modified, tags) plus one line per
    extra field (given as YAML text), in order, from line 5."""
    lines = ["---", f"title: {title}", "modified: 2024-01-02", "tags: [docs]"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    lines.append("---")
    return "\n".join(lines) + "\n" + body


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write each file under ``root`` as given: bytes as they are, text as UTF-8 with its line
    endings kept (a test of CRLF must get CRLF)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")


def write_tree(
    base: Path,
    files: Mapping[str, str | bytes],
    *,
    index: bool = True,
    actions: Sequence[str] = (),
    settings: str = "",
) -> Path:
    """Write ``files`` under ``base/docs`` and ``base/mikado.toml``. With ``index``, a root
    ``index.md`` (exempt from orphan by default) links every doc, so no doc is an orphan
    unless a test wants one. ``actions`` names the action modules to create."""
    root = base / "docs"
    root.mkdir(parents=True, exist_ok=True)
    all_files = dict(files)
    if index and "index.md" not in all_files:
        stems = [
            Path(path).stem for path in files if path.endswith(".md") and Path(path).stem != "index"
        ]
        all_files["index.md"] = doc("Index", "".join(f"- [[{s}]]\n" for s in stems))
    write_files(root, all_files)
    (base / "actions").mkdir(exist_ok=True)
    for name in actions:
        (base / "actions" / f"{name}.py").write_text("def apply(ctx):\n    pass\n")
    (base / "mikado.toml").write_text(f'[mikado]\ndocs = "docs"\n{settings}\n', encoding="utf-8")
    return root


def report_of(base: Path) -> Report:
    return check_docs(load_config(cwd=base))


def findings(base: Path) -> list[Finding]:
    return [(f.rule, f.path, f.line, f.target) for f in report_of(base).findings]


def run_mikado(
    *args: str | os.PathLike[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, as a user or CI runs it (this checkout's mikado)."""
    project = str(Path(__file__).resolve().parent.parent)
    python_path = os.pathsep.join(filter(None, [project, os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": python_path, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mikado", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
