"""Growing the graph (`mikado new`, and the Mikado loop of docs/reference.md#run): writing a new
open card and linking it so the tree still passes `check` — from the cards that now require it
(``requires`` and body) and from its category index."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import frontmatter

from mikado.config import Config
from mikado.edit.atomic import write_atomic
from mikado.edit.editor import append_to_body, edit_card
from mikado.errors import UsageError
from mikado.model.card import Card
from mikado.model.categories import Categories
from mikado.tree.loader import Docs

# Characters a stem cannot hold and still be a file name and a wiki-link target.
_BAD_STEM = re.compile(r"[/\\\[\]|#^:*?\"<>\x00-\x1f]")
DEFAULT_TAGS = ("mikado",)


@dataclass(frozen=True, slots=True)
class NewCard:
    stem: str
    path: str  # relative to the docs root
    index: str | None  # the category index it was linked from


def stem_problem(stem: str) -> str | None:
    """Why ``stem`` cannot name a new card, or ``None``."""
    if not stem or stem != stem.strip():
        return "a stem must be non-empty, without leading or trailing spaces"
    if stem in (".", "..") or ".." in stem or stem.startswith("."):
        return "a stem must not start with `.` or contain `..`"
    if stem.endswith(".md"):
        return "give the stem without `.md`"
    bad = _BAD_STEM.search(stem)
    if bad:
        return f"a stem cannot contain `{bad.group()}` (it is a file name and a link target)"
    if not stem.isprintable():
        # Also lone surrogates: the command line's undecodable bytes, which no UTF-8 body
        # could ever link to.
        return "a stem must be printable UTF-8 text"
    return None


def title_problem(title: str) -> str | None:
    """Why ``title`` cannot be a card's title, or ``None``."""
    if not title.strip():
        return "a title must not be empty"
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        return "a title must be UTF-8 text (the command line held undecodable bytes)"
    return None


def check_new_stem(stem: str, docs: Docs) -> None:
    problem = stem_problem(stem)
    if problem:
        raise UsageError(f"`{stem}` cannot be a card stem: {problem}")
    existing = docs.card(stem)
    if existing is not None:
        raise UsageError(f"a doc with stem `{stem}` already exists: {existing.path}")


def link_line(stem: str, title: str) -> str:
    return f"- [[{stem}]] — {title}"


def links_to(path: Path, stem: str) -> bool:
    """Whether the doc already wiki-links ``stem`` (plain, aliased or with a heading)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\[\[" + re.escape(stem) + r"(?:[|#\\]|\]\])", text) is not None


def write_card(
    path: Path,
    *,
    title: str,
    today: date,
    tags: Sequence[str],
    requires: Sequence[str],
    body: Sequence[str],
) -> None:
    """Write a new open card; refuses to replace an existing file."""
    fields: dict[str, str | date | list[str]] = {
        "title": title,
        "modified": today,
        "tags": list(tags) or list(DEFAULT_TAGS),
        "status": "active",
    }
    if requires:
        fields["requires"] = list(requires)
    # python-frontmatter writes the block: PyYAML quotes whatever a title needs. Keys stay in
    # the order above, and no line is folded (the engine later edits these lines in place).
    post = frontmatter.Post("\n".join(body))
    post.metadata.update(fields)
    data = (frontmatter.dumps(post, sort_keys=False, width=1 << 20) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, data, exclusive=True)
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another stem") from None


def link_from_index(config: Config, docs: Docs, rel: str, stem: str, title: str) -> str | None:
    index = Categories.from_config(config, (*docs.paths, rel)).index_of(rel)
    if index is not None and not links_to(docs.root / index, stem):
        append_to_body(docs.root / index, [link_line(stem, title)])
    return index


def require(
    docs: Docs, card: Card, stem: str, title: str, note: str, today: date, *, reopen: bool
) -> None:
    """Make ``card`` require ``stem``: add it to ``requires`` and link it from the body."""
    path = docs.root / card.path
    if not links_to(path, stem):
        append_to_body(path, [f"{link_line(stem, title)} ({note})"])
    fields: dict[str, str | date | list[str]] = {"modified": today}
    if stem not in card.requires:
        fields["requires"] = [*card.requires, stem]
    if reopen:
        fields["status"] = "active"
    edit_card(path, set=fields)


def grow(
    config: Config,
    docs: Docs,
    failing: Card,
    *,
    stem: str,
    title: str,
    learned: str,
    today: date,
) -> NewCard:
    """The Mikado loop: ``failing`` learned it needs ``stem`` first.

    Writes the new card beside it (unless a doc with that stem exists: then only the edge is
    added), links it from the category index and from the failing card's body, adds it to the
    failing card's ``requires`` and sets the failing card back to ``active``. Each step checks
    what is already there, so a run killed half-way and repeated finishes the same growth.
    """
    existing = docs.card(stem)
    if existing is None:
        problem = stem_problem(stem)
        if problem:
            raise UsageError(f"the action named an invalid prerequisite `{stem}`: {problem}")
        folder = str(PurePosixPath(failing.path).parent)
        rel = f"{stem}.md" if folder == "." else f"{folder}/{stem}.md"
        write_card(
            docs.root / rel,
            title=title,
            today=today,
            tags=failing.tags,
            requires=(),
            body=[
                f"# {title}",
                "",
                learned.strip(),
                "",
                f"Discovered by `mikado run` while working on [[{failing.stem}]] "
                f"({today.isoformat()}).",
            ],
        )
    else:
        rel = existing.path
    # Also for a card that exists: a run killed after writing it, before linking it, left it
    # out of its index, and the next run only finds it there.
    index = link_from_index(config, docs, rel, stem, title)
    require(docs, failing, stem, title, "discovered by `mikado run`", today, reopen=True)
    return NewCard(stem, rel, index)


def _folder_prefix(folder: Path, root: Path) -> str:
    """``folder`` as a prefix of paths below ``root`` ("" for the root itself), refusing one
    that leaves the root. Both are resolved first: ``docs/../x`` and a link out of the tree
    lie inside the root only on paper, and the card would be written elsewhere."""
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(folder.absolute()))
    try:
        base = target.relative_to(real_root)
    except ValueError:
        raise UsageError(f"--dir {folder} is outside the docs root {root}") from None
    if target.exists() and not target.is_dir():
        raise UsageError(f"--dir {folder} is not a folder")
    return "" if str(base) == "." else base.as_posix() + "/"


def new_card(
    config: Config,
    docs: Docs,
    *,
    stem: str,
    title: str,
    requires: Sequence[str],
    required_by: Sequence[str],
    folder: Path | None,
    today: date,
) -> NewCard:
    """`mikado new`: a new open card in ``folder`` (else beside the first ``required_by``
    card, else the docs root), required by each of ``required_by`` and linked from them and
    from its category index."""
    check_new_stem(stem, docs)
    problem = title_problem(title)
    if problem:
        raise UsageError(f"--title: {problem}")
    for name in (*requires, *required_by):
        docs.require(name)
    if folder is not None:
        prefix = _folder_prefix(folder, docs.root)
    elif required_by:
        parent = str(PurePosixPath(docs.cards[required_by[0]].path).parent)
        prefix = "" if parent == "." else parent + "/"
    else:
        prefix = ""
    rel = f"{prefix}{stem}.md"
    first = docs.cards[required_by[0]] if required_by else None
    body = [f"# {title}", ""]
    if required_by:
        body.append("Prerequisite of " + ", ".join(f"[[{y}]]" for y in required_by) + ".")
    write_card(
        docs.root / rel,
        title=title,
        today=today,
        tags=first.tags if first else (),
        requires=requires,
        body=body,
    )
    index = link_from_index(config, docs, rel, stem, title)
    for name in required_by:
        card = docs.cards[name]
        require(docs, card, stem, title, "added by `mikado new`", today, reopen=card.is_complete)
    return NewCard(stem, rel, index)
