"""Registry credentials in a Dagger function: whether ``dagger call`` can pass them to it
(a Secret ``registry_password`` used in ``with_registry_auth``, optionally a
``registry_username``), and, when it cannot, the instructions for the change that lets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _dagger_model import DaggerFunction, Parameter

USERNAME = "registry_username"
PASSWORD = "registry_password"


@dataclass(frozen=True, slots=True)
class CredentialSupport:
    """Whether a function takes registry credentials from ``dagger call``, and what it lacks."""

    function: DaggerFunction
    username: Parameter | None  # registry_username; optional: without it only the password goes
    password: Parameter | None  # registry_password, whatever its type
    missing: tuple[str, ...]  # each thing the function lacks, for a person; empty when none

    @property
    def accepted(self) -> bool:
        return not self.missing

    @property
    def path(self) -> Path:
        return self.function.path

    @property
    def line(self) -> int:
        return self.function.line


def credential_support(function: DaggerFunction) -> CredentialSupport:
    """Whether ``function`` accepts ``--registry-password=env:VAR`` (a ``registry_password``
    parameter typed as a dagger.Secret, used in ``with_registry_auth``) and, optionally,
    ``--registry-username``."""
    username, password = function.parameter(USERNAME), function.parameter(PASSWORD)
    missing = []
    if password is None:
        missing.append(f"a `{PASSWORD}` parameter of type `{function.secret_type}`")
    elif not password.secret:
        missing.append(
            f"`{PASSWORD}` typed as `{function.secret_type}` (it is `{password.annotation}`; "
            "`--registry-password=env:VAR` passes a secret, not text)"
        )
    if not function.authenticates:
        missing.append("a `with_registry_auth(...)` call before it publishes")
    return CredentialSupport(function, username, password, tuple(missing))


def credentials_instructions(support: CredentialSupport, user: str, variable: str) -> str:
    """Markdown for a card's "What to do": the change that makes the function take the
    registry credentials, in the module's own names."""
    function = support.function
    secret = function.secret_type
    if function.ref is not None:
        registry = function.ref.registry.parameter
    else:
        registry = "registry" if function.parameter("registry") else '"<registry host>"'
    container = function.container or "ctr"
    lines = [
        f"`{function.object}.{function.name}` in `{function.relative}` (line {function.line}) "
        "publishes without registry credentials, so the CI's push cannot authenticate. "
        "Change the function:",
        "",
    ]
    step = 1
    new_parameters = []
    # A function that has the password already is only missing its use; the user name can
    # then be written into the call instead of growing the signature.
    if support.username is None and support.password is None:
        new_parameters.append(f'{USERNAME}: str = "{user}",')
    if support.password is None:
        new_parameters.append(f"{PASSWORD}: {secret} | None = None,")
    if new_parameters:
        lines += [
            f"{step}. Add these parameters at the end of its signature:",
            "",
            "   ```python",
            *(f"   {parameter}" for parameter in new_parameters),
            "   ```",
            "",
        ]
        step += 1
    elif support.password is not None and not support.password.secret:
        lines += [
            f"{step}. Type `{PASSWORD}` as `{secret} | None = None` (it is "
            f"`{support.password.annotation}`).",
            "",
        ]
        step += 1
    if not function.authenticates:
        with_username = support.username is not None or support.password is None
        user_argument = USERNAME if with_username else f'"{user}"'
        lines += [
            f"{step}. Before `{container}.publish(...)`, authenticate when a password is given:",
            "",
            "   ```python",
            f"   if {PASSWORD} is not None:",
            f"       {container} = {container}.with_registry_auth("
            f"{registry}, {user_argument}, {PASSWORD})",
            "   ```",
            "",
        ]
    if not function.secret_imported:
        lines += ["The file needs `import dagger` for the annotation.", ""]
    passes = f"`--registry-password=env:{variable}`"
    if support.username is not None or support.password is None:
        passes = f"`--registry-username={user}` and {passes}"
    lines.append(
        "Without a password the function publishes as before, so the change can merge on its "
        f"own; the workflow then passes {passes}."
    )
    return "\n".join(lines) + "\n"
