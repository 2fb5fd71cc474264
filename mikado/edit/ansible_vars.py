"""Ansible variable files (a role's ``defaults/main.yml``, ``group_vars``): read and resolved
as Ansible resolves them, and edited in place.

Reading uses PyYAML's safe loader, which reads YAML 1.1 as Ansible does (``yes`` is true), plus
Ansible's ``!unsafe`` and ``!vault`` tags. A value holding Jinja is rendered only when it is
asked for, with the other variables, as Ansible does; so a variable that refers to one the
files do not define (a fact, an extra var) is an error only for whoever uses it.

Edits are text splices at the places the YAML nodes' marks point to: every line they do not
touch stays byte-identical, and the result is read back and compared with what was asked for
before it is returned.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from mikado.edit.jinja_json import compile_template, run_template, undefined_name
from mikado.errors import ConfigError

Scalar = str | int | float | bool | None
# One step of an address into a file: a mapping key, or (key, value) for the item of a list
# whose `key` is `value`.
Step = str | tuple[str, Scalar]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_JINJA = ("{{", "{%", "{#")
_NULL = "tag:yaml.org,2002:null"
_ITEM_START = re.compile(r"[ \t]*-[ \t]+")
# Characters a double-quoted YAML scalar must escape (PyYAML refuses them raw, or reads them
# as line breaks).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u2028\u2029\ufeff\ufffe\uffff]"
)


class Unsafe(str):
    """A ``!unsafe`` string: Ansible never renders it."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Vaulted:
    """A ``!vault`` value: encrypted, so mikado cannot read it."""

    ciphertext: str


class _Loader(yaml.SafeLoader):
    pass


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Unsafe:
    return Unsafe(loader.construct_scalar(node))  # type: ignore[arg-type]


def _vault(loader: yaml.SafeLoader, node: yaml.Node) -> Vaulted:
    return Vaulted(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


_Loader.add_constructor("!unsafe", _unsafe)
_Loader.add_constructor("!vault", _vault)


@dataclass(frozen=True, slots=True)
class VarFile:
    """The top-level variables of one file, and the line each is defined on."""

    path: str
    values: Mapping[str, object]
    lines: Mapping[str, int]


def parse_var_file(text: str, *, path: str) -> VarFile:
    """The variables ``text`` (the contents of ``path``) defines; :class:`ConfigError` when it
    is not YAML or not a mapping of names."""
    doc = _Document(text, path)
    if doc.root is None:
        return VarFile(path, {}, {})
    values = doc.construct(doc.root)
    if not isinstance(values, dict):
        raise ConfigError("a variables file must be a mapping of names", path=path, line=1)
    lines: dict[str, int] = {}
    for key, _ in doc.root.value:
        lines[str(doc.construct(key))] = key.start_mark.line + 1
    return VarFile(path, {str(k): v for k, v in values.items()}, lines)


def read_var_file(path: Path) -> VarFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read: {reason}", path=str(path)) from None
    return parse_var_file(text, path=str(path))


class Variables(Mapping[str, object]):
    """Variables from several files (a later file's value wins) and ``extra`` ones (which win
    over all), each resolved when first read: a string holding Jinja is rendered with the
    other variables, lists and mappings item by item, as Ansible does.

    Reading a variable raises :class:`ConfigError` naming it and its file when its template
    refers to an undefined variable, uses an unknown filter, or refers back to itself.
    """

    def __init__(self, files: Sequence[VarFile], extra: Mapping[str, object] | None = None):
        self._raw: dict[str, object] = {}
        self._where: dict[str, tuple[str, int | None]] = {}
        for file in files:
            for name, value in file.values.items():
                self._raw[name] = value
                self._where[name] = (file.path, file.lines.get(name))
        for name, value in (extra or {}).items():
            self._raw[name] = value
            self._where[name] = ("extra variables", None)
        self._resolved: dict[str, object] = {}
        self._resolving: list[str] = []
        # Actions may run in threads; one resolution at a time keeps the cycle check honest.
        self._lock = threading.RLock()

    @classmethod
    def load(cls, *paths: Path, extra: Mapping[str, object] | None = None) -> Variables:
        return cls([read_var_file(path) for path in paths], extra)

    def raw(self, name: str) -> object:
        """The value as written, unrendered."""
        return self._raw[name]

    def source(self, name: str) -> tuple[str, int | None]:
        """The file (or "extra variables") and line that define ``name``."""
        return self._where[name]

    def resolve_all(self) -> dict[str, object]:
        """Every variable, resolved (the first one that cannot be raises)."""
        return {name: self[name] for name in self._raw}

    def __getitem__(self, name: str) -> object:
        with self._lock:
            if name in self._resolved:
                return self._resolved[name]
            if name not in self._raw:
                raise KeyError(name)
            path, line = self._where[name]
            if name in self._resolving:
                cycle = [*self._resolving[self._resolving.index(name) :], name]
                raise ConfigError(
                    f"variable `{name}` refers to itself: {' → '.join(cycle)}",
                    path=path,
                    line=line,
                )
            self._resolving.append(name)
            try:
                value = self._resolve(self._raw[name], name, path, line)
            finally:
                self._resolving.pop()
            self._resolved[name] = value
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        # Without this, Mapping's `in` would resolve the value.
        return name in self._raw

    def _resolve(self, value: object, name: str, path: str, line: int | None) -> object:
        if isinstance(value, Unsafe):
            return value
        if isinstance(value, Vaulted):
            raise ConfigError(
                f"variable `{name}` is vault-encrypted; mikado cannot read it",
                path=path,
                line=line,
            )
        if isinstance(value, list):
            return [self._resolve(item, name, path, line) for item in value]
        if isinstance(value, dict):
            return {
                self._resolve(k, name, path, line): self._resolve(v, name, path, line)
                for k, v in value.items()
            }
        if not isinstance(value, str) or not any(mark in value for mark in _JINJA):
            return value
        what = f"variable `{name}`"
        template = compile_template(value, native=True, path=path, line=line, what=what)
        try:
            return run_template(template, self)
        except jinja2.UndefinedError as exc:
            missing = undefined_name(exc)
            detail = f"undefined variable `{missing}`" if missing else exc.message
            raise ConfigError(f"{what} uses an {detail}", path=path, line=line) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{what} cannot be rendered: {exc}", path=path, line=line) from None


def load_vars(*paths: Path, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """The variables of ``paths`` (later files override earlier ones), all resolved."""
    return Variables.load(*paths, extra=extra).resolve_all()


# -- editing -------------------------------------------------------------------------------------


def set_scalar(text: str, name: str, value: Scalar, *, path: str | None = None) -> str:
    """Set the top-level variable ``name`` to ``value``; returns the new text.

    An existing value is replaced on its line (a trailing comment stays; a quoted value keeps
    its quotes). A new variable goes right after the last line of the file's first run of
    ``key: scalar`` lines, or at the end when there is none. A string is written plain when
    YAML reads it back as the same string, else double-quoted. Setting the value a variable
    already has returns ``text`` unchanged.
    """
    if not _NAME.match(name):
        raise ConfigError(f"`{name}` is not an Ansible variable name", path=path)
    doc = _Document(text, path)
    entries = doc.entries()
    found = [(key, node) for key, node in entries if key.value == name]
    if len(found) > 1:
        lines = ", ".join(str(key.start_mark.line + 1) for key, _ in found)
        raise ConfigError(
            f"`{name}` is defined {len(found)} times (lines {lines})",
            path=path,
            line=found[1][0].start_mark.line + 1,
        )
    if found:
        key, node = found[0]
        line = key.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode) or node.start_mark.index < key.end_mark.index:
            raise ConfigError(f"`{name}` is not a scalar; edit it by hand", path=path, line=line)
        start, end = node.start_mark.index, node.end_mark.index
        if node.style in ("|", ">") or node.end_mark.line != key.start_mark.line:
            raise ConfigError(
                f"`{name}` spans several lines; edit it by hand", path=path, line=line
            )
        if text[start:end].startswith(("&", "!")):
            raise ConfigError(
                f"`{name}` carries a YAML anchor or tag; edit it by hand", path=path, line=line
            )
        if _same(doc.construct(node), value):
            return text
        written = _scalar(value, style=node.style)
        if start == end:  # `name:` with nothing after the colon
            written = " " + written
        new = text[:start] + written + text[end:]
    else:
        written = f"{name}: {_scalar(value)}{doc.newline}"
        at, lead = _after_first_scalar_run(doc, entries)
        new = text[:at] + lead + written + text[at:]
    expected = dict(doc.values())
    expected[name] = value
    _check(new, expected, path, f"setting `{name}`")
    return new


def append_list_item(
    text: str,
    at: Sequence[Step],
    item: Mapping[str, Scalar],
    *,
    key: str = "name",
    path: str | None = None,
) -> str:
    """Append the mapping ``item`` to the block list at ``at``; returns the new text.

    ``at`` walks from the top: a string is a mapping key, ``(field, value)`` the list item
    whose ``field`` is ``value``; e.g. ``("forgejo_actions_secrets_repos", ("repo", "infra"),
    "secrets")``. The item is written like the list's last item (block ``- name: …`` with the
    next keys below it, or a flow ``- {…}``), right after it. Nothing changes when an item
    with the same ``key`` value is already there. :class:`ConfigError` with the line when the
    list or an item on the way does not exist.
    """
    if key not in item:
        raise ValueError(f"the new item has no `{key}`")
    doc = _Document(text, path)
    node = _walk(doc, at)
    line = node.start_mark.line + 1
    where = _address(at)
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{where} is not a list", path=path, line=line)
    if node.flow_style or not node.value:
        raise ConfigError(
            f"{where} is not a block list with items to follow; edit it by hand",
            path=path,
            line=line,
        )
    for existing in node.value:
        data = doc.construct(existing)
        if isinstance(data, dict) and key in data and _same(data[key], item[key]):
            return text
    last = node.value[-1]
    if not isinstance(last, yaml.MappingNode) or not last.value:
        raise ConfigError(
            f"the items of {where} are not mappings", path=path, line=last.start_mark.line + 1
        )
    dash = text.rfind("-", 0, last.start_mark.index)
    line_start = text.rfind("\n", 0, dash) + 1
    if text.rfind("\n", 0, last.start_mark.index) < dash:
        first = text[line_start : last.start_mark.index]
    else:  # the item starts on the line after its dash
        first = text[line_start : dash + 1] + " "
    if not _ITEM_START.fullmatch(first):
        raise ConfigError(
            f"the last item of {where} starts in a way mikado does not copy; edit it by hand",
            path=path,
            line=last.start_mark.line + 1,
        )
    if last.flow_style:
        pairs = ", ".join(
            f"{_scalar(k, flow=True)}: {_scalar(v, flow=True)}" for k, v in item.items()
        )
        lines = [f"{first}{{{pairs}}}"]
    else:
        indent = " " * len(first)
        lines = [
            f"{first if n == 0 else indent}{_scalar(k)}: {_scalar(v)}"
            for n, (k, v) in enumerate(item.items())
        ]
    at_offset, lead = doc.after_line_of(_last_leaf(last))
    new = text[:at_offset] + lead + "".join(line + doc.newline for line in lines) + text[at_offset:]
    expected = copy.deepcopy(doc.values())
    _place(expected, at).append(dict(item))
    _check(new, expected, path, f"appending to {where}")
    return new


# -- helpers ---------------------------------------------------------------------------------


class _Document:
    """The composed YAML of a variables file, with the marks edits are placed by."""

    def __init__(self, text: str, path: str | None):
        self.text = text
        self.path = path
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.loader = _Loader(text)
        try:
            root = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(
                f"not YAML: {exc}".splitlines()[0],
                path=path,
                line=mark.line + 1 if mark is not None else None,
            ) from None
        if isinstance(root, yaml.ScalarNode) and root.tag == _NULL and not root.value:
            root = None  # `---` and comments only: no variables yet
        if root is not None and not isinstance(root, yaml.MappingNode):
            raise ConfigError("a variables file must be a mapping of names", path=path, line=1)
        self.root: yaml.MappingNode | None = root

    def construct(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"cannot read a value: {exc}".splitlines()[0],
                path=self.path,
                line=node.start_mark.line + 1,
            ) from None

    def values(self) -> dict[str, Any]:
        if self.root is None:
            return {}
        data = self.construct(self.root)
        if not isinstance(data, dict):
            raise ConfigError("a variables file must be a mapping of names", path=self.path)
        return data

    def entries(self) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        if self.root is None:
            return []
        if self.root.flow_style:
            raise ConfigError(
                "the variables are written as a flow mapping `{…}`; edit it by hand",
                path=self.path,
                line=self.root.start_mark.line + 1,
            )
        return [(k, v) for k, v in self.root.value if isinstance(k, yaml.ScalarNode)]

    def after_line_of(self, node: yaml.Node) -> tuple[int, str]:
        """Where the line after ``node`` ends starts, and the line break to add first if the
        file ends on that line without one."""
        end = node.end_mark
        if end.column == 0 and end.index > 0:  # a block scalar ends at the next line's start
            return end.index, ""
        eol = self.text.find("\n", end.index)
        if eol < 0:
            return len(self.text), self.newline
        return eol + 1, ""


def _after_first_scalar_run(
    doc: _Document, entries: list[tuple[yaml.ScalarNode, yaml.Node]]
) -> tuple[int, str]:
    """Where a new `name: value` line goes, and the line break to add before it."""
    last: yaml.Node | None = None
    for key, node in entries:
        one_line = (
            isinstance(node, yaml.ScalarNode)
            and node.style not in ("|", ">")
            and node.start_mark.index >= key.end_mark.index  # not an alias
            and node.end_mark.line == key.start_mark.line
        )
        if last is not None and (not one_line or key.start_mark.line != last.end_mark.line + 1):
            break
        if one_line:
            last = node
    if last is not None:
        return doc.after_line_of(last)
    if doc.text and not doc.text.endswith("\n"):
        return len(doc.text), doc.newline
    return len(doc.text), ""


def _walk(doc: _Document, at: Sequence[Step]) -> yaml.Node:
    if doc.root is None:
        raise ConfigError("the file defines no variables", path=doc.path)
    node: yaml.Node = doc.root
    for depth, step in enumerate(at):
        here = _address(at[:depth]) if depth else "the file"
        line = node.start_mark.line + 1
        if isinstance(step, str):
            if not isinstance(node, yaml.MappingNode):
                raise ConfigError(
                    f"{here} is not a mapping: no `{step}` in it", path=doc.path, line=line
                )
            values = [
                v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step
            ]
            if not values:
                raise ConfigError(f"no `{step}` in {here}", path=doc.path, line=line)
            node = values[-1]
        else:
            field, wanted = step
            if not isinstance(node, yaml.SequenceNode):
                raise ConfigError(f"{here} is not a list", path=doc.path, line=line)
            matches = [
                entry
                for entry in node.value
                if isinstance(entry, yaml.MappingNode)
                and any(
                    isinstance(k, yaml.ScalarNode)
                    and k.value == field
                    and _same(doc.construct(v), wanted)
                    for k, v in entry.value
                )
            ]
            if len(matches) != 1:
                problem = "no item" if not matches else f"{len(matches)} items"
                raise ConfigError(
                    f"{problem} with `{field}: {wanted}` in {here}", path=doc.path, line=line
                )
            node = matches[0]
    return node


def _place(data: Any, at: Sequence[Step]) -> Any:
    for step in at:
        if isinstance(step, str):
            data = data[step]
        else:
            field, wanted = step
            data = next(i for i in data if isinstance(i, dict) and _same(i.get(field), wanted))
    return data


def _last_leaf(node: yaml.Node) -> yaml.Node:
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        if node.flow_style:
            return node
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node


def _same(current: object, value: object) -> bool:
    """Equal as YAML data: `1` is not `true` there, though `1 == True` in Python."""
    if isinstance(current, str) and isinstance(value, str):
        return str(current) == str(value)  # an `Unsafe` string is still that string
    if isinstance(current, dict) and isinstance(value, dict):
        return current.keys() == value.keys() and all(_same(current[k], value[k]) for k in current)
    if isinstance(current, list) and isinstance(value, list):
        return len(current) == len(value) and all(map(_same, current, value))
    return type(current) is type(value) and current == value


def _scalar(value: Scalar, *, style: str | None = None, flow: bool = False) -> str:
    """``value`` as a YAML scalar that reads back as itself: plain where it can be, else in
    ``style`` ("'" or '"'), else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        written = repr(value)
        if _reads_back(written, value, flow):
            return written
        raise ValueError(f"{value!r} cannot be written as a YAML number that reads back")
    if style == "'" and "\n" not in value and not _UNPRINTABLE.search(value):
        return "'" + value.replace("'", "''") + "'"
    if style is None and _reads_back(value, value, flow):
        return value
    return _double_quoted(value)


def _double_quoted(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return '"' + _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _reads_back(written: str, value: Scalar, flow: bool) -> bool:
    if not written or written != written.strip() or "\n" in written or "\r" in written:
        return False
    document = f"{{k: {written}}}" if flow else f"k: {written}\n"
    try:
        return _same(yaml.load(document, Loader=_Loader).get("k", object()), value)
    except (yaml.YAMLError, AttributeError):
        return False


def _check(new: str, expected: dict[str, Any], path: str | None, what: str) -> None:
    try:
        got: object = _Document(new, path).values()
    except ConfigError:
        got = None
    if not _same(got, expected):
        raise ConfigError(f"{what} would not read back as written; edit it by hand", path=path)


def _address(at: Sequence[Step]) -> str:
    parts = [step if isinstance(step, str) else f"[{step[0]}: {step[1]}]" for step in at]
    return "`" + " → ".join(parts) + "`"
