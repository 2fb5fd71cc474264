"""Finding and parsing a doc's front-matter block (docs/reference.md#cards).

The block runs from a first line ``---`` (a UTF-8 BOM before it allowed) to the next line that
is exactly ``---``; lines end in LF or CRLF. We split it ourselves because python-frontmatter
turns a list front-matter into ``{}``, misses a BOM and counts YAML error lines from the block
rather than the file. Docs are read whole and searched (:func:`split_bytes`); a differential
test holds the search to a plain line-by-line reading of the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import yaml

from mikado.tree.fastyaml import parse_placed

try:  # The C loader is ~10x faster; fall back quietly where libyaml is not compiled in.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """The safe loader, except that an impossible date (``2026-02-30``) stays a string.

    PyYAML raises a bare ValueError there, without a line; as a string it reaches field
    validation, which names the field and its line.
    """


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)

# How many values a front-matter may hold once its aliases are expanded. PyYAML shares an
# aliased value instead of copying it, so nine nested aliases of nine ("billion laughs") load
# in microseconds, but comparing, printing or serialising the result walks 9^9 values, and an
# alias inside its own anchor makes a value that contains itself. Real front-matter holds tens.
MAX_EXPANDED_VALUES = 100_000

_ALIAS = re.compile(r"(?:^|[\s\[{,])\*[^\s,\[\]{}]")

BOM = b"\xef\xbb\xbf"
DELIMITER = b"---"
_NEVER_CLOSED = "front-matter opened on line 1 is never closed (add a line `---` after it)"


class FrontMatterError(Exception):
    """The front-matter exists but cannot be used; ``line`` is a line of the file."""

    def __init__(self, message: str, line: int | None, *, rule: str = "frontmatter-invalid"):
        super().__init__(message)
        self.message = message
        self.line = line
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Block:
    """Where the front-matter is. ``text`` is the YAML between the delimiters, decoded.

    ``first_line`` is the file line of the block's first YAML line (2 when the file opens with
    the delimiter); ``body_line`` the file line where the body starts; ``body_offset`` the byte
    offset of the body.
    """

    text: str
    first_line: int
    body_line: int
    body_offset: int
    bom: bool
    crlf: bool


def split_bytes(data: bytes) -> Block | None:
    """The front-matter block of a file's bytes, found by searching for the closing delimiter
    rather than reading line by line (a few times faster). ``None`` when the file has none;
    :class:`FrontMatterError` for a block never closed or not UTF-8."""
    start = len(BOM) if data.startswith(BOM) else 0
    if not data.startswith(DELIMITER, start):
        return None
    opening_end = start + len(DELIMITER)
    if data.startswith(b"\n", opening_end):
        crlf, yaml_start = False, opening_end + 1
    elif data.startswith(b"\r\n", opening_end):
        crlf, yaml_start = True, opening_end + 2
    elif opening_end == len(data):
        raise FrontMatterError(_NEVER_CLOSED, 1)
    else:
        return None
    size = len(data)
    candidate = data.find(b"\n---", yaml_start - 1)
    while candidate != -1:
        after = candidate + 4
        if after == size:
            body_offset = after
            break
        if data[after] == 0x0A:
            body_offset = after + 1
            break
        if data[after] == 0x0D and data.startswith(b"\n", after + 1):
            body_offset = after + 2
            break
        candidate = data.find(b"\n---", candidate + 1)
    else:
        raise FrontMatterError(_NEVER_CLOSED, 1)
    raw = data[yaml_start : candidate + 1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrontMatterError(
            f"front-matter is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            2 + raw.count(b"\n", 0, exc.start),
            rule="unreadable",
        ) from None
    closing_line = 2 + raw.count(b"\n")
    return Block(
        text=text,
        first_line=2,
        body_line=closing_line + 1,
        body_offset=body_offset,
        bom=start > 0,
        crlf=crlf,
    )


@dataclass(frozen=True, slots=True)
class Composed:
    """A block as the YAML loader read it: its values, and the node tree they were built from
    (where each value sits, which the card editor needs). ``merge`` is the first top-level
    merge key (``<<``): building the values splices the merged pairs into the tree, which
    then no longer says which lines hold which field."""

    meta: dict[str, Any]
    root: yaml.Node | None  # None for a block of blanks and comments
    merge: yaml.Node | None


class Placed(NamedTuple):  # a tuple: built for every doc, where a dataclass costs twice as much
    """What parsing a block learnt besides its values. ``lines``: the file line of each
    top-level key (the first, for a key written twice) and ``requires_lines`` of each
    ``requires`` entry, when parsing found them on the way (the fast path does; ``None``
    after the YAML loader, whose caller finds them in the text). ``repeated``: each top-level
    key written again, with the file line repeating it. ``composed``: the loader's reading,
    when it read the block."""

    lines: dict[str, int] | None
    requires_lines: tuple[int, ...] = ()
    repeated: tuple[tuple[str, int], ...] = ()
    composed: Composed | None = None


def parse_block(block: Block) -> dict[str, Any]:
    """Parse the YAML of a block into a mapping; errors carry the line of the file."""
    return parse_block_placed(block)[0]


def parse_block_placed(block: Block) -> tuple[dict[str, Any], Placed]:
    """:func:`parse_block`, and what parsing learnt of the block on the way (:class:`Placed`):
    both from one pass over the text, whichever parser reads it."""
    simple = parse_placed(block.text, block.first_line)
    if simple is not None:
        fields, lines, requires_lines, repeated = simple
        return fields, Placed(lines, requires_lines, repeated)
    composed = compose(block)
    root = composed.root
    repeated = ()
    if isinstance(root, yaml.MappingNode) and len(root.value) > 1:
        repeated = _repeated_keys(composed, block.first_line)
    return composed.meta, Placed(None, (), repeated, composed)


def _repeated_keys(composed: Composed, first_line: int) -> tuple[tuple[str, int], ...]:
    assert isinstance(composed.root, yaml.MappingNode)
    pairs = composed.root.value
    if composed.merge is not None:
        return ()  # the tree holds merged pairs too; the editor refuses the block whole
    seen: set[str] = set()
    repeated: list[tuple[str, int]] = []
    for key, _ in pairs:
        if isinstance(key, yaml.ScalarNode):
            name = str(key.value)
            if name in seen:
                repeated.append((name, first_line + key.start_mark.line))
            seen.add(name)
    return tuple(repeated)


def compose(block: Block) -> Composed:
    """Read a block with the YAML loader, keeping its node tree; errors carry the line of the
    file. One pass: what ``yaml.load`` does, with the tree kept on the way."""
    loader = _Loader(block.text)
    try:
        root = loader.get_single_node()
        merge = _merge_key(root)
        value = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = block.first_line + mark.line if mark is not None else block.first_line
        # At the end of the block YAML points past its last line, at the closing delimiter.
        line = max(block.first_line, min(line, block.body_line - 2))
        problem = exc.problem or exc.context or "invalid YAML"
        raise FrontMatterError(f"front-matter is not valid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front-matter is not valid YAML: {exc}", block.first_line) from None
    except RecursionError:
        raise FrontMatterError("front-matter nests too deeply to parse", block.first_line) from None
    except Exception as exc:
        # A value its explicit tag does not fit: PyYAML's constructors let plain Python errors
        # out, without a line (`!!int abc` ValueError, an empty `!!float` IndexError, `!!bool`
        # KeyError, `!!timestamp` AttributeError).
        detail = f" ({exc})" if isinstance(exc, ValueError | OverflowError) else ""
        raise FrontMatterError(
            f"front-matter is not valid YAML: a value does not fit its `!!` tag{detail}",
            _tag_line(block),
        ) from None
    finally:
        loader.dispose()
    if value is None:
        return Composed({}, None, None)
    if "*" in block.text:  # no alias, no expansion: the common case costs one search
        check_expansion(value, block)
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"a {type(value).__name__}"
        raise FrontMatterError(
            f"front-matter is {kind}, not a mapping of `field: value` lines", block.first_line
        )
    return Composed(value, root, merge)


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _merge_key(root: yaml.Node | None) -> yaml.Node | None:
    """The first top-level merge key (``<<``) of a block, if any."""
    if isinstance(root, yaml.MappingNode):
        for key, _ in root.value:
            if key.tag == _MERGE_TAG:
                return cast(yaml.Node, key)
    return None


def check_expansion(value: object, block: Block) -> None:
    """Refuse a parsed front-matter that contains itself or expands, through aliases, past
    :data:`MAX_EXPANDED_VALUES`. Each distinct container is walked once (its size is
    remembered), so the check is linear in what was parsed, not in what it expands to."""
    sizes: dict[int, int] = {}
    walking: set[int] = set()
    # An explicit stack: a deeply nested value must not hit the recursion limit here.
    stack: list[tuple[object, bool]] = [(value, False)]
    while stack:
        item, leaving = stack.pop()
        if not isinstance(item, dict | list):
            continue
        key = id(item)
        children = list(item.values()) if isinstance(item, dict) else item
        if leaving:
            walking.discard(key)
            total = 1 + sum(
                sizes.get(id(child), 1) if isinstance(child, dict | list) else 1
                for child in children
            )
            if total > MAX_EXPANDED_VALUES:
                raise FrontMatterError(
                    f"front-matter aliases expand to more than {MAX_EXPANDED_VALUES:,} values; "
                    "write the values out instead of repeating aliases",
                    _alias_line(block),
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in walking:
            raise FrontMatterError(
                "front-matter holds a value that contains itself (an alias inside its own "
                "anchor); write the value out",
                _alias_line(block),
            )
        walking.add(key)
        stack.append((item, True))
        stack.extend((child, False) for child in children)


def _tag_line(block: Block) -> int:
    """The file line of the first explicit tag (``!!int``), the likely culprit."""
    for index, text in enumerate(block.text.split("\n")):
        if "!" in text:
            return block.first_line + index
    return block.first_line


def _alias_line(block: Block) -> int:
    """The file line of the first alias (``*name``), where expansion starts."""
    for index, text in enumerate(block.text.split("\n")):
        if _ALIAS.search(text):
            return block.first_line + index
    return block.first_line
