"""Rendering a Jinja template as Ansible renders it (:mod:`mikado.edit.jinja_json`): Jinja set
up as Ansible sets it up, with the few Ansible filters a role's template is likely to use, and
undefined variables reported by name and line.
"""

from __future__ import annotations

import functools
import json
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.nativetypes import NativeEnvironment

from mikado.errors import ConfigError

_UNDEFINED = re.compile(r"'([^']+)' is undefined")


class _MandatoryMissing(jinja2.UndefinedError):
    def __init__(self, name: str | None, message: str | None):
        super().__init__(message or f"Mandatory variable {name!r} not defined.")
        self.name = name
        self.custom = message  # the template's own `mandatory(msg)`


def _to_json(value: object, *args: Any, **kwargs: Any) -> str:
    return json.dumps(value, *args, **kwargs)


def _to_nice_json(
    value: object, indent: int = 4, sort_keys: bool = True, *args: Any, **kwargs: Any
) -> str:
    return json.dumps(
        value, *args, indent=indent, sort_keys=sort_keys, separators=(",", ": "), **kwargs
    )


def _bool(value: object) -> bool | None:
    # Ansible's classic `bool`: anything but these spellings of yes is False.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.lower()
    return value in ("yes", "on", "1", "true", 1)


def _mandatory(value: object, msg: str | None = None) -> object:
    if isinstance(value, jinja2.Undefined):
        raise _MandatoryMissing(value._undefined_name, msg)
    return value


# The Ansible filters a role's template is likely to use and that take a few lines each; any
# other Ansible filter is refused by name rather than guessed at.
ANSIBLE_FILTERS = {
    "to_json": _to_json,
    "to_nice_json": _to_nice_json,
    "bool": _bool,
    "mandatory": _mandatory,
}


def _finalize(value: object) -> object:
    # Ansible prints a null as nothing, where plain Jinja would print "None".
    return "" if value is None else value


def _concat(values: Iterator[Any]) -> Any:
    # Ansible (2.19) keeps the type of a template that is one expression, `"{{ port }}"` an int
    # if `port` is; text around it makes a string. Jinja's own native concat would also turn
    # the string "5050" into an int, which Ansible does not.
    head = [value for _, value in zip(range(2), values, strict=False)]
    if not head:
        return ""
    if len(head) == 1:
        if isinstance(head[0], jinja2.Undefined):
            str(head[0])  # raises: a native template must not hand back an undefined
        return head[0]
    return "".join(str(value) for value in (*head, *values))


class _NativeEnvironment(NativeEnvironment):
    concat = staticmethod(_concat)  # type: ignore[assignment]


@functools.cache
def ansible_environment(*, native: bool = False) -> jinja2.Environment:
    """Jinja set up as Ansible sets it up: ``trim_blocks``, undefined variables an error, the
    trailing newline kept, and :data:`ANSIBLE_FILTERS`. ``native`` keeps a one-expression
    template's value as a Python value, as Ansible does when it templates a variable."""
    env: jinja2.Environment
    if native:
        env = _NativeEnvironment(
            trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
        )
    else:
        env = jinja2.Environment(
            trim_blocks=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            finalize=_finalize,
        )
    env.filters.update(ANSIBLE_FILTERS)
    return env


def compile_template(
    source: str,
    *,
    native: bool = False,
    path: str | None = None,
    line: int | None = None,
    what: str = "the template",
) -> jinja2.Template:
    """``source`` compiled by :func:`ansible_environment`; :class:`ConfigError` on a syntax
    error or a filter or test Jinja does not have and :data:`ANSIBLE_FILTERS` does not add.
    ``line`` (the line ``source`` sits on in ``path``) replaces the template's own lines."""
    env = ansible_environment(native=native)
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"{what}: Jinja syntax error: {exc.message}", path=path, line=line or exc.lineno
        ) from None
    for found in tree.find_all((nodes.Filter, nodes.Test)):
        name = cast("nodes.Filter | nodes.Test", found).name
        if isinstance(found, nodes.Filter) and name not in env.filters:
            offered = ", ".join(sorted(ANSIBLE_FILTERS))
            raise ConfigError(
                f"{what} uses the filter `{name}`, which mikado cannot render (Ansible's own "
                f"filters are not available; of them mikado offers {offered})",
                path=path,
                line=line or found.lineno,
            )
        if isinstance(found, nodes.Test) and name not in env.tests:
            raise ConfigError(
                f"{what} uses the test `{name}`, which mikado cannot render (Ansible's own "
                "tests are not available)",
                path=path,
                line=line or found.lineno,
            )
    return env.from_string(tree)


def run_template(template: jinja2.Template, variables: Mapping[str, object]) -> Any:
    """Render a compiled template with ``variables`` read only when the template asks for a
    name, so a lazily resolving mapping is resolved no further than needed. Jinja's own
    exceptions come out as Jinja raises them (see :func:`template_line`)."""
    env = template.environment
    # Jinja only reads the scope; ChainMap's typing wants mutable maps.
    scope = ChainMap(cast("MutableMapping[str, Any]", variables), env.globals)
    context = template.new_context(cast("dict[str, Any]", scope), shared=True)
    # Not Jinja's handle_exception: to rewrite the traceback it copies the whole scope,
    # which would resolve every variable.
    return env.concat(template.root_render_func(context))


def template_line(template: jinja2.Template, exc: BaseException) -> int | None:
    """The template's line where ``exc``, raised by :func:`run_template`, happened."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":  # what Jinja compiles code as
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def undefined_name(exc: jinja2.UndefinedError) -> str | None:
    """The variable an :class:`~jinja2.UndefinedError` is about, if it says."""
    if isinstance(exc, _MandatoryMissing):
        return exc.name
    found = _UNDEFINED.search(exc.message or "")
    return found.group(1) if found else None


def render(text: str, variables: Mapping[str, object], *, path: str | None = None) -> str:
    """``text`` rendered as Ansible's ``template`` module renders it; :class:`ConfigError`
    naming the template, the line and the variable when a variable is undefined."""
    template = compile_template(text, path=path)
    try:
        return str(run_template(template, variables))
    except jinja2.UndefinedError as exc:
        name = undefined_name(exc)
        if isinstance(exc, _MandatoryMissing):
            message = exc.custom or f"mandatory variable `{name}` is not defined"
        elif name is not None:
            message = f"undefined variable `{name}`"
        else:
            message = f"undefined value: {exc.message}"
        raise ConfigError(message, path=path, line=template_line(template, exc)) from None
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"cannot render: {exc.message}", path=path, line=template_line(template, exc)
        ) from None


def render_json(text: str, variables: Mapping[str, object], *, path: str | None = None) -> Any:
    """:func:`render`, then the result read as JSON; :class:`ConfigError` quoting the rendered
    line when it is not JSON."""
    rendered = render(text, variables, path=path)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as exc:
        lines = rendered.splitlines() or [""]
        shown = lines[min(exc.lineno, len(lines)) - 1]
        raise ConfigError(
            f"the rendered template is not JSON: {exc.msg} at rendered line {exc.lineno}, "
            f"column {exc.colno}: {shown.strip()!r}",
            path=path,
        ) from None
