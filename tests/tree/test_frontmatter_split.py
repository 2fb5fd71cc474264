"""split_bytes (search) against read_block (line by line): the same block or the same error."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import read_block

from mikado.tree.frontmatter import Block, FrontMatterError, parse_block, split_bytes

PIECES = [b"---", b"\n", b"\r\n", b"\r", b"title: A", b"\xef\xbb\xbf", b"----", b" ---", b"x",
          b"\xff", b"--- ", b"a: b\n", b"\n---\n", b"\r\n---\r\n"]  # fmt: skip


def outcome(split: object, data: bytes) -> Block | tuple[str, int | None, str] | None:
    try:
        return split(data)  # type: ignore[operator, no-any-return]
    except FrontMatterError as exc:
        return (exc.rule, exc.line, exc.message)


@settings(max_examples=2000, deadline=None)
@given(st.booleans(), st.lists(st.sampled_from(PIECES), max_size=10))
@example(True, [b"title: A\n", b"---"])  # the closing line at the end with no newline
@example(True, [b"title: A\r\n", b"---\r\n", b"body"])
@example(False, [b"\xef\xbb\xbf", b"---\n", b"t: \xff\n", b"---\n"])
def test_split_bytes_agrees_with_read_block(opened: bool, pieces: list[bytes]) -> None:
    data = (b"---\n" if opened else b"") + b"".join(pieces)
    assert outcome(split_bytes, data) == outcome(lambda d: read_block(io.BytesIO(d)), data)


def test_a_closing_line_at_the_end_of_the_file() -> None:
    block = split_bytes(b"---\r\ntitle: A\r\n---")
    assert block is not None
    assert (block.text, block.body_line, block.body_offset, block.crlf) == (
        "title: A\r\n",
        4,
        len(b"---\r\ntitle: A\r\n---"),
        True,
    )


_SCALARS = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    st.integers(-1000, 1000),
    st.booleans(),
    st.dates(),
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=4))
_KEYS = st.sampled_from(["title", "modified", "tags", "status", "requires", "branch", "x-y"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_KEYS, _VALUES, max_size=6),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r"),
        max_size=60,
    ),
    st.booleans(),
)
def test_the_splitter_reads_what_python_frontmatter_reads(
    fields: dict[str, object], body: str, crlf: bool
) -> None:
    """On the documents both accept (a mapping block between two `---` lines, as
    python-frontmatter itself writes them), both find the same fields and the same body."""
    import frontmatter

    post = frontmatter.Post(body)
    post.metadata.update(fields)
    text = frontmatter.dumps(post, sort_keys=False) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    theirs = frontmatter.loads(text)
    block = split_bytes(text.encode("utf-8"))
    assert block is not None
    assert parse_block(block) == theirs.metadata
    rest = text.encode("utf-8")[block.body_offset :].decode("utf-8")
    assert rest.replace("\r\n", "\n").strip() == theirs.content.replace("\r\n", "\n")
