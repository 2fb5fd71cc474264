"""Edit an Authentik blueprint in the operator's repository: a blueprint file of its own, or
one embedded as a literal block scalar (``key: |``) in a ConfigMap's ``data``.

The file is someone else's, reviewed as a diff, so an edit must be a splice: the lines of the
changed entry move and every other byte stays. The text is therefore only *composed* into
YAML nodes (ruamel.yaml, which keeps every tag and position) to learn what each entry holds
and where, its scalars valued as PyYAML values them (Authentik's loader); no dumper is used:
the new lines are written as text in the file's own indentation. The result is read back and
compared with what was asked for before it is returned: an edit that would change anything
else, or not read back as intended, is refused with the line to edit by hand.

Authentik's tags become small values (:class:`KeyOf`, :class:`Find`, :class:`Env`); any other
tag is kept as its source text (:class:`Tagged`) and written back untouched.

This module is the blueprint as a whole: loading one, and an edit made, read back and checked.
The parts live beside it: the values (``_blueprint_values``), reading the YAML
(``_blueprint_read``), writing values as YAML text (``_blueprint_write``) and planning an edit
as splices of lines (``_blueprint_splice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mikado.edit._blueprint_read import (
    _compose,
    _configmap_region,
    _inner_lines,
    _Reader,
    _Region,
    _same_entry,
    _same_model,
    _split,
)
from mikado.edit._blueprint_splice import _Editor
from mikado.edit._blueprint_values import (
    Entry,
    Env,
    Find,
    Including,
    KeyOf,
    Scalar,
    Tagged,
    Value,
    Wanted,
    _holds,
)
from mikado.edit._blueprint_write import _check_wish, _words
from mikado.edit.atomic import write_atomic
from mikado.errors import ConfigError

__all__ = [
    "Blueprint",
    "Ensured",
    "Entry",
    "Env",
    "Find",
    "Including",
    "KeyOf",
    "Scalar",
    "Tagged",
    "Value",
    "Wanted",
    "load_blueprint",
    "read_blueprint",
    "write_blueprint",
]


@dataclass(frozen=True, slots=True)
class Ensured:
    """What :meth:`Blueprint.ensure` did: the blueprint after it, and the changes in words."""

    blueprint: Blueprint
    entry: Entry
    changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True, slots=True)
class Blueprint:
    """A blueprint and the file holding it; build one with :func:`load_blueprint`."""

    text: str  # the whole file, as it is (after an ensure: as it should be written)
    path: str
    data_key: str | None
    entries: tuple[Entry, ...]
    _region: _Region = field(repr=False, compare=False)

    @property
    def document(self) -> str:
        """The blueprint itself, as Authentik reads it: for a ConfigMap, the data key's value
        (what the worker sees in the mounted file)."""
        return "".join(_inner_lines(_split(self.text), self._region))

    def find(self, model: str, identifiers: Mapping[str, Value]) -> Entry | None:
        """The entry of ``model`` whose identifiers are exactly ``identifiers``."""
        found = [e for e in self.entries if _same_entry(e, model, identifiers)]
        return found[0] if found else None

    def with_id(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def reference(self, model: str, field: str, value: Scalar) -> KeyOf | Find:
        """How an entry appended now names an object: ``!KeyOf`` when an entry of this
        blueprint with an ``id`` stands for it (the object may not exist before the blueprint
        runs), else ``!Find`` of the existing object."""
        for entry in self.entries:
            if (
                entry.id is not None
                and entry.state != "absent"
                and _same_model(entry.model, model)
                and entry.identifiers == {field: value}
            ):
                return KeyOf(entry.id)
        return Find(model, field, value)

    def ensure(
        self,
        model: str,
        identifiers: Mapping[str, Value],
        attrs: Mapping[str, Wanted],
        *,
        comment: str,
        id: str | None = None,
    ) -> Ensured:
        """Make the blueprint hold an entry of ``model`` with these ``identifiers`` whose attrs
        include ``attrs`` (an :class:`Including` adds items to a list instead of replacing it).

        Without such an entry one is appended at the end of ``entries``, after a blank line
        and ``# comment``. With one, only the attrs that differ are rewritten (``comment`` is
        then unused). Nothing else in the file changes; ``changes`` is empty when nothing had
        to. Raises :class:`ConfigError` naming the file and line when the edit cannot be made
        without touching other content, or would write a literal secret.
        """
        _check_wish(self.path, model, identifiers, attrs, comment, id)
        editor = _Editor(self)
        splices, changes, wanted_id = editor.plan(model, identifiers, attrs, comment, id)
        if not splices:
            entry = self.find(model, identifiers)
            assert entry is not None
            return Ensured(self, entry, ())
        new = _read_back(self, editor.rebuilt(splices))
        entry = _verified(self, new, model, identifiers, attrs, wanted_id)
        return Ensured(new, entry, tuple(changes))


def read_blueprint(path: Path, *, data_key: str | None = None) -> Blueprint:
    """:func:`load_blueprint` of a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the blueprint: {error}", path=str(path)) from None
    return load_blueprint(text, path=str(path), data_key=data_key)


def write_blueprint(path: Path, blueprint: Blueprint) -> bool:
    """Write ``blueprint.text`` to ``path`` atomically when it differs; returns whether."""
    data = blueprint.text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data)
    return True


def load_blueprint(text: str, *, path: str, data_key: str | None = None) -> Blueprint:
    """A blueprint from the text of ``path``: the blueprint document itself (``version``,
    ``metadata``, ``entries``), or, with ``data_key``, a ConfigMap whose ``data[data_key]`` is
    one as a literal block scalar."""
    foreign = next((m for m in ("\r", "\x85", "\u2028", "\u2029") if m in text), None)
    if foreign is not None:
        # YAML counts these as line breaks and str.split("\n") does not: positions would lie.
        raise ConfigError(
            f"the file holds a {foreign!r} line break; convert it to plain LF line endings",
            path=path,
        )
    lines = _split(text)
    if data_key is None:
        region = _Region(0, len(lines), "")
    else:
        region = _configmap_region(text, lines, path, data_key)
    inner = _inner_lines(lines, region)
    root = _compose("".join(inner), path, region)
    entries = _Reader(inner, path, region).entries(root, data_key)
    return Blueprint(text, path, data_key, entries, region)


# -- checking an edit ------------------------------------------------------------------------


def _read_back(blueprint: Blueprint, text: str) -> Blueprint:
    """The edited ``text`` (what :meth:`_Editor.rebuilt` made) loaded as a blueprint again."""
    try:
        return load_blueprint(text, path=blueprint.path, data_key=blueprint.data_key)
    except ConfigError as error:
        raise ConfigError(
            f"the edit would not read back ({error.message}); edit by hand",
            path=blueprint.path,
            line=blueprint._region.first + 1,
        ) from None


def _verified(
    old: Blueprint,
    new: Blueprint,
    model: str,
    identifiers: Mapping[str, Value],
    attrs: Mapping[str, Wanted],
    entry_id: str | None,
) -> Entry:
    """The edited entry of ``new``, after checking that it holds what was asked for and that
    every other entry (and every other byte around the blueprint) is what it was."""

    def refuse(why: str) -> ConfigError:
        return ConfigError(
            f"editing {model} {_words(identifiers)} would {why}; make the change by hand",
            path=old.path,
        )

    entry = new.find(model, identifiers)
    if entry is None:
        raise refuse("lose the entry")
    if entry_id is not None and entry.id != entry_id:
        raise refuse(f"not give it id `{entry_id}`")
    for name, want in attrs.items():
        if not _holds(entry.attrs, name, want):
            raise refuse(f"not read back `{name}` as asked")

    def others(blueprint: Blueprint) -> list[tuple[Any, ...]]:
        return [
            (e.model, e.id, e.identifiers, e.attrs, e.state, e.comment)
            for e in blueprint.entries
            if not _same_entry(e, model, identifiers)
        ]

    if others(old) != others(new):
        raise refuse("change other entries")
    before, after = old._region, new._region
    old_lines, new_lines = _split(old.text), _split(new.text)
    outside_old = old_lines[: before.first] + old_lines[before.end :]
    outside_new = new_lines[: after.first] + new_lines[after.end :]
    if [x.rstrip("\n") for x in outside_old] != [x.rstrip("\n") for x in outside_new]:
        raise refuse("change the file around the blueprint")
    return entry
