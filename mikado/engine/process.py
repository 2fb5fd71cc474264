"""A card's action process seen from the engine: start it, read what it prints and tells,
end it (docs/reference.md#actions-run-in-their-own-process).

The engine's main thread alone reads every running process: :func:`wait` returns when any
of them has something to read, so no thread of the engine is ever spent on an action, and
one that holds its interpreter's lock (a runaway regex) or leaves threads behind costs the
engine nothing: at its deadline its process group is killed.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import Any

from mikado.engine import messages
from mikado.engine.child import CardJob, run_card
from mikado.engine.context import LOGGER_PREFIX
from mikado.engine.hooks import HookResult
from mikado.engine.outputs import OutputStore
from mikado.engine.results import Outcome
from mikado.engine.secrets import LineMasker, Masker
from mikado.errors import ConfigError, PrerequisiteDiscovered

Emit = Callable[[str], None]
Handle = Connection | int

_READ = 64 * 1024


def _forkserver() -> ForkServerContext:
    """multiprocessing's fork server: started once per engine process, it imports the
    child's modules (:mod:`mikado.engine.preload`) and forks each action's process from a
    single-threaded, clean state."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(["mikado.engine.preload"])
    return context


def start_early() -> None:
    """Start the fork server now, so its imports (a few hundred milliseconds on a busy
    machine) overlap with reading the tree and planning, instead of delaying the first card.
    A server that cannot start (no processes left, a TMPDIR too long for its socket) is a
    :class:`ConfigError` naming why: the machine, not mikado, must change."""
    _forkserver()
    try:
        multiprocessing.forkserver.ensure_running()
    except OSError as exc:
        raise ConfigError(
            f"cannot start the process that runs actions: {exc.strerror or exc}"
            + (" (its socket lives in TMPDIR: set a shorter TMPDIR)" if "path" in str(exc) else "")
        ) from None


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """While a process starts, hide the engine's main module from multiprocessing, which
    would otherwise run it again in the child (to find what was pickled by reference there):
    the child's code lives in mikado.engine.child, and re-running the ``mikado`` script, or
    pytest, would cost each card 20 to 50 ms for nothing."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _Stream:
    """One of the process's output pipes, masked line by line on its way to ``emit``."""

    def __init__(self, fd: int, masker: Masker, emit: Emit):
        self.fd = fd
        os.set_blocking(fd, False)
        self._lines = LineMasker(masker)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._emit = emit
        self.open = True
        self._ended_line = True  # nothing said yet, or what was said ended its line

    def read(self, *, drain: bool = False) -> None:
        """Pass on one read's worth of what the pipe holds (all of it with ``drain``); at its
        end, the rest, and close it. One read at a time: an action printing without pause
        must not keep the engine from its deadlines and Ctrl-C."""
        while self.open:
            try:
                data = os.read(self.fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self._say(self._lines.feed(self._decoder.decode(data)))
            self._ended_line = data.endswith(b"\n")
            if not drain:
                return

    def close(self) -> None:
        if self.open:
            self.open = False
            os.close(self.fd)
            self._say(self._lines.feed(self._decoder.decode(b"", final=True)))
            self._say(self._lines.finish())
            if not self._ended_line:
                # The action's last line ran out without its end: end it here, or the next
                # card's output (or the engine's own line) would continue it.
                self._say("\n")

    def _say(self, text: str) -> None:
        if text:
            self._emit(text)


class ActionProcess:
    """One attempt at one card, in its own process.

    ``out`` and ``err`` receive what the action prints, masked; recorded outputs go to
    ``store``; log records to the action's logger here. ``lock``, the run lock's descriptor,
    stays locked while the process lives. ``result`` is set once the process
    has ended and everything it sent was read.
    """

    def __init__(
        self,
        job: CardJob,
        *,
        masker: Masker,
        store: OutputStore,
        out: Emit,
        err: Emit,
        lock: int | None = None,
    ) -> None:
        self.job = job
        self.waiting: str | None = None  # the service request under way, if any
        self.result: HookResult | None = None
        self._masker = masker
        self._store = store
        self._reported: HookResult | None = None
        self._problem: str | None = None
        self._frames = messages.Frames()
        context = _forkserver()
        reader, writer = context.Pipe(duplex=False)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ends = (writer, Connection(out_w, readable=False), Connection(err_w, readable=False))
        # A duplicate of the run lock's descriptor (closing ours must not unlock the engine's).
        held = Connection(os.dup(lock), writable=False) if lock is not None else None
        try:
            # Not a daemon: multiprocessing would then forbid the action its own processes
            # (a Pool, a ProcessPoolExecutor); the engine ends it itself in any case.
            self._process: Any = context.Process(
                target=run_card, args=(job, *ends, held), name=f"mikado {job.stem}"
            )
            with _without_main():
                self._process.start()
        except BaseException:
            reader.close()
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for end in (*ends, held):
                if end is not None:
                    end.close()
        self.pid: int = self._process.pid or 0
        os.set_blocking(reader.fileno(), False)
        self._channel: Connection | None = reader
        self._streams = {out_r: _Stream(out_r, masker, out), err_r: _Stream(err_r, masker, err)}

    @property
    def ended(self) -> bool:
        return self.result is not None

    def handles(self) -> list[Handle]:
        """What to wait on for this process: its pipes, its channel, its end."""
        if self.ended:
            return []
        found: list[Handle] = [fd for fd, stream in self._streams.items() if stream.open]
        if self._channel is not None:
            found.append(self._channel)
        found.append(self._process.sentinel)
        return found

    def ready(self, handle: Handle) -> None:
        """``handle`` (one of :meth:`handles`) has something to read."""
        if handle is self._channel:
            self._read_channel()
        elif isinstance(handle, int) and handle in self._streams:
            self._streams[handle].read()
        elif handle == self._process.sentinel:
            self._end()

    def kill(self) -> None:
        """End the process and everything it started, now."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._process.kill()

    def close(self) -> None:
        """Kill what is left, read what was said, free the pipes (once the result is taken,
        or when the run gives the attempt up)."""
        self.kill()
        self._process.join(1.0)
        if not self.ended:
            self._end()

    # -- what the process says

    def _read_channel(self, *, drain: bool = False) -> None:
        """Take the messages one read of the channel completes (every one with ``drain``).
        Never blocks: half a message waits in the frames for the rest."""
        channel = self._channel
        assert channel is not None
        while True:
            try:
                data = os.read(channel.fileno(), _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                if self._frames.partial:
                    self._problem = "the action's process ended in the middle of a message"
                break
            try:
                for frame in self._frames.feed(data):
                    self._take(messages.decode(frame))
            except messages.MessageError as exc:
                self._problem = f"the action's process sent {exc}"
                break
            if not drain:
                return
        channel.close()
        self._channel = None

    def _take(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == messages.LOG:
            self._log(*message[1:])
        elif kind == messages.OUTPUT:
            self._output(message[1], message[2])
        elif kind == messages.WAITING:
            self.waiting = self._masker(message[1]) if isinstance(message[1], str) else None
        elif kind == messages.RESULT:
            reported = _result(*message[1:])
            # Masked here too, before it reaches the journal: what the engine records is
            # masked by the engine, whatever the process sent.
            error = self._masker(reported.error) if reported.error is not None else None
            self._reported = HookResult(reported.outcome, error, reported.discovered)

    def _log(self, levelno: object, levelname: object, text: object, exc: object) -> None:
        if not isinstance(levelno, int):
            return
        name = f"{LOGGER_PREFIX}.{self.job.stem}"
        logger = logging.getLogger(name)
        if not logger.isEnabledFor(levelno):
            return
        record = logging.makeLogRecord(
            {
                "name": name,
                "levelno": levelno,
                "levelname": self._masker(str(levelname)),
                "msg": self._masker(str(text)),
                "exc_text": self._masker(exc) if isinstance(exc, str) else None,
            }
        )
        logger.handle(record)

    def _output(self, key: object, value: object) -> None:
        # Checked in the process already, with the same secrets; checked again here, where
        # it is written, so a value that reaches outputs.json has passed this engine's guard.
        try:
            if not isinstance(key, str):
                raise ValueError("an output name that is not text")
            self._store.put(self.job.stem, key, value)
        except (ValueError, TypeError, OSError) as exc:
            self._problem = self._problem or self._masker(f"could not record an output: {exc}")

    def _end(self) -> None:
        """The process is gone: read what it left in the pipes, and conclude."""
        if self._channel is not None:
            self._read_channel(drain=True)
        for stream in self._streams.values():
            stream.read(drain=True)
            stream.close()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._process.join(1.0)
        # Programs the action started and left running in its group end with its card.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.result = self._conclusion()

    def _conclusion(self) -> HookResult:
        if self._problem is not None:
            return HookResult(Outcome.FAILED, self._problem)
        if self._reported is not None:
            return self._reported
        code = self._process.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit status {code}"
        return HookResult(Outcome.FAILED, f"the action's process ended without a result ({how})")


def _result(outcome: object, error: object, fields: object) -> HookResult:
    """The RESULT message as the engine's :class:`HookResult`, or a failure naming what was
    wrong with it."""
    try:
        value = Outcome(str(outcome))
    except ValueError:
        return HookResult(Outcome.FAILED, "the action's process reported no known outcome")
    discovered = None
    if fields is not None:
        if not (
            isinstance(fields, tuple)
            and len(fields) == 3
            and all(isinstance(field, str) for field in fields)
        ):
            return HookResult(Outcome.FAILED, "the action's process reported a malformed discovery")
        discovered = PrerequisiteDiscovered(*fields)
    return HookResult(value, error if isinstance(error, str) else None, discovered)


def wait(processes: Iterable[ActionProcess], timeout: float | None) -> None:
    """Wait until one of ``processes`` has something to read (or ``timeout`` passes), and
    read it."""
    owners: dict[Handle, ActionProcess] = {}
    for process in processes:
        for handle in process.handles():
            owners[handle] = process  # pipes and sentinels by number, channels by identity
    for ready in multiprocessing.connection.wait(list(owners), timeout):
        process = owners[ready]  # type: ignore[index]
        if not process.ended:
            process.ready(ready)  # type: ignore[arg-type]
