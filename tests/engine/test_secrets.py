"""Secret references resolve from the environment or a file, and every resolved value is
masked wherever text leaves the engine."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from mikado.engine.context import MaskingFilter
from mikado.engine.secrets import LineMasker, Masker, masked_output, resolve_tables
from mikado.errors import ConfigError


def test_references_resolve_and_are_registered_for_masking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOT_TOKEN", "tok-123")
    (tmp_path / "pw").write_text("pw-456\n")
    masker = Masker()
    settings = {"zot": {"url": "http://z", "token": "env:ZOT_TOKEN", "nested": {"p": "file:pw"}}}
    resolved = resolve_tables(settings, ["zot"], base=tmp_path, masker=masker)
    assert resolved == {"zot": {"url": "http://z", "token": "tok-123", "nested": {"p": "pw-456"}}}
    assert masker("a tok-123 b pw-456 c http://z") == "a *** b *** c http://z"


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"zot": {"token": "env:NOT_SET_ANYWHERE"}}, "NOT_SET_ANYWHERE is not set"),
        ({"zot": {"token": "file:missing.txt"}}, "does not exist"),
        ({}, "declares the settings table [zot]"),
    ],
)
def test_unresolvable_references_are_configuration_errors(
    tmp_path: Path, settings: dict[str, dict[str, str]], words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_tables(settings, ["zot"], base=tmp_path, masker=Masker())
    assert words in str(caught.value)
    assert caught.value.exit_code == 2


def test_longer_secrets_are_masked_whole() -> None:
    masker = Masker(["abc", "abcdef"])
    assert masker("xabcdefx abc") == "x***x ***"
    assert masker.contains_secret("--abc--") and not masker.contains_secret("ab")


def test_log_records_are_masked_in_message_args_and_traceback() -> None:
    masker = Masker(["hunter2"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("mikado.test.masking")
    logger.addFilter(MaskingFilter(masker))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad hunter2")
        except ValueError:
            logger.exception("using %s", "hunter2")
    finally:
        logger.removeHandler(handler)
    assert "hunter2" not in stream.getvalue()
    assert "using ***" in stream.getvalue() and "ValueError: bad ***" in stream.getvalue()


def test_standard_streams_are_masked_while_installed(capsys: pytest.CaptureFixture[str]) -> None:
    masker = Masker(["hunter2"])
    with masked_output(masker):
        print("pw hunter2")
        sys.stderr.write("err hunter2\n")
    print("after hunter2")
    out, err = capsys.readouterr()
    assert out == "pw ***\nafter hunter2\n"
    assert err == "err ***\n"


# Transformed forms: how a secret shows up once something else has handled it -----------------

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "Vq3x9aQe0lJm3uR2Zt8yK1cX4pN6sW7bD0fH5gJ2kL9mQ1rT3vY\n"
    "-----END PRIVATE KEY-----"
)


def test_a_multi_line_secret_is_masked_whole_line_by_line_and_collapsed() -> None:
    masker = Masker([PEM])
    lines = PEM.splitlines()
    assert masker(f"key: {PEM}!") == "key: ***!"
    # Each line on its own (a log line, a traceback quoting one line of the file) ...
    for line in lines:
        assert masker(f"> {line} <") == "> *** <"
    # ... and the whole as a one-line message shows it, its line breaks collapsed to spaces.
    assert masker("bad key " + " ".join(PEM.split()) + " end") == "bad key *** end"


def test_a_secret_with_inner_whitespace_is_masked_collapsed_too() -> None:
    masker = Masker(["pass  word\twith gaps"])
    assert masker("a pass  word\twith gaps b") == "a *** b"
    assert masker("a pass word with gaps b") == "a *** b"


def test_short_lines_of_a_multi_line_secret_are_not_masked_on_their_own() -> None:
    """The braces of a JSON credential are not the secret: masking them alone would garble
    every brace in every message."""
    credential = '{\n  "type": "service_account",\n  "private_key_id": "9f1c2e7a4b"\n}'
    masker = Masker([credential])
    assert masker("{a} [b]") == "{a} [b]"
    assert masker('x "private_key_id": "9f1c2e7a4b" y') == "x *** y"
    assert masker(" ".join(credential.split())) == "***"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: urllib.parse.quote(s, safe=""),
        lambda s: urllib.parse.quote_plus(s),
        lambda s: urllib.parse.quote(s),
        lambda s: urllib.parse.quote(s, safe="").lower(),
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.b64encode(s.encode()).decode().rstrip("="),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: repr(s)[1:-1],
    ],
    ids=[
        "quote",
        "quote_plus",
        "quote-path",
        "quote-lower-hex",
        "b64",
        "b64-unpadded",
        "b64-urlsafe",
        "b64-urlsafe-unpadded",
        "json",
        "json-unicode",
        "repr",
    ],
)
def test_common_encodings_of_a_secret_are_masked(encode: Any) -> None:
    secret = 'p/ss+w rd&"é\\\n~?>>?'
    masker = Masker([secret])
    encoded = encode(secret)
    assert encoded != secret
    assert masker(f"[{encoded}]") == "[***]"


def test_a_secret_in_an_httpx_query_string_is_masked() -> None:
    secret = "s3cr/t+v&l ue=="
    masker = Masker([secret])
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(403)))
    with client, pytest.raises(httpx.HTTPStatusError) as caught:
        client.get("http://service/api", params={"token": secret}).raise_for_status()
    assert secret not in str(caught.value)  # it is there URL-encoded
    assert masker(str(caught.value)).count("token=***") == 1


def test_a_secret_base64_encoded_with_something_before_it_is_masked() -> None:
    """Basic authentication encodes `user:password` together: the password's own encoding
    depends on how many bytes precede it, so each of the three alignments is masked."""
    secret = "correct-horse-battery"
    masker = Masker([secret])
    for user in ("u", "us", "usr", "user"):
        header = base64.b64encode(f"{user}:{secret}".encode()).decode()
        masked = masker(f"Authorization: Basic {header}")
        assert "***" in masked
        # What remains of the encoding is at most the user's part and an edge character.
        remains = masked.removeprefix("Authorization: Basic ").replace("***", "")
        assert len(remains) <= len(base64.b64encode(f"{user}:".encode())) + 2


def test_encodings_of_a_very_short_secret_do_not_garble_text() -> None:
    masker = Masker(["0"])
    assert masker("exit 0") == "exit ***"
    # Its base64 form without padding (`MA`) is too short to mean anything.
    assert masker("MAX MAY") == "MAX MAY"


# Values, not serialized text -----------------------------------------------------------------


def test_mask_data_masks_strings_and_keys_and_leaves_the_structure() -> None:
    masker = Masker(["0", "hunter2"])
    data = {"exit": 0, "ok": True, "none": None, "errors": {"a": "hunter2 at 10"}, "l": ["0", 1.0]}
    masked = masker.mask_data(data)
    assert masked == {
        "exit": 0,
        "ok": True,
        "none": None,
        "errors": {"a": "*** at 1***"},
        "l": ["***", 1.0],
    }
    assert json.loads(json.dumps(masked)) == masked
    assert masker.mask_data({"hunter2": 1}) == {"***": 1}


@pytest.mark.parametrize("blank", ["   ", "\t \n"])
def test_a_blank_secret_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    """Masking blanks would garble every indented line; a blank credential is a mistake."""
    monkeypatch.setenv("BLANK_TOKEN", blank)
    (tmp_path / "blank").write_text(blank + "\n")
    for reference, words in (("env:BLANK_TOKEN", "BLANK_TOKEN is blank"), ("file:blank", "blank")):
        with pytest.raises(ConfigError, match=words):
            resolve_tables({"t": {"token": reference}}, ["t"], base=tmp_path, masker=Masker())


# A child's output stream ---------------------------------------------------------------------


def stream(masker: Masker, chunks: list[str]) -> list[str]:
    """What a LineMasker lets out after each chunk, then at the end."""
    lines = LineMasker(masker)
    out = [lines.feed(chunk) for chunk in chunks]
    out.append(lines.finish())
    return out


def test_a_line_masker_masks_a_secret_split_across_writes() -> None:
    masker = Masker(["hunter2"])
    out = stream(masker, ["pass: hun", "ter2\nnext", " line\n", "tail hunt"])
    assert out == ["", "pass: ***\n", "next line\n", "", "tail hunt"]


def test_a_line_masker_masks_a_multi_line_secret_across_lines() -> None:
    masker = Masker([PEM])
    lines = PEM.splitlines(keepends=True)
    out = stream(masker, ["before\n", *lines, "\nafter\n"])
    text = "".join(out)
    assert text == "before\n***\nafter\n"
    for line in PEM.splitlines():
        assert line not in text


def test_a_line_masker_lets_a_line_out_at_once_unless_it_may_begin_a_secret() -> None:
    masker = Masker(["token-abc"])
    lines = LineMasker(masker)
    assert lines.feed("plain line\n") == "plain line\n"  # no waiting for more output
    assert lines.feed("ends with tok") == ""  # an incomplete line waits for its end
    assert lines.feed("\n") == "ends with tok\n"
    assert lines.feed("a token-a") == ""
    assert lines.feed("bc b\n") == "a *** b\n"


def test_a_line_masker_bounds_a_line_without_an_end() -> None:
    masker = Masker(["hunter2"])
    lines = LineMasker(masker, max_line=100)
    out = lines.feed("x" * 150 + "hunter2" + "y" * 10)
    out += lines.feed("z" * 200)
    out += lines.finish()
    assert out == "x" * 150 + "***" + "y" * 10 + "z" * 200
    assert len(lines.feed("w" * 1000)) >= 900  # a long line is let out in pieces


def test_a_line_masker_uses_secrets_registered_after_it_was_made() -> None:
    masker = Masker()
    lines = LineMasker(masker)
    masker.add(["late-secret"])
    assert lines.feed("the late-secret\n") == "the ***\n"


def test_a_line_masker_is_what_its_masker_says_for_any_split() -> None:
    masker = Masker(["abc", "abcdef", "b\nc"])
    text = "xabcdefx abc\nab\nc abcde abcdef\n"
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            out = stream(masker, [text[:cut], text[cut:second], text[second:]])
            assert "".join(out) == masker(text), (cut, second)
