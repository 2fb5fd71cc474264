"""Reading an Authentik blueprint (:mod:`mikado.edit.blueprint`): where it sits in the file
(the whole file, or a ConfigMap data key's literal block), its YAML composed into nodes with
their positions, and those nodes read into entries and values as Authentik's PyYAML loader
reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mikado.edit._blueprint_values import Entry, Env, Find, KeyOf, Tagged, Value
from mikado.errors import ConfigError

# -- where the blueprint sits in the file -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Region:
    first: int  # index of the blueprint's first line among the file's lines
    end: int  # one past its last (non-blank) line
    indent: str  # what every non-blank line of it carries in the file ("" for a whole file)


# -- YAML ------------------------------------------------------------------------------------


def _composer() -> YAML:
    # A new one each time: ruamel's YAML objects keep state between calls.
    composer = YAML(typ="rt", pure=True)
    composer.version = (1, 1)  # as PyYAML reads: `yes` is true, `010` is 8
    return composer


def _compose(text: str, path: str, region: _Region) -> Node | None:
    try:
        node: Node | None = _composer().compose(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = region.first + mark.line + 1 if mark is not None else None
        raise ConfigError(
            f"the blueprint is not valid YAML: {error}", path=path, line=line
        ) from None
    return node


def _pyyaml_resolve(text: str) -> str:
    """The tag PyYAML gives a plain scalar. Authentik loads blueprints with PyYAML, whose
    YAML 1.1 resolver differs from ruamel's (`y` and `n` are strings to PyYAML, bools to
    ruamel)."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


_RESOLVER = yaml.resolver.Resolver()


def _pyyaml_scalar(node: ScalarNode, *, explicit: bool) -> Any:
    """The value PyYAML makes of a scalar node ruamel composed. Its constructors raise plain
    Python errors (ValueError...) for a value its explicit tag does not fit."""
    tag = _tag(node) if explicit or node.style else _pyyaml_resolve(node.value)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(yaml.ScalarNode(tag, node.value, style=node.style))
    finally:
        loader.dispose()


def _tag(node: Node) -> str:
    tag = node.tag
    return tag if isinstance(tag, str) else str(getattr(tag, "value", tag))


def _split(text: str) -> list[str]:
    """Lines with their "\\n" (the last one without, when the text does not end with one)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _configmap_region(text: str, lines: list[str], path: str, data_key: str) -> _Region:
    try:
        documents = list(_composer().compose_all(text))
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {error}", path=path, line=line) from None
    found: list[tuple[Node, Node]] = []
    keys: list[str] = []
    for document in documents:
        data = (
            _field(document, "data") if _scalar(_field(document, "kind")) == "ConfigMap" else None
        )
        if not isinstance(data, MappingNode):
            continue
        for key, value in data.value:
            keys.append(str(key.value))
            if key.value == data_key:
                found.append((key, value))
    if not found:
        what = f"its data keys are {', '.join(keys)}" if keys else "it holds no ConfigMap data"
        raise ConfigError(f"no ConfigMap data key `{data_key}` ({what})", path=path)
    if len(found) > 1:
        raise ConfigError(f"ConfigMap data key `{data_key}` appears more than once", path=path)
    key, value = found[0]
    header = key.start_mark.line
    if not isinstance(value, ScalarNode) or value.style != "|":
        raise ConfigError(
            f"data key `{data_key}` is not a literal block scalar (`{data_key}: |`)",
            path=path,
            line=header + 1,
        )
    indicator = lines[value.start_mark.line][value.start_mark.column :].split("#")[0].strip()
    if any(c.isdigit() for c in indicator) or value.start_mark.line != header:
        raise ConfigError(
            f"data key `{data_key}`: write the block as `{data_key}: |` on one line, without "
            "an indentation indicator",
            path=path,
            line=header + 1,
        )
    first = header + 1
    end = first
    indent: str | None = None
    while end < len(lines):
        line = lines[end]
        if line.strip():
            if indent is None:
                indent = line[: len(line) - len(line.lstrip(" "))]
            if not line.startswith(indent) or len(indent) <= key.start_mark.column:
                break
        end += 1
    while end > first and not lines[end - 1].strip():
        end -= 1
    region = _Region(first, end, indent or "")
    inner = "".join(_inner_lines(lines, region))
    expected = {"|": inner, "|-": inner.removesuffix("\n")}.get(indicator)
    if expected != value.value and not (indicator == "|+" and value.value.startswith(inner)):
        raise ConfigError(
            f"data key `{data_key}`: its lines and its value disagree (tabs or odd blank "
            "lines?); edit it by hand",
            path=path,
            line=header + 1,
        )
    return region


def _inner_lines(lines: list[str], region: _Region) -> list[str]:
    width = len(region.indent)
    inner = []
    for line in lines[region.first : region.end]:
        if line.startswith(region.indent):
            inner.append(line[width:])
        else:  # a blank line shorter than the indentation
            inner.append("\n" if line.endswith("\n") else "")
    return inner


def _field(node: Node | None, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name), None)


def _scalar(node: Node | None) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and _tag(node).endswith(":null") and node.value == ""


# -- reading ---------------------------------------------------------------------------------


class _Reader:
    """Nodes of the blueprint (inner coordinates) to values, lines and complaints."""

    def __init__(self, inner: list[str], path: str, region: _Region):
        self.inner = inner
        self.path = path
        self.region = region

    def fail(self, message: str, node: Node | None = None) -> ConfigError:
        line = self.region.first + node.start_mark.line + 1 if node is not None else None
        return ConfigError(message, path=self.path, line=line)

    def entries_node(self, root: Node | None, data_key: str | None) -> SequenceNode | None:
        what = f"data key `{data_key}`" if data_key else "the file"
        if not isinstance(root, MappingNode) or (
            _field(root, "entries") is None and _field(root, "version") is None
        ):
            kind = _scalar(_field(root, "kind")) if root is not None else None
            hint = " (a ConfigMap: name the data key that holds the blueprint)" if kind else ""
            raise self.fail(f"{what} is not an Authentik blueprint (no `version`, `entries`){hint}")
        entries = _field(root, "entries")
        if entries is None or _is_null(entries):
            return None
        if not isinstance(entries, SequenceNode):
            raise self.fail(
                "`entries` is not a list (sections of entries are not supported)", entries
            )
        return entries

    def entries(self, root: Node | None, data_key: str | None) -> tuple[Entry, ...]:
        node = self.entries_node(root, data_key)
        return tuple(self.entry(item) for item in node.value) if node is not None else ()

    def entry(self, node: Node) -> Entry:
        if not isinstance(node, MappingNode):
            raise self.fail("an entry that is not a mapping", node)
        fields = {str(k.value): v for k, v in node.value if isinstance(k, ScalarNode)}
        model = _scalar(fields.get("model"))
        if not model:
            raise self.fail("an entry without a `model`", node)
        identifiers = self.mapping(fields.get("identifiers"), "identifiers")
        attrs = self.mapping(fields.get("attrs"), "attrs")
        state = fields.get("state")
        entry_id = fields.get("id")
        return Entry(
            model=model,
            id=_scalar(entry_id) if entry_id is not None and not _is_null(entry_id) else None,
            identifiers=identifiers,
            attrs=attrs,
            state=str(self.value(state)) if state is not None else "present",
            line=self.region.first + node.start_mark.line + 1,
            comment=self.comment_above(node.start_mark.line, node.start_mark.column),
        )

    def mapping(self, node: Node | None, name: str) -> dict[str, Value]:
        if node is None or _is_null(node):
            return {}
        value = self.value(node)
        if not isinstance(value, dict):
            raise self.fail(f"`{name}` is not a mapping", node)
        return value

    def comment_above(self, line: int, column: int) -> str | None:
        """The comment lines right above an entry, indented no deeper than its keys (a deeper
        one ends the entry before it)."""
        found: list[str] = []
        while line > 0:
            line -= 1
            text = self.inner[line].strip()
            depth = len(self.inner[line]) - len(self.inner[line].lstrip())
            if not text.startswith("#") or depth > column:
                break
            found.insert(0, text[1:].strip())
        return "\n".join(found) if found else None

    def source(self, node: Node) -> str:
        start, end = node.start_mark, node.end_mark
        if start.line == end.line:
            line: str = self.inner[start.line]
            return line[start.column : end.column]
        text = "".join(self.inner[start.line : end.line + 1])
        offset = end.column + sum(len(line) for line in self.inner[start.line : end.line])
        return text[start.column : offset].rstrip()

    def value(self, node: Node) -> Value:
        tag = _tag(node)
        if isinstance(node, ScalarNode):
            if tag == "!KeyOf":
                return KeyOf(str(node.value))
            if tag == "!Env":
                return Env(str(node.value))
            if tag.startswith("!"):
                return Tagged(tag, self.source(node))
            try:
                constructed = _pyyaml_scalar(node, explicit=self.source(node).startswith("!"))
            except Exception:  # `!!int abc`: kept as written, for Authentik to refuse
                return Tagged(tag, self.source(node))
            if isinstance(constructed, str | int | float | bool) or constructed is None:
                return constructed
            return Tagged(tag, self.source(node))  # a timestamp, binary...
        if isinstance(node, SequenceNode):
            if tag == "!Find":
                found = self.find(node)
                if found is not None:
                    return found
            if tag.startswith("!"):
                return Tagged(tag, self.source(node))
            return [self.value(item) for item in node.value]
        if isinstance(node, MappingNode) and not tag.startswith("!"):
            result: dict[str, Value] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or _tag(key).startswith("!"):
                    raise self.fail("a mapping key that is not a plain string", key)
                result[str(key.value)] = self.value(value)
            return result
        return Tagged(tag, self.source(node))

    def find(self, node: SequenceNode) -> Find | None:
        """``[model, [field, value]]``; other shapes (several conditions) stay Tagged."""
        if len(node.value) != 2 or not isinstance(node.value[1], SequenceNode):
            return None
        model, pair = node.value
        if len(pair.value) != 2:
            return None
        parts = [self.value(model), self.value(pair.value[0]), self.value(pair.value[1])]
        if not isinstance(parts[0], str) or not isinstance(parts[1], str):
            return None
        if not isinstance(parts[2], str | int | float | bool) and parts[2] is not None:
            return None
        return Find(parts[0], parts[1], parts[2])


def _same_model(a: str, b: str) -> bool:
    return a.lower() == b.lower()  # Django's app registry ignores the model name's case


def _same_entry(entry: Entry, model: str, identifiers: Mapping[str, Value]) -> bool:
    return _same_model(entry.model, model) and dict(entry.identifiers) == dict(identifiers)
