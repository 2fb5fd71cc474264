from __future__ import annotations

import io

import pytest
from reference import read_block

from mikado.tree.frontmatter import FrontMatterError, parse_block, split_bytes


def test_block_and_body_positions_are_lines_of_the_file() -> None:
    block = split_bytes(b"---\ntitle: A\ntags: [x]\n---\n# Body\n")
    assert block is not None
    assert block.text == "title: A\ntags: [x]\n"
    assert (block.first_line, block.body_line) == (2, 5)
    assert block.body_offset == len(b"---\ntitle: A\ntags: [x]\n---\n")
    assert parse_block(block) == {"title": "A", "tags": ["x"]}


def test_bom_before_the_opening_delimiter_is_allowed() -> None:
    block = split_bytes(b"\xef\xbb\xbf---\ntitle: A\n---\nbody")
    assert block is not None and block.bom
    assert parse_block(block) == {"title": "A"}
    assert block.body_offset == len(b"\xef\xbb\xbf---\ntitle: A\n---\n")


def test_crlf_line_endings() -> None:
    block = split_bytes(b"---\r\ntitle: A\r\nstatus: active\r\n---\r\nbody\r\n")
    assert block is not None and block.crlf
    assert parse_block(block) == {"title": "A", "status": "active"}


def test_closing_delimiter_at_end_of_file_without_newline() -> None:
    block = split_bytes(b"---\ntitle: A\n---")
    assert block is not None
    assert parse_block(block) == {"title": "A"}


@pytest.mark.parametrize(
    "data", [b"", b"# Title\n---\ntitle: A\n---\n", b" ---\ntitle: A\n---\n", b"----\n"]
)
def test_no_front_matter(data: bytes) -> None:
    assert split_bytes(data) is None


def test_an_unclosed_block_is_an_error_on_line_one() -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_bytes(b"---\ntitle: A\n# no closing line\n")
    assert caught.value.line == 1
    assert "never closed" in caught.value.message


def test_closing_line_must_be_exactly_three_dashes() -> None:
    block = split_bytes(b"---\ntitle: A\n--- \nnote: x\n---\n")
    assert block is not None
    assert block.text == "title: A\n--- \nnote: x\n"


def test_yaml_error_line_counts_from_the_top_of_the_file() -> None:
    block = split_bytes(b"---\ntitle: A\ntags: [a, b\nmodified: 2026-01-01\n---\n")
    assert block is not None
    with pytest.raises(FrontMatterError) as caught:
        parse_block(block)
    assert caught.value.rule == "frontmatter-invalid"
    assert caught.value.line is not None and caught.value.line >= 3
    assert "not valid YAML" in caught.value.message


def test_yaml_error_line_with_bom_and_crlf() -> None:
    block = split_bytes(b"\xef\xbb\xbf---\r\ntitle: A\r\ntitle2: : :\r\n---\r\n")
    assert block is not None
    with pytest.raises(FrontMatterError) as caught:
        parse_block(block)
    assert caught.value.line == 3


def test_a_list_front_matter_is_reported_not_dropped() -> None:
    block = split_bytes(b"---\n- title\n- tags\n---\n")
    assert block is not None
    with pytest.raises(FrontMatterError) as caught:
        parse_block(block)
    assert "a list" in caught.value.message
    assert caught.value.line == 2


def test_scalar_front_matter_is_reported() -> None:
    block = split_bytes(b"---\njust text\n---\n")
    assert block is not None
    with pytest.raises(FrontMatterError, match="not a mapping"):
        parse_block(block)


def test_empty_block_is_an_empty_mapping() -> None:
    block = split_bytes(b"---\n---\n")
    assert block is not None
    assert parse_block(block) == {}


def test_non_utf8_front_matter_names_the_line() -> None:
    with pytest.raises(FrontMatterError) as caught:
        split_bytes(b"---\ntitle: A\ntags: [caf\xe9]\n---\n")
    assert caught.value.rule == "unreadable"
    assert caught.value.line == 3
    assert "0xe9" in caught.value.message


def test_nul_byte_in_front_matter_is_a_yaml_error() -> None:
    block = split_bytes(b"---\ntitle: A\x00B\n---\n")
    assert block is not None
    with pytest.raises(FrontMatterError) as caught:
        parse_block(block)
    assert caught.value.line == 2


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.consumed = 0

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.consumed += len(line)
        return line


def test_reading_stops_at_the_closing_delimiter() -> None:
    body = b"x" * 1_000_000 + b"\n"
    stream = CountingStream(b"---\ntitle: A\n---\n" + body * 5)
    block = read_block(stream)
    assert block is not None
    assert stream.consumed < 100


@pytest.mark.parametrize("text", [b"---\nn: !!int abc\n---\n", b"---\n? [a]\n: b\n---\n"])
def test_values_yaml_cannot_construct_are_errors_not_crashes(text: bytes) -> None:
    block = split_bytes(text)
    assert block is not None
    with pytest.raises(FrontMatterError):
        parse_block(block)
