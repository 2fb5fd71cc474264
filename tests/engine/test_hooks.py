"""A card's hooks (mikado.engine.hooks): whatever an action raises or returns ends as a
result with a one-line, masked error; nothing escapes the worker."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from chain_fixtures import make_tree

from mikado.config import load_config
from mikado.engine.actions import Action
from mikado.engine.context import Context
from mikado.engine.hooks import Mode, describe, run_hooks
from mikado.engine.outputs import Outputs, OutputStore
from mikado.engine.plan import RunOptions, plan_run
from mikado.engine.results import Outcome
from mikado.engine.runner import Runner
from mikado.engine.secrets import Masker
from mikado.errors import ExitCode, PrerequisiteDiscovered

HERE = Path(__file__)
PEM = "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFS\nU1RVVldYWVo0MjQyNDI0Mg==\n-----END KEY-----"


def action(**hooks: Any) -> Action:
    hooks.setdefault("apply", lambda ctx: None)
    return Action(name="a", path=HERE, **hooks)


def context(tmp_path: Path, masker: Masker) -> Context:
    outputs = Outputs(OutputStore(tmp_path, masker), "a")
    return cast(Context, SimpleNamespace(outputs=outputs))


def hooks(tmp_path: Path, mode: Mode = Mode.RUN, masker: Masker | None = None, **kw: Any) -> Any:
    masker = masker or Masker()
    return run_hooks(action(**kw), context(tmp_path, masker), mode, masker)


def raising(exc: BaseException) -> Any:
    def hook(ctx: object) -> None:
        raise exc

    return hook


# Secrets in failure text ----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [PEM, "two  spaces  secret", "tab\tand\nnewline-secret"])
def test_a_secret_with_whitespace_is_masked_before_the_message_is_made_one_line(
    tmp_path: Path, secret: str
) -> None:
    result = hooks(
        tmp_path, masker=Masker([secret]), apply=raising(RuntimeError(f"rejected:\n{secret}\n!"))
    )
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("RuntimeError: rejected: *** ! (test_hooks.py:")
    for line in secret.splitlines():
        assert line not in result.error


def test_describe_masks_a_prerequisite_and_a_rollback_failure(tmp_path: Path) -> None:
    masker = Masker([PEM])
    result = hooks(
        tmp_path,
        masker=masker,
        apply=raising(PrerequisiteDiscovered("next", "Next", "x")),
        rollback=raising(OSError(f"cannot undo with\n{PEM}")),
    )
    assert result.outcome is Outcome.FAILED
    assert "rollback failed" in result.error and "OSError: cannot undo with ***" in result.error
    assert "QUJD" not in result.error


# An error that cannot be described --------------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class NotAString(Exception):
    def __str__(self) -> Any:
        return 42


@pytest.mark.parametrize("exc", [Unprintable(), NotAString()])
def test_describe_never_raises(exc: Exception) -> None:
    text = describe(exc, action(), Masker())
    assert text.startswith(type(exc).__name__) and "\n" not in text


def test_an_unprintable_exception_fails_the_card_without_a_thread_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = hooks(tmp_path, apply=raising(Unprintable()))
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("Unprintable")
    # Through the runner: the worker reports, so the run ends now, not at the timeout.
    source = """
class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")
def apply(ctx):
    raise Unprintable()
"""
    tree = make_tree(tmp_path / "tree", {"a": {}}, {"a": source}, config="timeout = 30\n")
    hooks_seen: list[object] = []
    previous = threading.excepthook
    threading.excepthook = hooks_seen.append
    try:
        result = run(tree.root, "a")
    finally:
        threading.excepthook = previous
    assert hooks_seen == []
    assert result.outcomes["a"] is Outcome.FAILED and result.elapsed < 10
    assert tree.status("a") == "failed"
    assert "Traceback" not in capsys.readouterr().err


# What a hook returns or raises ----------------------------------------------------------------


@pytest.mark.parametrize("returned", ["no", 0, 1, "", [], {}, "True", 0.0])
def test_verify_must_return_true_or_none(tmp_path: Path, returned: object) -> None:
    result = hooks(tmp_path, verify=lambda ctx: returned)
    assert result.outcome is Outcome.FAILED
    assert f"verify(ctx) must return True, False or None, not {type(returned).__name__}" in (
        result.error
    )
    recheck = hooks(tmp_path, Mode.RECHECK, verify=lambda ctx: returned)
    assert recheck.outcome is Outcome.REOPENED


@pytest.mark.parametrize("returned", [True, None])
def test_verify_passes_with_true_or_none(tmp_path: Path, returned: object) -> None:
    assert hooks(tmp_path, verify=lambda ctx: returned).outcome is Outcome.DONE
    assert hooks(tmp_path, Mode.RECHECK, verify=lambda ctx: returned).outcome is Outcome.HELD


def test_verify_false_keeps_its_message(tmp_path: Path) -> None:
    assert hooks(tmp_path, verify=lambda ctx: False).error.endswith("verify returned False")


@pytest.mark.parametrize(
    ("args", "wrong"),
    [
        ((7, "Title", "learned"), "stem is int"),
        (("next", None, "learned"), "title is NoneType"),
        (("next", "Title", b"bytes"), "learned is bytes"),
    ],
)
def test_a_prerequisite_that_is_not_three_strings_fails_the_card(
    tmp_path: Path, args: tuple[Any, ...], wrong: str
) -> None:
    undone: list[bool] = []
    for mode in (Mode.RUN, Mode.REHEARSE):
        result = hooks(
            tmp_path,
            mode,
            apply=raising(PrerequisiteDiscovered(*args)),
            rollback=lambda ctx: undone.append(True),
        )
        assert result.outcome is Outcome.FAILED and result.discovered is None
        assert "PrerequisiteDiscovered(stem, title, learned) takes three strings" in result.error
        assert wrong in result.error and "\n" not in result.error
    assert undone == []  # a malformed discovery is a bug in the action, not a discovery


def test_a_prerequisite_given_string_subclasses_reaches_the_engine_as_plain_strings(
    tmp_path: Path,
) -> None:
    class Text(str):
        pass

    result = hooks(tmp_path, apply=raising(PrerequisiteDiscovered(Text("n"), Text("T"), "l")))
    assert result.outcome is Outcome.PREREQUISITE
    assert type(result.discovered.stem) is str and type(result.discovered.title) is str


MALFORMED_DISCOVERY = """
from mikado.errors import PrerequisiteDiscovered
def apply(ctx):
    raise PrerequisiteDiscovered(42, ["title"], {"learned": 1})
"""


def test_a_malformed_prerequisite_leaves_the_card_failed_not_running(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}, "b": {"requires": ["a"]}}, {"a": MALFORMED_DISCOVERY})
    result = run(tree.root, "b")
    assert result.exit_code == ExitCode.FAILURE
    assert tree.status("a") == "failed"
    assert "takes three strings" in result.errors["a"]


@pytest.mark.parametrize(
    "apply",
    [
        raising(SystemExit(3)),
        raising(KeyboardInterrupt()),
        lambda ctx: {"k": object()},
        lambda ctx: {1: "v"},
        lambda ctx: ["not", "a", "mapping"],
        lambda ctx: {"k": float("nan")},
    ],
)
def test_anything_an_action_raises_or_returns_fails_the_card_cleanly(
    tmp_path: Path, apply: Any
) -> None:
    result = hooks(tmp_path, apply=apply)
    assert result.outcome is Outcome.FAILED
    assert result.error and "\n" not in result.error


def run(root: Path, goal: str) -> Any:
    config = load_config(cwd=root)
    options = RunOptions()
    return Runner(plan_run(config, goal, options), options=options, today=date.today).run()
