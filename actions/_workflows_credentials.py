"""The credentials edit (wire-ci-registry-auth): every push to the registry gets its
credentials, skopeo as ``--dest-creds``, a ``dagger call`` as the options its function takes
them with (read from the Dagger module), the password from a Forgejo secret in the step's
``env:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from _dagger import DaggerFunction, DaggerModule, credential_support
from _workflows_pushes import (
    _SKOPEO,
    UneditablePush,
    _called,
    _pushes,
    _refused,
    _steps,
    push_steps,
)
from _workflows_shell import _double_quoted, _heredoc_around, _option_match, _unquote
from _workflows_variables import _VARIABLE
from _workflows_yaml import Edit, _insert_before, _set_script
from ruamel.yaml.comments import CommentedMap


def _same_text(one: str, other: str) -> bool:
    """Whether two double-quote forms are the same text, `$NAME` and `${NAME}` alike."""

    def braced(text: str) -> str:
        return _VARIABLE.sub(lambda found: "${" + (found.group(1) or found.group(2)) + "}", text)

    return braced(one) == braced(other)


def _one_word_per_line(command: str) -> bool:
    """Whether ``command`` has its arguments on continuation lines of their own, each line
    only arguments (nothing a new line after it would change: no pipe, `;`, comment)."""
    lines = command.split("\n")
    if len(lines) < 2:
        return False
    last = re.sub(r"\$\{\{[^}\n]*\}\}|\"[^\"\n]*\"|'[^'\n]*'", "", lines[-1])
    return not re.search(r"[|&;<>`]|\$\(|(?:^|\s)#", last)


def _joiner(command: str) -> str:
    """How the command joins an option to its value: ``=`` when any of its options does."""
    return "=" if re.search(r"(?:^|\s)--[\w-]+=", command) else " "


def _skopeo_credentials(command: str, credentials: str) -> str:
    wanted = f'"{credentials}"'
    existing = _option_match(command, "--dest-creds")
    if existing is not None:
        value = _double_quoted(existing.group(3))
        if value is not None and _same_text(value, credentials):
            return command  # as an operator wrote it (`--dest-creds="u:$KEY"` is the same)
        return command[: existing.start(3)] + wanted + command[existing.end(3) :]
    head = _SKOPEO.match(command)
    assert head is not None
    first, _, rest = command.partition("\n")
    if first[head.end() :].strip() == "\\" and _one_word_per_line(command):
        # `skopeo copy \` with each argument on a line of its own: so are the credentials.
        indent = re.match(r"[ \t]*", rest)
        assert indent is not None
        return f"{first}\n{indent.group(0)}--dest-creds{_joiner(command)}{wanted} \\\n{rest}"
    return command[: head.end()] + f" --dest-creds {wanted}" + command[head.end() :]


def _credential_options(
    function: DaggerFunction | None, user: str, variable: str
) -> dict[str, str]:
    """The options a ``dagger call`` of ``function`` takes the credentials with, in order."""
    if function is None:  # no module read: the call's own `--registry ...` style
        return {"--registry-username": user, "--registry-password": f"env:{variable}"}
    support = credential_support(function)
    if support.password is None or not support.password.secret:
        raise ValueError(
            f"`{function.name}` ({function.where}) takes no registry password as a secret: "
            f"it lacks {support.missing[0]}; change the Dagger module first"
        )
    options = {} if support.username is None else {support.username.flag: user}
    options[support.password.flag] = f"env:{variable}"
    return options


def _dagger_credentials(command: str, function_name: str | None, options: Mapping[str, str]) -> str:
    missing: dict[str, str] = {}
    for option, value in options.items():
        existing = _option_match(command, option)
        if existing is None:
            missing[option] = value
        elif _unquote(existing.group(3)) != value:
            command = command[: existing.start(3)] + value + command[existing.end(3) :]
    if not missing:
        return command
    if _one_word_per_line(command):
        # One option per continuation line: the credentials go on lines of their own, below,
        # at the same indentation and joined as the others are (`--flag=value` or not).
        lines = command.split("\n")
        indent = re.match(r"[ \t]*", lines[-1])
        assert indent is not None
        joined = _joiner(command)
        added = [f"{indent.group(0)}{option}{joined}{value}" for option, value in missing.items()]
        lines[-1] = lines[-1].rstrip() + " \\"
        return "\n".join([*lines, *(line + " \\" for line in added[:-1]), added[-1]])
    name = re.search(rf"(?<![\w-]){re.escape(function_name or 'publish')}(?![\w-])", command)
    assert name is not None
    inline = "".join(f" {option} {value}" for option, value in missing.items())
    return command[: name.end()] + inline + command[name.end() :]


def _with_credentials(
    script: str, host: str, user: str, variable: str, dagger: DaggerModule | None
) -> str:
    for push, end in reversed(_pushes(script, host, dagger)):
        line = script.count("\n", 0, push.start) + 1
        word = _heredoc_around(script, push.start)
        if word is not None:
            reason = (
                f"the push to {push.repository}:{push.tag} is inside a here-document "
                f"(<<{word}), where `${variable}` would be expanded elsewhere than in the step "
                "(or not at all); push outside the here-document"
            )
            raise UneditablePush(reason, reason, line)
        command = script[push.start : end]
        if push.kind == "skopeo":
            new = _skopeo_credentials(command, f"{user}:${{{variable}}}")
        else:
            try:
                options = _credential_options(push.function, user, variable)
            except ValueError as problem:
                reason = f"`dagger call` cannot take the registry credentials: {problem}"
                raise UneditablePush(reason, reason, line) from None
            new = _dagger_credentials(command, _called(command)[0], options)
        script = script[: push.start] + new + script[end:]
    return script


def credentials_edit(
    registry_host: str, user: str, variable: str, secret: str, dagger: DaggerModule | None = None
) -> Edit:
    """Give every push step credentials: the user and ``$variable``, set from the secret.

    A ``dagger call`` read through ``dagger`` (see :func:`push_commands`) passes the password
    as the function's ``registry_password`` takes it, and the user only when the function has
    a ``registry_username``; a function without a Secret ``registry_password`` is a ConfigError
    (check :func:`_dagger.credential_support` first). A call written one option per line gets
    one line per credential; an inline call gets them after the function's name.
    """
    reference = "${{ secrets." + secret + " }}"

    def edit(document: Any) -> bool:
        changed = False
        pushes = push_steps(document, registry_host, dagger)
        steps_of = dict(_steps(document))
        for push in pushes:
            step = steps_of[push.job][push.index]
            script = step["run"]
            try:
                new = _with_credentials(script, registry_host, user, variable, dagger)
            except UneditablePush as problem:
                raise _refused(push.job, push.index, step, problem, None) from None
            if new != script:
                _set_script(step, new)
                changed = True
            env = step.get("env")
            if not isinstance(env, dict):
                env = CommentedMap()
                env[variable] = reference
                _insert_before(step, "run", "env", env)
                changed = True
            if env.get(variable) != reference:
                env[variable] = reference
                changed = True
        return changed

    return edit
