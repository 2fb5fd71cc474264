"""Each card's action in its own process (mikado.engine.process, mikado.engine.child): whatever
the action does to its process, the engine ends it at the deadline, reports how it ended, and
leaves nothing of it running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from chain_fixtures import Tree, make_tree, subprocess_env

from mikado.config import load_config
from mikado.engine import messages
from mikado.engine.plan import RunOptions, plan_run
from mikado.engine.results import Outcome, RunResult
from mikado.engine.runner import Runner

PIDS = """
import os
from pathlib import Path
def note(name, pid):
    (Path(__file__).resolve().parent.parent / f"{name}.pid").write_text(str(pid))
"""


def run(tree: Tree, goal: str) -> RunResult:
    config = load_config(cwd=tree.root)
    options = RunOptions(keep_going=True)
    return Runner(plan_run(config, goal, options), options=options, today=date.today).run()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # Killed but not yet reaped by its parent (the fork server) counts as gone as well.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1].startswith("Z")


def pid(tree: Tree, name: str) -> int:
    return int((tree.root / f"{name}.pid").read_text())


@pytest.mark.timeout(60)
def test_a_timeout_kills_an_action_that_never_lets_go_of_the_interpreter(tmp_path: Path) -> None:
    """A catastrophic regex holds the GIL for hours; a thread could not be stopped, and the
    engine's own thread would not even get to look at the clock. The process is killed."""
    action = (
        PIDS
        + """
import re
def apply(ctx):
    note("regex", os.getpid())
    re.match(r"(a+)+$", "a" * 64 + "b")
"""
    )
    tree = make_tree(tmp_path, {"stuck": {}}, {"stuck": action}, config="timeout = 1\n")
    result = run(tree, "stuck")
    assert result.outcomes["stuck"] is Outcome.FAILED
    assert result.errors["stuck"] == "timed out after 1 s"
    assert tree.status("stuck") == "failed"
    assert gone(pid(tree, "regex"))


@pytest.mark.timeout(60)
def test_what_an_action_leaves_running_ends_with_its_card(tmp_path: Path) -> None:
    """Threads and programs an action starts and does not wait for neither hold the card
    open nor outlive it."""
    action = (
        PIDS
        + """
import subprocess, threading, time
def apply(ctx):
    threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon
    sleeper = subprocess.Popen(["sleep", "600"])
    note("sleeper", sleeper.pid)
    note("action", os.getpid())
"""
    )
    tree = make_tree(tmp_path, {"leaves": {}}, {"leaves": action}, config="timeout = 30\n")
    result = run(tree, "leaves")
    assert result.outcomes["leaves"] is Outcome.DONE
    assert tree.status("leaves") is None
    assert gone(pid(tree, "action"))
    assert gone(pid(tree, "sleeper"))


@pytest.mark.timeout(60)
def test_a_timed_out_action_takes_the_programs_it_started_with_it(tmp_path: Path) -> None:
    action = (
        PIDS
        + """
import subprocess
def apply(ctx):
    sleeper = subprocess.Popen(["sleep", "600"])
    note("sleeper", sleeper.pid)
    sleeper.wait()
"""
    )
    # Long enough for the sleeper to start on a loaded machine, where the suite runs.
    tree = make_tree(tmp_path, {"waits": {}}, {"waits": action}, config="timeout = 3\n")
    result = run(tree, "waits")
    assert result.errors["waits"] == "timed out after 3 s"
    assert gone(pid(tree, "sleeper"))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("os._exit(3)", "the action's process ended without a result (exit status 3)"),
        (
            "os.kill(os.getpid(), signal.SIGKILL)",
            "the action's process ended without a result (killed by SIGKILL)",
        ),
        (
            "os.kill(os.getpid(), signal.SIGSEGV)",
            "the action's process ended without a result (killed by SIGSEGV)",
        ),
    ],
)
def test_an_action_process_that_dies_fails_its_card_saying_how(
    tmp_path: Path, body: str, error: str
) -> None:
    action = f"import os, signal\ndef apply(ctx):\n    {body}\n"
    tree = make_tree(tmp_path, {"dies": {}, "next": {"requires": ["dies"]}}, {"dies": action})
    result = run(tree, "next")
    assert result.outcomes["dies"] is Outcome.FAILED
    assert result.errors["dies"] == error
    assert tree.status("dies") == "failed"
    assert result.outcomes["next"] is Outcome.WAITING


def test_sigterm_to_the_action_process_sets_cancelled_and_the_action_decides(
    tmp_path: Path,
) -> None:
    """A person signalling the action's process (not the engine) asks it to stop."""
    action = """
import os, signal
def apply(ctx):
    os.kill(os.getpid(), signal.SIGTERM)
    if not ctx.cancelled.wait(10):
        raise RuntimeError("SIGTERM did not set ctx.cancelled")
    raise RuntimeError("stopped as asked")
"""
    tree = make_tree(tmp_path, {"asked": {}}, {"asked": action})
    result = run(tree, "asked")
    assert result.errors["asked"].startswith("RuntimeError: stopped as asked")


def test_logs_outputs_and_the_environment_cross_between_the_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The process sees the engine's environment as it is now (the fork server was started
    earlier, by another run); its log records and outputs reach the engine, and the outputs
    of one card reach the next card's process."""
    monkeypatch.setenv("MIKADO_TEST_NOW", f"set-{tmp_path.name}")
    first = """
import os
def apply(ctx):
    ctx.log.warning("told from pid %d", os.getpid())
    return {"seen": os.environ["MIKADO_TEST_NOW"]}
"""
    second = """
def apply(ctx):
    if not ctx.outputs.read("first", "seen").startswith("set-"):
        raise RuntimeError("the first card's output did not reach this process")
"""
    tree = make_tree(
        tmp_path,
        {"first": {}, "second": {"requires": ["first"]}},
        {"first": first, "second": second},
    )
    with caplog.at_level("WARNING", logger="mikado.action"):
        result = run(tree, "second")
    assert result.outcomes == {"first": Outcome.DONE, "second": Outcome.DONE}
    stored = (tree.runtime / "outputs.json").read_text()
    assert f'"seen": "set-{tmp_path.name}"' in stored
    [record] = [r for r in caplog.records if r.name == "mikado.action.first"]
    told = int(record.getMessage().rsplit(" ", 1)[1])
    assert told != os.getpid()


def test_the_engine_builds_only_plain_values_from_what_a_process_sends() -> None:
    """An action can write into its process's channel; an object pickled by reference (here
    one whose unpickling would run os.system) is refused, not constructed."""
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("false",))

    with pytest.raises(messages.MessageError, match="unreadable"):
        messages.decode(pickle.dumps((messages.LOG, 30, "WARNING", Evil(), None)))
    with pytest.raises(messages.MessageError, match="wrong shape"):
        messages.decode(messages.encode((messages.RESULT, "done")))
    with pytest.raises(messages.MessageError, match="no known kind"):
        messages.decode(messages.encode(("exec", "rm -rf /")))
    assert messages.decode(messages.encode((messages.WAITING, None))) == (messages.WAITING, None)


LOCK_PROBE = """
import os
from pathlib import Path
def apply(ctx):
    lock = Path(ctx.base, ".mikado", "run.lock").resolve()
    fds = Path("/proc/self/fd")
    held = any(os.path.realpath(fds / fd) == str(lock) for fd in os.listdir(fds))
    (Path(ctx.base) / "held").write_text(str(held))
"""


def test_an_action_process_holds_the_run_lock_open(tmp_path: Path) -> None:
    """Held open by the action's process as well, the lock stays taken while the action
    lives, whatever happened to the engine: no second run can start the same card."""
    tree = make_tree(tmp_path, {"probe": {}}, {"probe": LOCK_PROBE})
    result = tree.mikado("run", "probe", "--yes")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "held").read_text() == "True"


@pytest.mark.timeout(60)
def test_a_kill_of_the_engine_leaves_no_action_running(tmp_path: Path) -> None:
    action = (
        PIDS
        + """
import time
def apply(ctx):
    note("action", os.getpid())
    time.sleep(600)
"""
    )
    tree = make_tree(tmp_path, {"sleeps": {}}, {"sleeps": action}, config="timeout = 900\n")
    engine = subprocess.Popen(
        [sys.executable, "-m", "mikado", "run", "sleeps", "--yes"],
        cwd=tree.root,
        env=subprocess_env(None),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not (tmp_path / "action.pid").exists():
            assert engine.poll() is None, "the run ended before its action started"
            time.sleep(0.05)
        action_pid = pid(tree, "action")
        assert not gone(action_pid)
    finally:
        engine.kill()
        engine.wait()
    while not gone(action_pid):
        time.sleep(0.05)  # the test's timeout fails it if the action lives on
    again = tree.mikado("status", "sleeps")
    assert again.returncode == 0
    assert tree.status("sleeps") == "running"  # left as the kill found it: resumable


# What an action can reach if it tries: the write end of its channel to the engine.
CHANNEL = """
import gc, os
from multiprocessing.connection import Connection
def channel():
    return next(
        o for o in gc.get_objects()
        if isinstance(o, Connection) and not o.closed and o.writable and not o.readable
    )
"""


@pytest.mark.timeout(60)
def test_an_action_logging_without_pause_still_times_out(tmp_path: Path) -> None:
    """Messages arriving faster than the engine takes them must not keep it from its
    deadlines: it reads a bounded amount, then looks at the clock."""
    action = "def apply(ctx):\n    while True:\n        ctx.log.warning('tick')\n"
    tree = make_tree(tmp_path, {"chatty": {}}, {"chatty": action}, config="timeout = 2\n")
    result = run(tree, "chatty")
    assert result.errors["chatty"] == "timed out after 2 s"
    assert tree.status("chatty") == "failed"


@pytest.mark.timeout(60)
def test_half_a_message_on_the_channel_does_not_hold_the_engine(tmp_path: Path) -> None:
    """The engine never waits inside a message: a length promising more than was written
    (a sender stopped between header and body) leaves it free to time the card out."""
    action = (
        CHANNEL
        + """
import time
def apply(ctx):
    os.write(channel().fileno(), b"\\x00\\x00\\x00\\x10half")
    time.sleep(600)
"""
    )
    tree = make_tree(tmp_path, {"half": {}}, {"half": action}, config="timeout = 2\n")
    result = run(tree, "half")
    assert result.errors["half"] == "timed out after 2 s"


def test_an_action_may_use_processes_of_its_own(tmp_path: Path) -> None:
    action = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
def apply(ctx):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as executor:
        assert list(executor.map(abs, [-3])) == [3]
"""
    tree = make_tree(tmp_path, {"pool": {}}, {"pool": action})
    result = run(tree, "pool")
    assert result.outcomes["pool"] is Outcome.DONE, result.errors


def test_programs_an_action_runs_read_nothing_from_the_engine_s_stdin(tmp_path: Path) -> None:
    action = """
import subprocess
from pathlib import Path
def apply(ctx):
    read = subprocess.run(["head", "-c", "20"], capture_output=True).stdout
    (Path(ctx.base) / "read").write_bytes(read)
"""
    tree = make_tree(tmp_path, {"reads": {}}, {"reads": action})
    typed = tmp_path / "typed.txt"
    typed.write_text("TYPED-BY-THE-USER\n")
    with typed.open() as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "mikado", "run", "reads", "--yes"],
            cwd=tree.root,
            env=subprocess_env(None),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "read").read_bytes() == b""


def test_a_forged_result_is_masked_before_the_journal(tmp_path: Path) -> None:
    """What reaches the journal is masked by the engine, whatever the process sent."""
    action = (
        CHANNEL
        + """
import pickle, struct
SETTINGS = ("svc",)
def apply(ctx):
    forged = pickle.dumps(("result", "failed", "said " + ctx.settings["svc"]["token"], None))
    os.write(channel().fileno(), struct.pack("!i", len(forged)) + forged)
    os._exit(0)
"""
    )
    tree = make_tree(
        tmp_path, {"forges": {}}, {"forges": action}, config='[svc]\ntoken = "env:SVC_TOKEN"\n'
    )
    result = tree.mikado("run", "forges", "--yes", env={"SVC_TOKEN": "S3CRET-forged-9a"})
    assert result.returncode == 1
    journal = (tree.runtime / "journal.jsonl").read_text()
    assert "said ***" in journal and "S3CRET" not in journal + result.stdout + result.stderr


def test_a_last_line_without_its_end_is_ended(tmp_path: Path) -> None:
    actions = {
        "first": "def apply(ctx):\n    print('no end', end='')\n",
        "second": "def apply(ctx):\n    print('second')\n",
    }
    tree = make_tree(tmp_path, {"first": {}, "second": {"requires": ["first"]}}, actions)
    result = tree.mikado("run", "second", "--yes")
    assert result.returncode == 0, result.stderr
    assert "no end\nsecond\n" in result.stdout
