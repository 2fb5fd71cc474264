"""`mikado run GOAL --lab` and `mikado lab serve`: a workspace, its emulators, and what to say.

The chain itself runs through the normal engine (the caller passes it in as `run_chain`), on
the workspace's configuration, with the lab's secrets in the environment only while it runs.
When the run stops at the chain's manual card, the lab does that step as the operator would
(:mod:`mikado.lab.manual`), completes the card and runs the chain on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from mikado.config import ALWAYS_EXCLUDED, Config, load_config
from mikado.errors import ConfigError, ExitCode, MikadoError, UsageError
from mikado.lab.emulators.releases import LabVersions
from mikado.lab.operator import OperatorSources
from mikado.lab.report import infra_changes, service_changes
from mikado.lab.services import Lab, open_lab
from mikado.lab.workspace import (
    AUTHENTIK_TOKEN_VARIABLE,
    CI_API_KEY_VARIABLE,
    FORGEJO_TOKEN_VARIABLE,
    PROBE_REPOSITORY,
    LabSecrets,
    Workspace,
)

Echo = Callable[[str], None]
_PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]


def lab_sources(source: Config) -> tuple[Path, Path]:
    """The docs and actions a new workspace copies: the configured ones, or, when they do not
    exist (mikado started outside its checkout), those of the checkout mikado runs from."""
    if source.docs.is_dir() and source.actions.is_dir():
        return source.docs, source.actions
    docs, actions = _PACKAGE_CHECKOUT / "cards", _PACKAGE_CHECKOUT / "actions"
    if docs.is_dir() and actions.is_dir():
        return docs, actions
    return source.docs, source.actions  # lay_out names the one that is missing


@contextlib.contextmanager
def lab_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set `variables` for the duration, restoring what was there before."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workspace_root(workspace: Path | None) -> tuple[Path, bool]:
    if workspace is not None:
        return workspace.absolute(), False
    return Path(tempfile.mkdtemp(prefix="mikado-lab-")), True


def service_lines(lab: Lab) -> list[str]:
    versions = lab.versions
    lines = [
        f"  Authentik {versions.authentik:<7} {lab.authentik.url}  (API {lab.authentik.api_url}/)",
        f"  Forgejo {versions.forgejo:<9} {lab.forgejo.url}  (API {lab.forgejo.api_url}/, "
        f"repository {lab.chain.forgejo_repository})",
        f"  zot {versions.zot:<13} {lab.zot.url}  (registry {lab.zot.host})",
    ]
    emulators = (lab.authentik, lab.forgejo, lab.zot)
    if all(emulator.validates_requests for emulator in emulators):
        lines.append("  Every request is checked against the schema of the release imitated.")
    else:  # only when a caller of open_lab asked for it; the commands never do
        lines.append("  Request checks are off: requests are not held to the services' schemas.")
    if not lab.zot.running:
        lines.append(
            f"  zot is down: it refused to start ({lab.zot.start_error}). The chain restarts "
            "it; `--recheck` also repairs the files the chain wrote."
        )
    return lines


def run_in_lab(
    source: Config,
    goal: str,
    workspace: Path | None,
    *,
    dry_run: bool,
    versions: LabVersions | None,
    run_chain: Callable[[Config], int],
    echo: Echo,
    sources: OperatorSources | None = None,
) -> int:
    """Open the lab, run the chain in it with `run_chain` (doing its manual card on the way),
    then tell what changed."""
    docs, actions = lab_sources(source)
    _require_goal(goal, source, docs, workspace)
    root, temporary = _workspace_root(workspace)
    try:
        note = " (a throw-away copy for the plan)" if dry_run and temporary else ""
        echo(f"Lab workspace: {root}{note}")
        with open_lab(root, docs=docs, actions=actions, versions=versions, sources=sources) as lab:
            if lab.ports_moved:
                echo("The recorded ports were taken; the services moved and mikado.toml follows.")
            echo("Emulated services on this machine (nothing real is touched):")
            for line in service_lines(lab):
                echo(line)
            config = load_config(config_file=lab.workspace.config_file)
            with lab_environment(lab.secrets.environment()):
                code = run_chain(config)
            if dry_run:
                return code
            if code == ExitCode.MANUAL and _mint_is_ready(config, goal):
                code = _mint_and_continue(lab, config, run_chain, echo)
            echo("")
            for line in service_changes(lab):
                echo(line)
            for line in infra_changes(lab.workspace):
                echo(line)
            echo(f"Chain status: cd {root} && mikado status {goal}")
            return code
    finally:
        if dry_run and temporary:
            # a plan shown from a throw-away workspace leaves nothing behind
            shutil.rmtree(root, ignore_errors=True)


def _require_goal(goal: str, source: Config, docs: Path, workspace: Path | None) -> None:
    """Refuse a goal the lab's cards lack before anything is built: a mistyped goal must not
    leave a workspace and emulator state behind. Only the docs' names are read."""
    from mikado.tree.discover import discover
    from mikado.tree.scan import stem_of

    excluded = source.excluded() if docs == source.docs else frozenset(ALWAYS_EXCLUDED)
    if workspace is not None and Workspace(workspace.absolute()).docs.is_dir():
        # a reused workspace runs its own cards, which may have grown since they were copied
        docs, excluded = Workspace(workspace.absolute()).docs, frozenset(ALWAYS_EXCLUDED)
    try:
        stems = {stem_of(path) for path in discover(docs, excluded)}
    except ConfigError:
        return  # no docs folder: laying out the workspace names it
    if goal not in stems:
        import difflib

        close = difflib.get_close_matches(goal, sorted(stems), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise UsageError(f"no card `{goal}` under {docs}{hint}; no lab workspace was made")


def _mint_is_ready(config: Config, goal: str) -> bool:
    """Whether the run stopped at the chain's manual card, ready to be done."""
    from mikado.lab.manual import MINT_CARD
    from mikado.model.chains import Plan, State
    from mikado.tree.loader import load_docs

    try:
        chain = Plan(load_docs(config, strict_graph=True), run_live=False).chain(goal)
    except (MikadoError, KeyError):
        return False
    if not any(card.stem == MINT_CARD for card in chain.cards):
        return False
    return chain.state(MINT_CARD) in (State.READY, State.FAILED)


def _mint_and_continue(
    lab: Lab, config: Config, run_chain: Callable[[Config], int], echo: Echo
) -> int:
    from datetime import date

    from mikado.engine.by_hand import complete_by_hand
    from mikado.lab.manual import MINT_CARD, mint_ci_api_key

    echo("")
    echo(f"{MINT_CARD} is work done by hand; the lab does it as an operator would:")
    mint_ci_api_key(lab, echo)
    complete_by_hand(config, MINT_CARD, date.today())
    echo(f"  5. mikado done {MINT_CARD}")
    echo("The chain goes on:")
    state = lab.workspace.read_state()
    secrets: LabSecrets = state.secrets if state else lab.secrets
    with lab_environment(secrets.environment()):
        return run_chain(config)


def usage_lines(lab: Lab) -> list[str]:
    """How to reach the lab's services by hand; tokens by reference, never by value."""
    workspace = lab.workspace
    state = workspace.state_file
    zot = lab.zot
    read = (
        "python3 -c 'import json,sys; "
        'print(json.load(open(sys.argv[1]))["secrets"][sys.argv[2]])\''
    )
    return [
        f"Configuration: {workspace.config_file}",
        f"Tokens (not shown) are in {state}; load them into this shell with:",
        f"  export {AUTHENTIK_TOKEN_VARIABLE}=$({read} {state} authentik_token)",
        f"  export {FORGEJO_TOKEN_VARIABLE}=$({read} {state} forgejo_token)",
        f"  export {CI_API_KEY_VARIABLE}=$({read} {state} ci_api_key)   # once minted",
        "Then, for example:",
        f"  curl -s {zot.url}/v2/_catalog",
        f'  curl -s -H "Authorization: Bearer ${AUTHENTIK_TOKEN_VARIABLE}" '
        f"{lab.authentik.api_url}/providers/oauth2/",
        f'  curl -s -H "Authorization: token ${FORGEJO_TOKEN_VARIABLE}" '
        f"{lab.forgejo.api_url}/repos/{lab.chain.forgejo_repository}/actions/secrets",
        f"  skopeo inspect --tls-verify=false docker://{zot.host}/{PROBE_REPOSITORY}:<tag>",
        "  skopeo copy --dest-tls-verify=false "
        f'--dest-creds "{lab.chain.ci_identity}:${CI_API_KEY_VARIABLE}" '
        f"oci-archive:image.tar docker://{zot.host}/infra/app:v1.0.0",
        f"  cd {workspace.root} && mikado run harden-zot-registry   # the chain, with the exports",
        f"zot reloads {workspace.zot_config} when the file itself is written (access control "
        "only); switching authentication on takes a restart: "
        f"python -m mikado.lab.control restart zot --workspace {workspace.root}",
    ]


def serve_lab(
    source: Config,
    workspace: Path | None,
    *,
    versions: LabVersions | None = None,
    sources: OperatorSources | None = None,
    echo: Echo,
    stop: threading.Event | None = None,
) -> int:
    """Run the lab's emulators until Ctrl-C (or `stop` is set)."""
    root, _ = _workspace_root(workspace)
    docs, actions = lab_sources(source)
    stop = stop or threading.Event()
    with open_lab(root, docs=docs, actions=actions, versions=versions, sources=sources) as lab:
        echo(f"Lab workspace: {root}")
        echo("Emulated services (Ctrl-C stops them; their state stays in the workspace):")
        for line in service_lines(lab):
            echo(line)
        for line in usage_lines(lab):
            echo(line)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            echo("Stopping the lab services.")
    return 0
