"""Fuzzing the loader, the link extractor and the surgical editor (issue 8).

The strategies build card text from the pieces that make YAML and Markdown tricky (quotes,
comments, anchors, flow and block lists, tags, tabs, CR, BOM, NUL, non-UTF-8 bytes) mixed
with arbitrary text. The properties: no exception escapes but the project's own errors, and
what comes out is consistent (the two readers agree; an edit reads back as asked with every
other byte kept).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from mikado.config import load_config
from mikado.edit.editor import edit_bytes
from mikado.errors import DocsError, MikadoError
from mikado.tree.frontmatter import FrontMatterError, parse_block, split_bytes
from mikado.tree.links import extract_links
from mikado.tree.loader import load_docs
from mikado.tree.scan import ScanOptions, scan_doc

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUIRED = ("title", "modified", "tags")

# -- strategies --------------------------------------------------------------------------------

KEYS = st.sampled_from(
    ["title", "modified", "tags", "status", "requires", "branch", "action", "x", "'q k'", "1"]
)
SCALARS = st.sampled_from(
    [
        "plain words",
        "'single ''quoted'''",
        '"double \\" \\u00e9 \\t"',
        "2026-01-01",
        "2026-02-30",
        "2026-01-01 10:00:00",
        "12",
        "1.5e3",
        "yes",
        "~",
        "null",
        "[a, b]",
        "[]",
        "{a: 1}",
        "&anchor value",
        "*anchor",
        "!!str 12",
        "!!int abc",
        "!custom x",
        "|",
        ">-",
        "a: b",
        "x # comment",
        "#not a comment?",
        "- item",
        "'unclosed",
        "[unclosed",
        "@reserved",
        "`tick`",
        "%percent",
        "?",
        "",
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
INDENT = st.sampled_from(["", " ", "  ", "    ", "\t"])


@st.composite
def front_matter_lines(draw: st.DrawFn) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["field", "field", "item", "comment", "blank", "text"]))
        if kind == "field":
            value = draw(st.one_of(SCALARS, TEXT))
            lines.append(f"{draw(KEYS)}:{draw(st.sampled_from([' ', '', '  ']))}{value}")
        elif kind == "item":
            lines.append(f"{draw(INDENT)}- {draw(st.one_of(SCALARS, TEXT))}")
        elif kind == "comment":
            lines.append(f"{draw(INDENT)}# {draw(TEXT)}")
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
        else:
            lines.append(draw(TEXT))
    return lines


BODY_PIECES = st.sampled_from(
    [
        "[[leaf]]",
        "[[leaf|text]]",
        "[[leaf#head]]",
        "[[#head]]",
        "![[img.png]]",
        "[[ spaced ]]",
        "[[a/b]]",
        "[[x\\|y]]",
        "`[[code]]`",
        "```\n[[fenced]]\n```",
        "    [[indented]]",
        "<!-- [[comment]] -->",
        "<!--",
        "-->",
        "[[",
        "]]",
        "| [[t\\|x]] | b |",
        "> [[quote]]",
        "- [[item]]",
        "\r",
        "\r\n",
        "\x00",
        "\t",
    ]
)


@st.composite
def cards(draw: st.DrawFn) -> bytes:
    """A doc's bytes: front-matter (or none, or unclosed), a body, odd line ends and bytes."""
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    head = draw(st.sampled_from(["---", "---", "---", "--- ", "", "----"]))
    lines = draw(front_matter_lines())
    closing = draw(st.sampled_from(["---", "---", "---", "...", ""]))
    body = "".join(draw(st.lists(st.one_of(BODY_PIECES, TEXT, st.just("\n")), max_size=12)))
    text = eol.join([head, *lines, closing]) + eol + body
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 0:  # a byte that is not UTF-8, somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3"])) + data[at:]
    return data


PARSING_SCALARS = st.sampled_from(
    [
        "plain words",
        "'single ''quoted'''",
        '"double \\" \\u00e9 \\t"',
        "2026-01-01",
        "2026-02-30",
        "12",
        "yes",
        "~",
        "[a, b]",
        "[]",
        "{a: 1}",
        "!!str 12",
        "x # comment",
        "'it''s: #'",
        "é ü",
        "",
    ]
)
PLAIN = st.text("abcdefghijklmnopqrstuvwxyz-éü ", min_size=1, max_size=10).filter(
    lambda w: w[0].isalpha() and w == w.strip()
)


@st.composite
def editable_cards(draw: st.DrawFn) -> bytes:
    """Cards whose front-matter parses, written the many ways people write YAML."""
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines: list[str] = []
    for key in draw(st.lists(KEYS.filter(str.isidentifier), unique=True, max_size=6)):
        trailing = draw(st.sampled_from(["", "", "  # why"]))
        kind = draw(st.sampled_from(["scalar", "scalar", "block", "folded"]))
        if kind == "scalar":
            lines.append(f"{key}: {draw(st.one_of(PARSING_SCALARS, PLAIN))}{trailing}")
        elif kind == "block":
            indent = draw(st.sampled_from(["", "  ", "    "]))
            lines.append(f"{key}:{trailing}")
            for item in draw(st.lists(st.one_of(PLAIN, PARSING_SCALARS), min_size=1, max_size=3)):
                if draw(st.integers(0, 4)) == 0:
                    lines.append(f"{indent}# between items")
                lines.append(f"{indent}- {item}")
        else:
            lines.append(f"{key}: {draw(st.sampled_from(['|', '>', '|-', '>+']))}")
            lines += [f"  {draw(PLAIN)}" for _ in range(draw(st.integers(1, 2)))]
        if draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from(["", "# a comment", "#"])))
    body = "".join(draw(st.lists(st.one_of(BODY_PIECES, TEXT, st.just("\n")), max_size=6)))
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    text = eol.join(["---", *lines, "---"]) + draw(st.sampled_from([eol, ""])) + body
    return bom + text.encode("utf-8")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def file_lines(data: bytes) -> int:
    return data.count(b"\n") + 1


# -- the loader --------------------------------------------------------------------------------


@FUZZ
@given(data=cards())
def test_reading_a_card_never_raises_and_both_readers_agree(scratch: Path, data: bytes) -> None:
    (scratch / "card.md").write_bytes(data)
    front_only = scan_doc(scratch, "card.md", ScanOptions(REQUIRED, links=False))
    card, findings = front_only.card, front_only.findings
    for finding in findings:
        assert finding.line is None or 1 <= finding.line <= file_lines(data), finding
    # `check` also reads the body, `status` only the front-matter: they must see the same
    # card and the same front-matter problems.
    whole = scan_doc(scratch, "card.md", ScanOptions(REQUIRED, links=True))
    assert whole.card == card
    front = [f for f in whole.findings if f.target != "body"]
    assert sorted(front, key=lambda f: f.sort_key) == sorted(findings, key=lambda f: f.sort_key)
    for finding in whole.findings:
        assert finding.line is None or 1 <= finding.line <= file_lines(data), finding


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(cards(), min_size=1, max_size=5), stems=st.data())
def test_loading_a_tree_of_fuzzed_cards_raises_only_docs_errors(
    scratch: Path, docs: list[bytes], stems: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        base = Path(folder)
        (base / "docs").mkdir()
        (base / "mikado.toml").write_text('[mikado]\ndocs = "docs"\n', encoding="utf-8")
        names = ["goal", "leaf", "mid", "anchor", "x"]
        for name, data in zip(names, docs, strict=False):
            sub = stems.draw(st.sampled_from(["", "zot/", "a/b/"]))
            path = base / "docs" / f"{sub}{name}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        config = load_config(cwd=base)
        for links in (False, True):
            load_docs(config, links=links)
        try:
            load_docs(config, strict_graph=True)
        except DocsError as exc:
            assert exc.problems


# -- the link extractor ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(st.one_of(BODY_PIECES, TEXT, st.just("\n")), max_size=20).map("".join),
    first=st.integers(1, 50),
)
def test_links_come_from_the_text_on_lines_it_has(body: str, first: int) -> None:
    links = extract_links(body, first)
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for link in links:
        assert first <= link.line < first + len(lines)
        assert f"[[{link.raw}]]" in lines[link.line - first]
        assert link.target == link.raw.split("|")[0].split("#")[0].removesuffix("\\")


# -- the surgical editor -----------------------------------------------------------------------

NEW_TEXT = st.one_of(
    TEXT,
    SCALARS,
    st.sampled_from(["", " ", "a\nb", "tab\there", "'", '"', "\\", "#", "- x", "\x00", "\x85"]),
)
NEW_VALUE: st.SearchStrategy[Any] = st.one_of(
    NEW_TEXT,
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.lists(NEW_TEXT, max_size=4),
)
EDITED = st.sampled_from(["title", "modified", "tags", "status", "requires", "branch", "new-key"])


def reparse(data: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """The front-matter's values, the bytes before the block and the bytes after it."""
    block = split_bytes(data)
    assert block is not None
    meta = parse_block(block)
    start = data.index(b"\n") + 1
    return meta, data[:start], data[start + len(block.text.encode("utf-8")) :]


def means(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, date):
        return value == wanted or value == wanted.isoformat()
    return bool(value == wanted) and type(value) is type(wanted)


def field_lines(text: str) -> dict[str, tuple[int, int]]:
    """Each top-level key's lines in the block: from its key to the next key."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    starts = [(str(key.value), key.start_mark.line) for key, _ in root.value]
    total = len(text.split("\n")) - 1
    ends = [line for _, line in starts[1:]] + [total]
    return {name: (start, end) for (name, start), end in zip(starts, ends, strict=True)}


@FUZZ
@given(
    data=st.one_of(editable_cards(), editable_cards(), cards()),
    changes=st.dictionaries(EDITED, NEW_VALUE, max_size=3),
    drop=st.data(),
)
def test_an_edit_reads_back_as_asked_and_keeps_every_other_byte(
    data: bytes, changes: dict[str, Any], drop: st.DataObject
) -> None:
    try:
        before, prefix, suffix = reparse(data)
    except (FrontMatterError, AssertionError):
        before = None
    removals = drop.draw(st.lists(st.sampled_from(sorted(before or {"x": 0}, key=str)), max_size=2))
    removals = [r for r in removals if r not in changes and isinstance(r, str)]
    try:
        after = edit_bytes(data, set=changes, remove=removals)
    except MikadoError as exc:
        event(f"refused: {exc.message[:40]}")
        return  # refusing is always allowed; anything else escaping is a bug
    assume(after != data)
    event("edited")
    assert before is not None, "an unreadable card was edited"
    meta, new_prefix, new_suffix = reparse(after)
    assert new_prefix == prefix and new_suffix == suffix, "bytes outside the block changed"
    for name, value in changes.items():
        assert means(meta[name], value), (name, meta.get(name), value)
    for name in removals:
        assert name not in meta
    untouched = {k: v for k, v in before.items() if k not in changes and k not in removals}
    assert {k: v for k, v in meta.items() if k not in changes} == untouched

    # Every line outside the changed fields is still there, in order.
    old_text = split_bytes(data).text  # type: ignore[union-attr]
    new_lines = split_bytes(after).text.split("\n")  # type: ignore[union-attr]
    touched = {i for name, (start, end) in field_lines(old_text).items()
               if name in changes or name in removals for i in range(start, end)}  # fmt: skip
    kept = [line for i, line in enumerate(old_text.split("\n")) if i not in touched]
    position = 0
    for line in kept:
        while position < len(new_lines) and new_lines[position] != line:
            position += 1
        assert position < len(new_lines), f"line lost: {line!r}"
        position += 1


@pytest.mark.parametrize("title", ["!!int", "!!int ;", "!!float", "!!bool", "!!timestamp", "!x"])
def test_a_title_that_looks_like_a_yaml_tag_is_written_so_it_reads_back(title: str) -> None:
    data = edit_bytes(b"---\ntitle: Old\n---\nbody\n", set={"title": title})
    meta, prefix, suffix = reparse(data)
    assert meta == {"title": title} and prefix == b"---\n" and suffix == b"---\nbody\n"


def test_the_fuzzed_cards_reach_every_kind_of_outcome(scratch: Path) -> None:
    """The strategy is not stuck on one branch: it yields parsed, invalid and missing blocks."""
    rules: set[str] = set()
    seen_clean = False

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(data=cards())
    def collect(data: bytes) -> None:
        nonlocal seen_clean
        (scratch / "probe.md").write_bytes(data)
        findings = scan_doc(scratch, "probe.md", ScanOptions((), links=True)).findings
        rules.update(f.rule for f in findings)
        seen_clean = seen_clean or not findings

    collect()
    assert seen_clean
    assert {"frontmatter-invalid", "frontmatter-missing", "unreadable"} <= rules
