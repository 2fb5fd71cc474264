"""switch-on-zot-auth in repo mode: the hardening written into zot's configuration template
(JSON with Jinja inside, an Ansible role's `config.json.j2`) and, when the operator asks for
it, into the role's variables, then brought live by [zot] deploy_command (which renders the
template on the zot host and restarts zot).

The template is edited in place: only the members that must change are written, at the
deepest object that already exists, so every `{{ … }}`, `{% … %}` and comment survives. What
it will render to is checked before anything is written: rendered with its variable files (as
Ansible renders it), it must hold the hardening and be a configuration the zot release found
accepts at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _repo
import _zot_chain as chain

from mikado.edit.ansible_vars import Variables, parse_var_file, set_scalar
from mikado.edit.jinja_json import render, render_json, set_member
from mikado.errors import ConfigError
from mikado.services import zot_config
from mikado.services.zot_release import ZotRelease

PROBE_SECRET = "mikado-probe-not-a-secret"


@dataclass(frozen=True, slots=True)
class Edit:
    path: Path
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Planned:
    edits: tuple[Edit, ...]  # the template and the variable file, where they change
    rendered: dict[str, Any]  # what the template renders to after the edits

    @property
    def changes(self) -> bool:
        return any(edit.before != edit.after for edit in self.edits)


def _read(path: Path, what: str) -> str:
    return chain.read_text(path, what)


def _variables(repo: _repo.ZotRepo, texts: Mapping[Path, str]) -> Variables:
    """The template's variables, each variable file as ``texts`` holds it."""
    return Variables([parse_var_file(texts[path], path=str(path)) for path in repo.template_vars])


def rendered(ctx: Any) -> dict[str, Any]:
    """What zot's configuration template renders to now."""
    repo = _repo.zot_repo(ctx)
    texts = {path: _read(path, "template variable file") for path in repo.template_vars}
    text = _read(repo.config_template, "zot configuration template")
    return _render(repo, text, texts)


def _render(repo: _repo.ZotRepo, template: str, texts: Mapping[Path, str]) -> dict[str, Any]:
    document = render_json(template, _variables(repo, texts), path=str(repo.config_template))
    if not isinstance(document, dict):
        raise ConfigError("does not render to a JSON object", path=str(repo.config_template))
    return document


def _templated(value: Any, spelled: Mapping[str, str]) -> Any:
    """``value`` with each string the operator wants written as a template expression
    replaced by that expression (the rendered issuer by ``{{ zot_oidc_issuer }}``, say)."""
    if isinstance(value, str):
        return spelled.get(value, value)
    if isinstance(value, list):
        return [_templated(item, spelled) for item in value]
    if isinstance(value, dict):
        return {key: _templated(item, spelled) for key, item in value.items()}
    return value


def _write_members(
    template: str,
    at: tuple[str, ...],
    wanted: Mapping[str, Any],
    current: Mapping[str, Any],
    spelled: Mapping[str, str],
    path: str,
) -> str:
    """Set each member of ``wanted`` that differs from ``current`` at the deepest object the
    template already has, so what it holds besides (and its Jinja) stays as written."""
    for key, value in wanted.items():
        now = current.get(key)
        if now == value:
            continue
        if isinstance(value, dict) and isinstance(now, dict):
            template = _write_members(template, (*at, key), value, now, spelled, path)
            gone = [k for k in now if k not in value]
            if gone:
                raise ConfigError(
                    f"{'.'.join((*at, key))} holds {', '.join(gone)}, which this zot release "
                    "refuses; remove it from the template",
                    path=path,
                )
        else:
            template = set_member(template, at, key, _templated(value, spelled), path=path)
    return template


def plan(ctx: Any, release: ZotRelease) -> Planned:
    """The template (and variable file) as the card wants them, checked (read-only)."""
    zot = chain.zot_settings(ctx)
    repo = _repo.zot_repo(ctx)
    settings = chain.authentik_settings(ctx)
    template = _read(repo.config_template, "zot configuration template")
    texts = {path: _read(path, "template variable file") for path in repo.template_vars}
    new_texts = dict(texts)
    spelled: dict[str, str] = {}
    for variable, value in (
        (repo.external_url_variable, zot.external_url),
        (repo.issuer_variable, settings.issuer),
    ):
        if variable is None:
            continue
        if not repo.template_vars:
            raise ConfigError(
                f"[zot] {variable!r} is to be a template variable, but [zot] template_vars "
                "names no variable file to keep it in"
            )
        first = repo.template_vars[0]
        new_texts[first] = set_scalar(new_texts[first], variable, value, path=str(first))
        spelled[value] = "{{ " + variable + " }}"
    current = _render(repo, template, texts)
    variables = _variables(repo, new_texts)
    credentials_file = render(zot.credentials_path, variables, path="[zot] credentials_path")
    spelled[credentials_file] = zot.credentials_path
    hardening = zot_config.hardening_for(
        release,
        external_url=zot.external_url,
        issuer=settings.issuer,
        credentials_file=credentials_file,
        policy=ctx.outputs.read(chain.ENFORCE, "access_control"),
    )
    wanted = zot_config.merge_hardening(current, hardening)
    found = current.get("http")
    http_now: dict[str, Any] = found if isinstance(found, dict) else {}
    members = wanted["http"]
    new_template = _write_members(
        template, ("http",), members, http_now, spelled, str(repo.config_template)
    )
    after = _render(repo, new_template, new_texts)
    if after != wanted:
        raise ConfigError(
            "the edited template does not render to the hardened configuration; edit it by "
            "hand (rendered: " + json.dumps(after.get("http", {}))[:300] + ")",
            path=str(repo.config_template),
        )
    zot_config.validate(after, source=f"{repo.config_template} (rendered)", release=release.version)
    edits = [Edit(repo.config_template, template, new_template)]
    edits += [Edit(path, texts[path], new_texts[path]) for path in repo.template_vars]
    return Planned(tuple(edits), after)


def credentials_problem(ctx: Any) -> str | None:
    """Why zot's credentials template would not give zot this client (None when it would)."""
    repo = _repo.zot_repo(ctx)
    if repo.credentials_template is None:
        return None
    assert repo.client_credential_variable is not None
    client_id = chain.authentik_settings(ctx).client_id
    variables = Variables.load(
        *repo.template_vars, extra={repo.client_credential_variable: PROBE_SECRET}
    )
    path = repo.credentials_template
    document = render_json(_read(path, "OIDC credentials template"), variables, path=str(path))
    wanted = {"clientid": client_id, "clientsecret": PROBE_SECRET}
    if document != wanted:
        return (
            f"{path} renders to keys {sorted(document) if isinstance(document, dict) else '?'}; "
            f"zot wants exactly clientid ({client_id!r}) and clientsecret (from "
            f"{repo.client_credential_variable})"
        )
    return None
