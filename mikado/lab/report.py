"""What a lab run changed, told from the emulators' request logs and the infrastructure repository.

Only names are shown (of providers, applications, groups, secrets, images), never a value the
requests carried: the client secret and the CI key pass through these very requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mikado.lab import LabError
from mikado.lab.emulators import RecordedRequest
from mikado.lab.infra import git, infra_base
from mikado.lab.services import Lab
from mikado.lab.workspace import Workspace

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORGEJO_SECRET = re.compile(r"/api/v1/(repos/[^/]+/[^/]+|orgs/[^/]+)/actions/secrets/([^/]+)")
_ZOT_MANIFEST = re.compile(r"/v2/(.+)/manifests/([^/]+)")


def _succeeded(request: RecordedRequest) -> bool:
    return 200 <= request.status < 300


def _writes(requests: Iterable[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.method in _WRITES]


def _field(request: RecordedRequest, name: str) -> str | None:
    body = request.json
    if isinstance(body, dict) and isinstance(body.get(name), str | int):
        return str(body[name])
    return None


def authentik_changes(lab: Lab) -> list[str]:
    groups = {str(g["pk"]): str(g["name"]) for g in lab.authentik.stored("groups")}
    lines = []
    for request in _writes(lab.authentik.requests):
        if not _succeeded(request):
            continue
        path = request.path.removeprefix("/api/v3/")
        created = request.method == "POST"
        verb = {"POST": "created", "DELETE": "deleted"}.get(request.method, "updated")
        if path.startswith("providers/oauth2/"):
            name = _field(request, "name")
            what = f"OAuth2/OIDC provider {name!r}" if name else "OAuth2/OIDC provider"
            if created and _field(request, "client_id"):
                what += f" (client id {_field(request, 'client_id')})"
            elif request.method == "PATCH" and isinstance(request.json, dict):
                what += f": {', '.join(request.json)}"  # the field names, never the values
            lines.append(f"{verb} {what}")
        elif path.startswith("core/applications/"):
            slug = _field(request, "slug")
            lines.append(f"{verb} application {slug!r}" if slug else f"{verb} application")
        elif path.startswith("policies/bindings/"):
            group = groups.get(_field(request, "group") or "", "a group")
            if created:
                lines.append(f"bound group {group!r} to the application")
            else:
                lines.append(f"{verb} the binding of group {group!r}")
    return lines


def forgejo_changes(lab: Lab) -> list[str]:
    lines = []
    for request in _writes(lab.forgejo.requests):
        matched = _FORGEJO_SECRET.fullmatch(request.path.rstrip("/"))
        if matched is None or not _succeeded(request):
            continue
        where, name = matched.groups()
        where = where.removeprefix("repos/").replace("orgs/", "organisation ")
        if request.method == "DELETE":
            lines.append(f"deleted Actions secret {name} of {where}")
        else:
            verb = "set" if request.status == 201 else "replaced"
            lines.append(f"{verb} Actions secret {name} on {where}")
    return lines


def zot_changes(lab: Lab) -> list[str]:
    lines = []
    zot = lab.zot
    restarts = zot.starts - lab.zot_starts  # the lab's own start is not the run's
    if restarts > 0:
        config = zot.config
        now = []
        if config.openid_issuer:
            now.append(f"OpenID login via {config.openid_issuer}")
        if config.api_keys:
            now.append("API keys")
        if config.access_control is not None:
            now.append("access control")
        times = "once" if restarts == 1 else f"{restarts} times"
        lines.append(f"restarted {times}; it now has " + (", ".join(now) or "no auth"))
    if not zot.running and zot.start_error:
        lines.append(f"is down: it refused to start ({zot.start_error})")
    if zot.config_error:
        lines.append(f"refused a reload of its configuration: {zot.config_error}")
    keys = [r for r in zot.requests if r.method == "POST" and r.path == "/zot/auth/apikey"]
    for request in keys:
        if _succeeded(request):
            lines.append("created an API key for a logged-in user")
    for request in lab.zot.requests:
        matched = _ZOT_MANIFEST.fullmatch(request.path)
        if request.method != "PUT" or matched is None:
            continue
        image = f"{matched.group(1)}:{matched.group(2)}"
        if _succeeded(request):
            lines.append(f"accepted the push of {image}")
        else:
            lines.append(f"refused the push of {image} ({request.status})")
    return lines


def _deployed(lab: Lab, service: str) -> list[str]:
    return [f"deploy: {line}" for name, line in lab.deploys if name == service]


def service_changes(lab: Lab) -> list[str]:
    """A few lines per service, of what this run changed there (through its API, or through
    the lab's stand-in for a deploy command)."""
    by_service = (
        ("Authentik", [*authentik_changes(lab), *_deployed(lab, "authentik")]),
        ("Forgejo", forgejo_changes(lab)),
        ("zot", [*zot_changes(lab), *_deployed(lab, "zot")]),
    )
    if not any(changes for _, changes in by_service):
        return ["Nothing changed in the lab's services during this run."]
    lines = ["What changed in the lab's services during this run:"]
    for service, changes in by_service:
        if not changes:
            lines.append(f"  {service}: nothing")
            continue
        lines.append(f"  {service}:")
        lines.extend(f"    - {change}" for change in _counted(changes))
    return lines


def _counted(changes: list[str]) -> list[str]:
    """Repeated lines once, with how often (an action retried, a push verified twice)."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change] = counts.get(change, 0) + 1
    return [change if n == 1 else f"{change} ({n} times)" for change, n in counts.items()]


def infra_changes(workspace: Workspace) -> list[str]:
    """`git diff --stat` of the infrastructure repository since the lab created it."""
    infra = workspace.infra
    try:
        base = infra_base(infra)
        stat = git(infra, "diff", "--stat", base).rstrip()
        untracked = git(infra, "ls-files", "--others", "--exclude-standard").split()
    except LabError as error:
        return [f"The infrastructure repository cannot be read: {error}"]
    lines = [f"Infrastructure repository {infra} since the lab created it (git diff --stat):"]
    if not stat and not untracked:
        lines.append("  no change")
    lines.extend(f"  {line.strip()}" for line in stat.splitlines())
    lines.extend(f"  {name} (new, not tracked)" for name in untracked)
    lines.append(f"Full diff: git -C {infra} diff {base[:12]}")
    return lines
