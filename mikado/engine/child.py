"""A card's action in its own process (docs/reference.md#actions-run-in-their-own-process):
the code that runs there, from the job the engine sends to the result it reports.

The process is forked from a server process started once per engine (multiprocessing's
``forkserver``, which preloads this module and so httpx and mikado's services): it holds no
thread, lock or client of the engine's, and starting one costs a few milliseconds.

Its stdout and stderr are pipes the engine reads and masks line by line, so whatever writes
there (``print``, ``sys.stdout.buffer``, ``os.write(2, …)``, ``sys.__stderr__``, a logging
handler made at import time, a program the action runs) reaches no terminal, log or file
unmasked. Everything else goes back as :mod:`~mikado.engine.messages`. The process leads its
own process group, so the engine's timeout or Ctrl-C ends it and whatever it started at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing.forkserver
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn, TextIO

import httpx

from mikado.config import TlsSettings
from mikado.engine import messages
from mikado.engine.actions import load_action
from mikado.engine.context import LOGGER_PREFIX, Context, action_logger
from mikado.engine.hooks import HookResult, Mode, run_hooks
from mikado.engine.http import TIMEOUT, make_client
from mikado.engine.outputs import Outputs, OutputStore
from mikado.engine.results import Outcome
from mikado.engine.secrets import Masker
from mikado.errors import MikadoError
from mikado.model.card import Card
from mikado.services import _http as service_http


@dataclass(frozen=True, slots=True)
class CardJob:
    """All an action's process needs, sent once as it starts. ``settings`` holds resolved
    secrets and ``secrets`` the values to mask: both stay between the two processes."""

    stem: str
    action: str
    action_path: Path
    card: Card
    path: Path
    docs: Path
    base: Path
    runtime: Path
    settings: Mapping[str, Mapping[str, Any]]
    secrets: tuple[str, ...]
    outputs: Mapping[str, Mapping[str, Any]]
    mode: Mode
    tls: TlsSettings
    log_level: int
    # The engine's environment now: the server process was forked from an earlier one.
    environ: Mapping[str, str]
    http_timeout: float | None = None


def run_card(
    job: CardJob,
    channel: Connection,
    stdout: Connection,
    stderr: Connection,
    lock: Connection | None,
) -> None:
    """The process's whole life: run ``job``'s hooks, report, exit. Never returns.

    ``lock`` is the run lock's file, held open (and so locked) until this process ends: when
    the engine is killed, no later run can start until this action has died too."""
    cancelled = threading.Event()
    _stand_alone(cancelled)
    _redirect(stdout, stderr)
    for held in (channel, lock):  # nothing the action runs may keep these open after it
        if held is not None:
            os.set_inheritable(held.fileno(), False)
    os.environ.clear()
    os.environ.update(job.environ)
    send = _Sender(channel)
    masker = Masker(job.secrets)
    try:
        result = _run(job, send, masker, cancelled)
    except BaseException as exc:  # the hooks catch everything; this is mikado's own failure
        result = HookResult(
            Outcome.FAILED, masker(f"internal error in the action's process: {exc!r}")
        )
    discovered = result.discovered
    fields = (discovered.stem, discovered.title, discovered.learned) if discovered else None
    send((messages.RESULT, result.outcome.value, result.error, fields))
    _exit()


def _stand_alone(cancelled: threading.Event) -> None:
    # Its own process group: Ctrl-C at the terminal reaches the engine only, which decides,
    # and a kill of the group also ends the programs the action started.
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Someone signalling this process by hand asks the action to stop: ctx.cancelled.
    signal.signal(signal.SIGTERM, lambda signum, frame: cancelled.set())
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: killed when the fork server ends, which it does when the engine does, so a
    ``kill -9`` of the engine leaves no action running on. Elsewhere, a no-op.

    The server stays up while any process holds its "alive" pipe, which multiprocessing hands
    to every child it forks: this one lets go of it, or the server, and so this process,
    would outlive a killed engine."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        with contextlib.suppress(OSError):
            os.close(alive)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010 - a private attribute


def _redirect(stdout: Connection, stderr: Connection) -> None:
    """Point file descriptors 1 and 2, and Python's streams, at the engine's pipes, and 0 at
    /dev/null: a program that prompts (git for a password, ssh for a host key) must read
    end-of-file, not the engine's terminal from a background process group."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(stdout.fileno(), 1)
    os.dup2(stderr.fileno(), 2)
    stdout.close()
    stderr.close()
    # Line-buffered, so output interleaves with the engine's progress lines as it happens.
    # sys.__stdout__ and __stderr__ stay: they write to descriptors 1 and 2 as well.
    sys.stdout = _text_stream(1)
    sys.stderr = _text_stream(2)


def _text_stream(fd: int) -> TextIO:
    # Open for the process's whole life; it ends by os._exit after a flush.
    return open(fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


class _Sender:
    """Sends messages to the engine; an action's threads may log at the same time."""

    def __init__(self, channel: Connection):
        self._channel = channel
        self._lock = threading.Lock()

    def __call__(self, message: tuple[Any, ...]) -> None:
        data = messages.encode(message)
        with self._lock:
            self._channel.send_bytes(data)


class _ForwardLogs(logging.Handler):
    """Hands each record of the action's logger to the engine, masked (by the logger's own
    masking filter, before any handler sees it)."""

    def __init__(self, send: _Sender):
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            self._send((messages.LOG, record.levelno, record.levelname, text, record.exc_text))
        except Exception:
            self.handleError(record)


def _run(job: CardJob, send: _Sender, masker: Masker, cancelled: threading.Event) -> HookResult:
    try:
        action = load_action(job.action, job.action_path)
    except MikadoError as exc:
        return HookResult(Outcome.FAILED, " ".join(masker(str(exc)).split()))
    family = logging.getLogger(LOGGER_PREFIX)
    family.setLevel(job.log_level)
    family.propagate = False
    family.addHandler(_ForwardLogs(send))
    service_http.on_waiting = lambda text: send((messages.WAITING, text))

    def forward(stem: str, key: str, value: Any) -> None:
        send((messages.OUTPUT, key, value))

    store = OutputStore(job.runtime, masker, persist=False, data=job.outputs, on_put=forward)
    timeout = httpx.Timeout(job.http_timeout) if job.http_timeout is not None else TIMEOUT
    with make_client(job.tls, timeout=timeout) as http:
        ctx = Context(
            card=job.card,
            path=job.path,
            docs=job.docs,
            base=job.base,
            settings=job.settings,
            http=http,
            log=action_logger(job.stem, masker),
            dry_run=job.mode is Mode.REHEARSE,
            outputs=Outputs(store, job.stem),
            cancelled=cancelled,
        )
        return run_hooks(action, ctx, job.mode, masker)


def _exit() -> NoReturn:
    # os._exit: threads the action left behind must not keep the process (and the card's
    # pipes) alive; what the streams buffered is flushed first.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
