"""Secret references resolve from the environment or a file, and every resolved value is
masked wherever text leaves the engine."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest

from mikado.engine.context import MaskingFilter
from mikado.engine.secrets import Masker, masked_output, resolve_tables
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
