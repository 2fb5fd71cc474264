"""The Dagger module's Python source, read with :mod:`ast`, never imported: its main object,
the ``@function``s on it with their parameters, and the image reference each one publishes.
What the parse cannot tell (a reference built some other way) is left unknown, not guessed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from _dagger_model import (
    DaggerFunction,
    Field,
    LiteralValue,
    Parameter,
    RefTemplate,
    TemplatePart,
    _kebab,
)

from mikado.errors import ConfigError

# Folders of a module's source that hold no code of the module's own: the SDK the Dagger CLI
# generates (it holds classes of the same names), and environments.
_NOT_THE_MODULE = frozenset({"sdk", "__pycache__", ".venv", "venv", "node_modules"})


def _pascal(name: str) -> str:
    """The main object's class name for a module name, as the Python SDK derives it."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_\s]+", name) if part)


def _python_files(folder: Path) -> Iterator[Path]:
    # The SDK's templates keep the module under src/; without one, the whole folder is it.
    top = folder / "src" if (folder / "src").is_dir() else folder
    for path in sorted(top.rglob("*.py")):
        relative = path.relative_to(top).parts[:-1]
        if not any(part in _NOT_THE_MODULE or part.startswith(".") for part in relative):
            yield path


def _parse(path: Path) -> tuple[str, ast.Module]:
    try:
        source = path.read_text(encoding="utf-8")
        return source, ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise ConfigError(
            f"the Dagger module's source does not parse: {error.msg}",
            path=str(path),
            line=error.lineno,
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read the Dagger module's source: {error}", path=str(path)
        ) from None


def _decorated(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id == name:
            return True
        if isinstance(target, ast.Attribute) and target.attr == name:
            return True
    return False


def _explicit_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """``@function(name="...")`` renames the function for the CLI."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    value = keyword.value.value
                    if isinstance(value, str):
                        return value
    return None


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    relative: str
    source: str
    tree: ast.Module
    dagger_names: frozenset[str]  # what `import dagger [as x]` binds
    secret_names: frozenset[str]  # what `from dagger import Secret [as y]` binds
    constants: Mapping[str, LiteralValue]  # module-level NAME = <literal>


def _file(path: Path, root: Path) -> _File:
    source, tree = _parse(path)
    dagger_names: set[str] = set()
    secret_names: set[str] = set()
    constants: dict[str, LiteralValue] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            dagger_names.update(
                alias.asname or alias.name for alias in node.names if alias.name == "dagger"
            )
        elif isinstance(node, ast.ImportFrom) and node.module == "dagger":
            secret_names.update(
                alias.asname or alias.name for alias in node.names if alias.name == "Secret"
            )
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            literal, value = _literal(node.value, {})
            if isinstance(target, ast.Name) and literal:
                constants[target.id] = value
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        relative = str(path)
    return _File(
        path, relative, source, tree, frozenset(dagger_names), frozenset(secret_names), constants
    )


def _main_object(
    module: str, root: Path, folder: Path, config: Path
) -> tuple[str, dict[str, DaggerFunction]]:
    objects: list[tuple[_File, ast.ClassDef]] = []
    for path in _python_files(folder):
        file = _file(path, root)
        objects.extend(
            (file, node)
            for node in ast.walk(file.tree)
            if isinstance(node, ast.ClassDef) and _decorated(node, "object_type")
        )
    if not objects:
        raise ConfigError(
            f"the Dagger module `{module}` has no @object_type class under {folder}",
            path=str(config),
        )
    wanted = _pascal(module)
    named = [found for found in objects if found[1].name == wanted]
    if named:
        file, main = named[0]
    elif len(objects) == 1:
        file, main = objects[0]
    else:
        classes = ", ".join(sorted(node.name for _, node in objects))
        raise ConfigError(
            f"cannot tell the main object of the Dagger module `{module}`: no class is named "
            f"`{wanted}` (there are {classes})",
            path=str(config),
        )
    functions: dict[str, DaggerFunction] = {}
    for node in main.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _decorated(
            node, "function"
        ):
            function = _function(file, main.name, node)
            functions[function.cli_name] = function
    return main.name, functions


def _literal(node: ast.expr, constants: Mapping[str, LiteralValue]) -> tuple[bool, LiteralValue]:
    if isinstance(node, ast.Name) and node.id in constants:
        return True, constants[node.id]
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if value is None or isinstance(value, str | int | float | bool):
        return True, value
    return False, None


def _written(node: ast.expr | None, file: _File) -> str | None:
    if node is None:
        return None
    return ast.get_source_segment(file.source, node) or ast.unparse(node)


def _is_secret(annotation: ast.expr | None, file: _File) -> bool:
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A quoted annotation: "dagger.Secret | None".
            try:
                inner = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                continue
            if _is_secret(inner, file):
                return True
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "Secret"
            and isinstance(node.value, ast.Name)
            and node.value.id in file.dagger_names
        ):
            return True
        if isinstance(node, ast.Name) and node.id in file.secret_names:
            return True
    return False


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, file: _File) -> list[Parameter]:
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults.extend(arguments.defaults)
    pairs = [
        *zip(positional, defaults, strict=True),
        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
    ]
    found = []
    for argument, default in pairs:
        if argument.arg in ("self", "cls"):
            continue
        literal, value = _literal(default, file.constants) if default is not None else (False, None)
        found.append(
            Parameter(
                name=argument.arg,
                annotation=_written(argument.annotation, file),
                default=_written(default, file),
                value=value,
                literal=literal,
                secret=_is_secret(argument.annotation, file),
                line=argument.lineno,
            )
        )
    return found


def _published(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[ast.expr, ast.expr]]:
    """(receiver, address) of each ``x.publish(address)`` in the function's body."""
    found = []
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "publish"
        ):
            address = call.args[0] if call.args else None
            address = next((k.value for k in call.keywords if k.arg == "address"), address)
            if address is not None:
                found.append((call.func.value, address))
    return found


def _assigned(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> list[ast.expr]:
    return [
        statement.value
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
    ]


def _template(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    parameters: Mapping[str, Parameter],
    source: str,
) -> RefTemplate | None:
    candidates: list[ast.expr] = []
    for _, address in _published(node):
        if isinstance(address, ast.Name):
            candidates.extend(_assigned(node, address.id))
        else:
            candidates.append(address)
    # A reference built for something other than `.publish(...)` (returned, passed on) is
    # still the one the function stands for when it starts with a registry parameter.
    candidates.extend(n for n in ast.walk(node) if isinstance(n, ast.JoinedStr))
    for candidate in candidates:
        if isinstance(candidate, ast.JoinedStr):
            template = _split_template(candidate, parameters, source)
            if template is not None:
                return template
    return None


def _split_template(
    node: ast.JoinedStr, parameters: Mapping[str, Parameter], source: str
) -> RefTemplate | None:
    parts: list[TemplatePart] = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value)
        elif (
            isinstance(value, ast.FormattedValue)
            and isinstance(value.value, ast.Name)
            and value.value.id in parameters
            and value.conversion == -1
            and value.format_spec is None
        ):
            parameter = parameters[value.value.id]
            parts.append(Field(parameter.name, parameter.flag))
        else:
            return None  # an expression mikado cannot evaluate from the call's options
    if len(parts) < 2 or not isinstance(parts[0], Field):
        return None
    registry, rest = parts[0], parts[1:]
    if not isinstance(rest[0], str) or not rest[0].startswith("/"):
        return None
    rest[0] = rest[0][1:]
    if any(isinstance(p, str) and "@" in p for p in rest):
        return None  # a digest, not a tag
    # The tag follows the last literal ':' that no literal '/' follows.
    repository: list[TemplatePart] = rest
    tag: list[TemplatePart] = ["latest"]
    for index in reversed(range(len(rest))):
        part = rest[index]
        if not isinstance(part, str):
            continue
        colon, slash = part.rfind(":"), part.rfind("/")
        if colon > slash:
            repository = [*rest[:index], part[:colon]]
            tag = [part[colon + 1 :], *rest[index + 1 :]]
            break
        if slash != -1:
            break
    segment = ast.get_source_segment(source, node) or ast.unparse(node)
    return RefTemplate(
        segment,
        registry,
        tuple(p for p in repository if p != ""),
        tuple(p for p in tag if p != ""),
        node.lineno,
    )


def _function(
    file: _File, owner: str, node: ast.FunctionDef | ast.AsyncFunctionDef
) -> DaggerFunction:
    parameters = _parameters(node, file)
    by_name = {parameter.name: parameter for parameter in parameters}
    receivers = [receiver for receiver, _ in _published(node)]
    container = next((r.id for r in receivers if isinstance(r, ast.Name)), None)
    authenticates = any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "with_registry_auth"
        for call in ast.walk(node)
    )
    if file.dagger_names:
        secret_type = f"{sorted(file.dagger_names)[0]}.Secret"
    elif file.secret_names:
        secret_type = sorted(file.secret_names)[0]
    else:
        secret_type = "dagger.Secret"
    secret_imported = bool(file.dagger_names or file.secret_names)
    name = node.name
    return DaggerFunction(
        name=name,
        cli_name=_kebab(_explicit_name(node) or name),
        object=owner,
        path=file.path,
        relative=file.relative,
        line=node.lineno,
        parameters=tuple(parameters),
        ref=_template(node, by_name, file.source),
        authenticates=authenticates,
        container=container,
        secret_type=secret_type,
        secret_imported=secret_imported,
    )
