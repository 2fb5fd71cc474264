"""Growing the graph (`mikado new`, and the Mikado loop of docs/reference.md#run): writing a new
open card and linking it so the tree still passes `check` — from the cards that now require it
(``requires`` and body) and from its category index.

Nothing is written before every edit is known to work: a new edge that would close a cycle, a
folder discovery never reads, or a card the editor cannot change refuses the whole growth with
the tree as it was. `new` then writes all its files as one (:mod:`mikado.edit.changes`);
growth writes its steps in turn, each first checking what is already there, so that a run
killed half-way is finished by the next one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import frontmatter

from mikado.config import ALWAYS_EXCLUDED, Config
from mikado.edit.atomic import write_atomic
from mikado.edit.changes import Changes
from mikado.edit.editor import Value, appended, edit_bytes
from mikado.errors import UsageError
from mikado.model.card import Card
from mikado.model.categories import Categories
from mikado.tree.frontmatter import FrontMatterError, parse_block, split_bytes
from mikado.tree.links import extract_links
from mikado.tree.loader import Docs

# Characters a stem cannot hold and still be a file name and a wiki-link target. A backtick
# is refused too: in the link lines growth writes it would open a code span that hides links.
_BAD_STEM = re.compile(r"[/\\\[\]|#^:*?\"<>`\x00-\x1f]")
# What a title pasted into Markdown must not be read as: a link (`[[`, `]]`, `|` in a table),
# a code span that swallows the links after it (a backtick), raw HTML, or an escape.
_MARKUP = re.compile(r"([\\`\[\]|<])")
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
        char = "a backtick" if bad.group() == "`" else f"`{bad.group()}`"
        return f"a stem cannot contain {char} (it is a file name and a link target)"
    if not stem.isprintable():
        # Also lone surrogates: the command line's undecodable bytes, which no UTF-8 body
        # could ever link to.
        return "a stem must be printable UTF-8 text"
    return None


def title_problem(title: str) -> str | None:
    """Why ``title`` cannot be a card's title, or ``None``."""
    if not title.strip():
        return "a title must not be empty"
    if any(char in title for char in "\r\n\v\f\x85\u2028\u2029"):
        return "a title must be one line"
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        return "a title must be UTF-8 text (the command line held undecodable bytes)"
    if any(not char.isprintable() and char != "\t" for char in title):
        # An escape sequence written into the card would act on every terminal that shows
        # the file (cat, git diff), which mikado's own views escape but others do not.
        return "a title must not hold control characters"
    return None


def shown(text: str) -> str:
    """``text`` fit for a message: undecodable command-line bytes (lone surrogates) as
    ``\\xNN``, so that printing the message cannot fail on them."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_new_stem(stem: str, docs: Docs) -> None:
    problem = stem_problem(stem)
    if problem:
        raise UsageError(f"`{shown(stem)}` cannot be a card stem: {problem}")
    existing = docs.card(stem)
    if existing is not None:
        raise UsageError(f"a doc with stem `{stem}` already exists: {existing.path}")


def inline(title: str) -> str:
    """``title`` as Markdown text on one line that reads back as itself: no link, code span or
    HTML of its own, so it neither breaks the link before it nor hides the ones after it."""
    return _MARKUP.sub(r"\\\1", " ".join(title.split()))


def link_line(stem: str, title: str) -> str:
    return f"- [[{stem}]] — {inline(title)}"


def links_in(data: bytes, stem: str) -> bool:
    """Whether a doc's body already wiki-links ``stem`` (plain, aliased or with a heading) as
    `check` reads links: one in code, in an HTML comment or escaped does not count, or the
    new card would be left out of its index."""
    try:
        block = split_bytes(data)
    except FrontMatterError:
        block = None
    body = data[block.body_offset :] if block is not None else data
    text = body.decode("utf-8", errors="replace")
    return any(link.target.strip() == stem for link in extract_links(text))


def card_bytes(
    *,
    title: str,
    today: date,
    tags: Sequence[str],
    requires: Sequence[str],
    body: Sequence[str],
) -> bytes:
    """The bytes of a new open card."""
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
    return (frontmatter.dumps(post, sort_keys=False, width=1 << 20) + "\n").encode("utf-8")


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
    data = card_bytes(title=title, today=today, tags=tags, requires=requires, body=body)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, data, exclusive=True)
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another stem") from None


def index_of(config: Config, docs: Docs, rel: str) -> str | None:
    """The category index a doc at ``rel`` must be linked from (docs/reference.md#category-
    indexes)."""
    return Categories.from_config(config, (*docs.paths, rel)).index_of(rel)


def indexed(data: bytes, stem: str, title: str) -> bytes:
    """An index's bytes linking ``stem`` (unchanged when they do already)."""
    return data if links_in(data, stem) else appended(data, [link_line(stem, title)])


def link_from_index(config: Config, docs: Docs, rel: str, stem: str, title: str) -> str | None:
    index = index_of(config, docs, rel)
    if index is not None:
        path = docs.root / index
        data = _read(path)
        new = indexed(data, stem, title)
        if new != data:
            write_atomic(path, new)
    return index


def required(
    data: bytes,
    where: Path,
    card: Card,
    stem: str,
    title: str,
    note: str,
    today: date,
    *,
    reopen: bool,
) -> bytes:
    """The bytes of ``card`` (now ``data``) once it requires ``stem``: in ``requires`` and
    linked from the body. :class:`CardEditError` when the editor cannot make the change."""
    if not links_in(data, stem):
        data = appended(data, [f"{link_line(stem, title)} ({note})"])
    fields: dict[str, Value] = {"modified": today}
    current = _requires_in(data, card.requires)
    if stem not in current:
        fields["requires"] = [*current, stem]
    if reopen:
        fields["status"] = "active"
    return edit_bytes(data, set=fields, where=str(where))


def require(
    docs: Docs, card: Card, stem: str, title: str, note: str, today: date, *, reopen: bool
) -> None:
    """Make ``card`` require ``stem``: add it to ``requires`` and link it from the body, in
    one write."""
    path = docs.root / card.path
    data = _read(path)
    new = required(data, path, card, stem, title, note, today, reopen=reopen)
    if new != data:
        write_atomic(path, new)


def _read(path: Path) -> bytes:
    return Changes().read(path)  # the same error for an unreadable card everywhere


def _requires_in(data: bytes, fallback: Sequence[str]) -> tuple[str, ...]:
    """The ``requires`` a card's bytes hold now (they may be newer than the tree read at the
    start of a run); ``fallback`` when they cannot be read."""
    try:
        block = split_bytes(data)
        meta = parse_block(block) if block is not None else {}
    except FrontMatterError:
        return tuple(fallback)
    value = meta.get("requires")
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return tuple(fallback)


def _requires_now(docs: Docs, stem: str) -> tuple[str, ...]:
    card = docs.card(stem)
    if card is None:
        return ()  # not in the tree read; a card growth wrote since requires nothing
    try:
        data = (docs.root / card.path).read_bytes()
    except OSError:
        return card.requires
    return _requires_in(data, card.requires)


def requires_path(docs: Docs, start: str, goal: str) -> list[str] | None:
    """The shortest chain of ``requires`` edges leading from ``start`` to ``goal`` (both
    included; ``[goal]`` when they are the same), read from the cards as they are on disk, or
    ``None`` when ``start`` does not depend on ``goal``. Edges a run added since the tree was
    read count: with --jobs two cards may each discover the other."""
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for stem in frontier:
            if stem == goal:
                path: list[str] = []
                at: str | None = stem
                while at is not None:
                    path.append(at)
                    at = previous[at]
                return path[::-1]
            for prerequisite in _requires_now(docs, stem):
                if prerequisite not in previous:
                    previous[prerequisite] = stem
                    following.append(prerequisite)
        frontier = following
    return None


def _refuse_cycle(
    docs: Docs, dependent: str, stem: str, requires: Sequence[str] | None = None
) -> None:
    """Refuse making ``dependent`` require ``stem`` when that closes a cycle (`check` would
    then refuse the whole tree). ``requires``: what a new card ``stem`` will require; ``None``
    for a card that exists, whose own ``requires`` lead on."""
    head, targets = ([dependent], [stem]) if requires is None else ([dependent, stem], requires)
    for target in targets:
        path = requires_path(docs, target, dependent)
        if path is not None:
            cycle = " → ".join([*head, *path])
            raise UsageError(
                f"`{stem}` cannot be a prerequisite of `{dependent}`: that would close a cycle "
                f"in `requires`: {cycle}"
            )


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
    failing card's ``requires`` and sets the failing card back to ``active``. Refused, with
    nothing written, when ``stem`` is the failing card itself or depends on it. Each step
    checks what is already there, so a run killed half-way and repeated finishes the same
    growth.
    """
    if stem == failing.stem:
        raise UsageError(f"`{stem}` named itself as its prerequisite; a card cannot require itself")
    existing = docs.card(stem)
    if existing is None:
        problem = stem_problem(stem)
        if problem:
            raise UsageError(f"the action named an invalid prerequisite `{shown(stem)}`: {problem}")
        folder = str(PurePosixPath(failing.path).parent)
        rel = f"{stem}.md" if folder == "." else f"{folder}/{stem}.md"
    else:
        rel = existing.path
        _refuse_cycle(docs, failing.stem, stem)
    # Every edit worked out before the first write: one the editor refuses leaves no new card
    # behind, unlinked.
    note = "discovered by `mikado run`"
    path = docs.root / failing.path
    required(_read(path), path, failing, stem, title, note, today, reopen=True)
    index = index_of(config, docs, rel)
    if index is not None:
        _read(docs.root / index)
    if existing is None:
        write_card(
            docs.root / rel,
            title=title,
            today=today,
            tags=failing.tags,
            requires=(),
            body=[
                f"# {inline(title)}",
                "",
                learned.strip(),
                "",
                f"Discovered by `mikado run` while working on [[{failing.stem}]] "
                f"({today.isoformat()}).",
            ],
        )
    # Also for a card that exists: a run killed after writing it, before linking it, left it
    # out of its index, and the next run only finds it there.
    index = link_from_index(config, docs, rel, stem, title)
    require(docs, failing, stem, title, note, today, reopen=True)
    return NewCard(stem, rel, index)


def _folder_prefix(folder: Path, root: Path, excluded: frozenset[str]) -> str:
    """``folder`` as a prefix of paths below ``root`` ("" for the root itself), refusing one
    that leaves the root or that discovery never reads (docs/reference.md#cards). Both are
    resolved first: ``docs/../x`` and a link out of the tree lie inside the root only on
    paper, and the card would be written elsewhere."""
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(folder.absolute()))
    try:
        base = target.relative_to(real_root)
    except ValueError:
        raise UsageError(f"--dir {shown(str(folder))} is outside the docs root {root}") from None
    if target.exists() and not target.is_dir():
        raise UsageError(f"--dir {shown(str(folder))} is not a folder")
    if str(base) == ".":
        return ""
    try:
        base.as_posix().encode("utf-8")
    except UnicodeEncodeError:
        # Undecodable command-line bytes: every path mikado prints or records is UTF-8.
        raise UsageError(f"--dir {shown(str(folder))} is not a UTF-8 path") from None
    parts = base.parts
    for depth, name in enumerate(parts, 1):
        rel = "/".join(parts[:depth])
        why = None
        if name.startswith("."):
            why = f"`{name}` is a hidden folder"
        elif name in ALWAYS_EXCLUDED:
            why = f"`{name}` folders hold changelog fragments"
        elif name in excluded or rel in excluded:
            entry = name if name in excluded else rel
            why = f"`{entry}` is in the configuration's `exclude`"
        if why is not None:
            raise UsageError(
                f"--dir {shown(str(folder))}: {why}, and mikado never reads a card there; "
                "choose another folder"
            )
    return base.as_posix() + "/"


def _refuse_orphan(config: Config, categories: Categories, stem: str, rel: str) -> None:
    """Refuse a new card nothing would link to: the tree would fail `check` (``orphan``) the
    moment it is written, which `new` promises it does not."""
    if (
        rel in categories.index_paths
        or stem in config.orphan_exempt
        or not config.reports("orphan", rel)
    ):
        return
    where = " (F/F.md for a folder F)" if config.index_mode == "auto" else ""
    raise UsageError(
        f"nothing would link to `{stem}` at {rel}, and `mikado check` would report it an orphan: "
        "give --required-by CARD (that card's body then links it), or --dir a folder with a "
        f"category index{where}, which then links it"
    )


def _refuse_misplaced(config: Config, rel: str, required_by: Sequence[Card]) -> None:
    """Refuse a card, or a `requires` on a doc, where `cards_in` does not allow them: `check`
    would report the tree at once (field-misplaced)."""
    if not config.cards_in:
        return
    folders = tuple(folder + "/" for folder in config.cards_in)
    allowed = ", ".join(config.cards_in)
    if not rel.startswith(folders):
        raise UsageError(
            f"{rel} is outside `cards_in` ({allowed}), where cards may not be; "
            "give --dir one of those folders"
        )
    for card in required_by:
        if not card.path.startswith(folders):
            raise UsageError(
                f"--required-by {card.stem}: {card.path} is outside `cards_in` ({allowed}), so "
                "it cannot take `requires`; require the new card from a card in those folders"
            )


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
    from its category index. Every file is planned first and written as one: a refusal, or a
    write that fails, leaves the tree as it was."""
    check_new_stem(stem, docs)
    problem = title_problem(title)
    if problem:
        raise UsageError(f"--title: {problem}")
    requires = tuple(dict.fromkeys(requires))
    required_by = tuple(dict.fromkeys(required_by))
    for name in (*requires, *required_by):
        docs.require(name)
    for name in required_by:
        _refuse_cycle(docs, name, stem, requires)
    if folder is not None:
        prefix = _folder_prefix(folder, docs.root, config.excluded())
    elif required_by:
        parent = str(PurePosixPath(docs.cards[required_by[0]].path).parent)
        prefix = "" if parent == "." else parent + "/"
    else:
        prefix = ""
    rel = f"{prefix}{stem}.md"
    _refuse_misplaced(config, rel, [docs.cards[name] for name in required_by])
    categories = Categories.from_config(config, (*docs.paths, rel))
    index = categories.index_of(rel)
    if not required_by and index is None:
        _refuse_orphan(config, categories, stem, rel)
    first = docs.cards[required_by[0]] if required_by else None
    body = [f"# {inline(title)}", ""]
    if required_by:
        body.append("Prerequisite of " + ", ".join(f"[[{y}]]" for y in required_by) + ".")
    changes = Changes()
    path = docs.root / rel
    data = card_bytes(
        title=title, today=today, tags=first.tags if first else (), requires=requires, body=body
    )
    try:
        changes.create(path, data)
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another stem") from None
    if index is not None:
        index_path = docs.root / index
        changes.replace(index_path, indexed(changes.read(index_path), stem, title))
    for name in required_by:
        card = docs.cards[name]
        card_path = docs.root / card.path
        data = changes.read(card_path)
        note = "added by `mikado new`"
        changes.replace(
            card_path,
            required(data, card_path, card, stem, title, note, today, reopen=card.is_complete),
        )
    try:
        changes.apply()
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another stem") from None
    return NewCard(stem, rel, index)
