"""Actions (docs/actions.md): the Python code bound to a card, loaded by path from the actions
folder.

One module per action: ``<actions>/<name>.py``, where ``name`` is the card's ``action:`` field or,
without one, its stem (``actions/enforce-tag-immutability.py``). Files starting with ``_`` are
helpers, not actions; the actions folder is on ``sys.path`` while a module imports, so an action can
``import _common`` at its top. A module provides ``apply(ctx)`` and may provide ``check(ctx) ->
bool``, ``verify(ctx)``, ``rollback(ctx)`` and ``SETTINGS``, the configuration tables it reads
(``("zot", ...)``), or those tables with the keys they may hold (``{"zot": ("url", ...)}``, see
mikado.engine.settings). docs/actions.md is the reference for action authors.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mikado.engine.settings import Declaration, TableKeys
from mikado.errors import ActionLoadError

MODULE_PREFIX = "mikado_actions"
HOOKS = ("apply", "check", "verify", "rollback")

Hook = Callable[[Any], object]


@dataclass(frozen=True, slots=True)
class Action:
    """A loaded action: its hooks and the settings tables it declares."""

    name: str
    path: Path
    apply: Hook
    check: Hook | None = None
    verify: Hook | None = None
    rollback: Hook | None = None
    settings: tuple[str, ...] = ()
    # The keys of each table that SETTINGS declares with keys; a table named only is absent.
    setting_keys: Mapping[str, TableKeys] = field(default_factory=dict)
    # The module says `SUPPORTS_DRY_RUN = True`: its check only reads, and its apply, given
    # ctx.dry_run, prints what it would change and writes nothing. Only such actions are
    # rehearsed by `mikado run --dry-run`; an action that ignored the flag would write.
    supports_dry_run: bool = False

    @property
    def can_recheck(self) -> bool:
        return self.check is not None or self.verify is not None

    def declarations(self) -> list[Declaration]:
        return [Declaration(self.name, t, self.setting_keys.get(t)) for t in self.settings]


def action_names(folder: Path) -> frozenset[str]:
    """The actions the folder provides, without importing anything (for `check`)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return frozenset()
    return frozenset(
        path.stem
        for path in entries
        if path.suffix == ".py" and not path.name.startswith(("_", ".")) and path.is_file()
    )


# The longest a module may take to import. Imports do no real work, so one that takes this
# long is stuck (waiting on the network, a lock, an endless loop); without a limit it would
# hang `run` and even `run --dry-run` before any card is touched. A shorter `timeout` wins.
IMPORT_TIMEOUT = 30.0


class ActionRegistry:
    """Imports action modules on demand, each once; thread-safe.

    Each import runs in a daemon thread and may take ``import_timeout`` seconds: a module
    still importing then is reported as a load error. Its thread cannot be stopped, but it
    is abandoned, and nothing of the module ever runs.
    """

    def __init__(self, folder: Path, *, import_timeout: float = IMPORT_TIMEOUT):
        self.folder = folder
        self.import_timeout = import_timeout
        self._names = action_names(folder)
        self._loaded: dict[str, Action] = {}
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        return name in self._names

    def load(self, name: str) -> Action:
        with self._lock:
            action = self._loaded.get(name)
            if action is None:
                action = self._loaded[name] = self._import(name, self.folder / f"{name}.py")
            return action

    def _import(self, name: str, path: Path) -> Action:
        outcome: list[Action | BaseException] = []

        def target() -> None:
            try:
                outcome.append(load_action(name, path))
            except BaseException as exc:  # handed to the waiting thread, which raises it
                outcome.append(exc)

        worker = threading.Thread(target=target, name=f"mikado import {name}", daemon=True)
        worker.start()
        worker.join(self.import_timeout)
        if not outcome:
            raise ActionLoadError(
                f"action `{name}` did not finish importing within {self.import_timeout:g} s; "
                "do the work in apply(ctx), not at import time",
                path=str(path),
            )
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def load_all(self, names: Iterable[str]) -> dict[str, Action]:
        """Load every named action, reporting every module that fails, not just the first."""
        loaded: dict[str, Action] = {}
        problems: list[str] = []
        for name in dict.fromkeys(names):
            try:
                loaded[name] = self.load(name)
            except ActionLoadError as exc:
                problems.append(str(exc))
        if problems:
            raise ActionLoadError("\n".join(problems))
        return loaded


def _module_name(name: str) -> str:
    return f"{MODULE_PREFIX}.{re.sub(r'[^0-9A-Za-z_]', '_', name)}"


@contextlib.contextmanager
def _importable(folder: str) -> Iterator[None]:
    """The actions folder on ``sys.path`` while a module imports, so it can import its
    ``_helpers``; taken off afterwards, so nothing else ever imports from it by accident."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def load_action(name: str, path: Path) -> Action:
    """Import the action module at ``path`` here and now, without a time limit (an action's
    own process imports it this way: the card's timeout bounds it there)."""
    with _importable(str(path.parent)):
        return _import_module(name, path)


def _import_module(name: str, path: Path) -> Action:
    module_name = _module_name(name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ActionLoadError(f"cannot load action `{name}`", path=str(path))
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as dataclasses and pickling inside the module expect.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise ActionLoadError(
            f"action `{name}` does not compile: {exc.msg}", path=str(path), line=exc.lineno
        ) from None
    except BaseException as exc:  # an import error must never run half a chain
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ActionLoadError(
            f"action `{name}` failed to import: {type(exc).__name__}: {exc}",
            path=str(path),
            line=_line_in(exc, path),
        ) from None
    return _from_module(name, path, module)


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The last line of ``path`` in the exception's traceback: where the module broke."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def _from_module(name: str, path: Path, module: ModuleType) -> Action:
    hooks: dict[str, Hook | None] = {}
    for hook in HOOKS:
        value = getattr(module, hook, None)
        if value is not None and not callable(value):
            raise ActionLoadError(f"action `{name}`: `{hook}` is not a function", path=str(path))
        hooks[hook] = value
    apply = hooks["apply"]
    if apply is None:
        raise ActionLoadError(f"action `{name}` defines no `apply(ctx)` function", path=str(path))
    tables, keys = _settings(name, path, getattr(module, "SETTINGS", ()))
    dry_run = getattr(module, "SUPPORTS_DRY_RUN", False)
    if not isinstance(dry_run, bool):
        raise ActionLoadError(
            f"action `{name}`: SUPPORTS_DRY_RUN must be True or False", path=str(path)
        )
    return Action(
        name=name,
        path=path,
        apply=apply,
        check=hooks["check"],
        verify=hooks["verify"],
        rollback=hooks["rollback"],
        settings=tables,
        setting_keys=keys,
        supports_dry_run=dry_run,
    )


def _strings(value: object) -> bool:
    return isinstance(value, tuple | list) and all(isinstance(s, str) and s for s in value)


def _settings(
    name: str, path: Path, declared: object
) -> tuple[tuple[str, ...], dict[str, TableKeys]]:
    """SETTINGS as (table names, keys of the tables declared with keys)."""
    if _strings(declared):
        assert isinstance(declared, tuple | list)
        return tuple(declared), {}
    if isinstance(declared, Mapping) and all(isinstance(t, str) and t for t in declared):
        keys: dict[str, TableKeys] = {}
        for table, value in declared.items():
            if _strings(value):
                keys[table] = TableKeys(optional=tuple(value))
            elif (
                isinstance(value, TableKeys)
                and _strings(value.required)
                and _strings(value.optional)
            ):
                keys[table] = value
            else:
                raise ActionLoadError(
                    f"action `{name}`: SETTINGS[{table!r}] must be a tuple of key names or "
                    "TableKeys(required=(...), optional=(...))",
                    path=str(path),
                )
        return tuple(declared), keys
    raise ActionLoadError(
        f'action `{name}`: SETTINGS must be a tuple of table names, e.g. ("zot",), or a '
        'mapping of table names to their keys, e.g. {"zot": ("url", "config_file")}',
        path=str(path),
    )


def action_name(stem: str, field: str | None) -> str:
    return field or stem
