"""The lab's running services: the three emulators of one workspace, each imitating the
release the workspace records, provisioned with only what an operator brings beforehand: an
Authentik superuser's API token, the `admins` group, the CI service account `ci-bot` with a
password in the group `artifact-workloads`, and a Forgejo repository with a token. zot starts
empty and unauthenticated; the CI account's API key comes later, from its own login.

`open_lab` is the one entry point: it takes the workspace's lab lock, picks ports (the recorded
ones when they are free, so URLs already written into files stay valid), lays the workspace
out, starts the emulators on their state files and provisions them. Everything it does is
idempotent, so a lab killed at any moment opens again on the same objects and tokens.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from mikado.config import load_config
from mikado.engine.lock import RunLock
from mikado.errors import ConfigError
from mikado.lab import LabError
from mikado.lab.control import ControlServer, Handler
from mikado.lab.deploy import LabDeployer
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.emulators.releases import LabVersions
from mikado.lab.emulators.zot_config import ConfigRefused
from mikado.lab.operator import OperatorSources
from mikado.lab.workspace import (
    ADMINS_GROUP,
    CI_GROUP,
    CI_IDENTITY,
    FORGEJO_REPOSITORY,
    LabSecrets,
    LabState,
    ServicePorts,
    ServiceUrls,
    Workspace,
    lay_out,
    relocate,
)


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What the lab reads from the workspace's configuration: who to provision and how each
    service takes the chain's changes."""

    ci_identity: str = CI_IDENTITY
    ci_group: str = CI_GROUP
    admins_group: str = ADMINS_GROUP
    forgejo_repository: str = FORGEJO_REPOSITORY
    zot_config: Path | None = None  # the file zot starts from
    repo_mode: tuple[str, ...] = ()  # the services whose changes are deployed from the repo


def chain_facts(workspace: Workspace) -> ChainFacts:
    settings = load_config(config_file=workspace.config_file).settings
    zot, forgejo = settings.get("zot", {}), settings.get("forgejo", {})
    repo_mode = tuple(
        name
        for name in ("authentik", "zot", "forgejo")
        if settings.get(name, {}).get("mode") == "repo"
    )
    if "zot" in repo_mode:
        zot_config = workspace.lab_dir / "zot-host" / "config.json"
    else:
        zot_config = workspace.root / str(zot.get("config_file", "infra/zot/config.json"))
    return ChainFacts(
        ci_identity=str(zot.get("ci_identity", CI_IDENTITY)),
        ci_group=str(zot.get("ci_group", CI_GROUP)),
        admins_group=str(zot.get("admins_group", ADMINS_GROUP)),
        forgejo_repository=str(forgejo.get("repository", FORGEJO_REPOSITORY)),
        zot_config=zot_config,
        repo_mode=repo_mode,
    )


@dataclass(frozen=True)
class Lab:
    """A workspace with its emulators running."""

    workspace: Workspace
    secrets: LabSecrets
    versions: LabVersions
    authentik: AuthentikEmulator
    forgejo: ForgejoEmulator
    zot: ZotEmulator
    ports_moved: bool  # the recorded ports were taken; the configuration was rewritten
    chain: ChainFacts = field(default_factory=lambda: ChainFacts())
    deploys: list[tuple[str, str]] = field(default_factory=list)  # what the lab's deploys did
    zot_starts: int = 1  # zot's starts when the lab was set up: later ones are the run's

    @property
    def urls(self) -> ServiceUrls:
        return ServiceUrls(self.authentik.url, self.forgejo.url, self.zot.url)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret the lab knows of: its own tokens and what the chain stored."""
        values = list(self.secrets.values())
        values += [str(p["client_secret"]) for p in self.authentik.stored("providers")]
        repository = self.chain.forgejo_repository
        for name in self.forgejo.secret_names(repo=repository):
            value = self.forgejo.secret_value(name, repo=repository)
            if value:
                values.append(value)
        return tuple(v for v in values if v)


def _port_free(port: int) -> bool:
    if port <= 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the emulators' server does, so a port with connections in TIME_WAIT counts as free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The highest TCP port; 0 asks for any free one.
MAX_PORT = 65535


def choose_ports(recorded: ServicePorts | None) -> ServicePorts:
    """The recorded ports where they are free, fresh ones elsewhere (all distinct). A recorded
    port no TCP port can be (lab/lab.json edited or damaged) is a :class:`ConfigError`: binding
    it would raise an OverflowError, and quietly moving the service would hide the damage."""
    chosen: list[int] = []
    wanted = (
        (recorded.authentik, recorded.forgejo, recorded.zot, recorded.control)
        if recorded
        else (0, 0, 0, 0)
    )
    for service, port in zip(("authentik", "forgejo", "zot", "control"), wanted, strict=True):
        if not 0 <= port <= MAX_PORT:
            raise ConfigError(
                f"the lab state (lab/lab.json) gives the {service} port as {port}, which no TCP "
                f"port can be (0 to {MAX_PORT}, 0 for any free one); correct it, or use a new "
                "workspace"
            )
    for port in wanted:
        if port in chosen or not _port_free(port):
            port = _free_port()
            while port in chosen:
                port = _free_port()
        chosen.append(port)
    return ServicePorts(*chosen)


def _check_versions(recorded: LabVersions | None, asked: LabVersions | None) -> LabVersions:
    if recorded is None:
        return asked or LabVersions()
    if asked is not None and asked != recorded:
        raise LabError(
            f"this workspace imitates {recorded}; its services' state is of those releases. "
            "Use a new workspace for other releases, or leave out --lab-versions"
        )
    return recorded


@contextlib.contextmanager
def open_lab(
    root: Path,
    *,
    docs: Path,
    actions: Path,
    versions: LabVersions | None = None,
    sources: OperatorSources | None = None,
    validate_requests: bool = True,
) -> Iterator[Lab]:
    """Lay out (or reuse) the workspace at `root`, run its emulators, yield the lab.

    `docs` and `actions` are copied into a new workspace; an existing one keeps its own, and
    its releases (`versions` must be the same or None). The emulators stop when the block
    ends; their state stays in `root/lab/`.
    """
    workspace = Workspace(root.absolute())
    if not workspace.state_file.exists() and root.is_dir() and any(root.iterdir()):
        raise LabError(
            f"{workspace.root} is not a lab workspace (it has no lab/lab.json) and is not "
            "empty; name a new or empty folder"
        )
    workspace.lab_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(workspace.lab_dir):
        recorded = workspace.read_state()
        chosen = _check_versions(recorded.versions if recorded else None, versions)
        sources = _check_sources(recorded, sources)
        secrets = recorded.secrets if recorded else LabSecrets.generate()
        if secrets.oidc_client_secret is None:  # a workspace from before repo mode
            secrets = replace(secrets, oidc_client_secret=LabSecrets.generate().oidc_client_secret)
        ports = choose_ports(recorded.ports if recorded else None)
        urls = ServiceUrls(
            *(f"http://127.0.0.1:{p}" for p in (ports.authentik, ports.forgejo, ports.zot))
        )
        if recorded is not None:
            relocate(workspace, recorded.ports, ports)
        # the tokens are recorded before anything uses them, so a crash cannot orphan one
        workspace.write_state(
            LabState(ports=ports, secrets=secrets, versions=chosen, sources=sources)
        )
        lay_out(
            workspace.root,
            docs=docs,
            actions=actions,
            urls=urls,
            sources=sources,
            versions=chosen,
        )
        chain = chain_facts(workspace)
        authentik = AuthentikEmulator(
            token=secrets.authentik_token,
            release=chosen.authentik,
            state_file=workspace.emulator_state("authentik"),
            port=ports.authentik,
            validate_requests=validate_requests,
        )
        forgejo = ForgejoEmulator(
            token=secrets.forgejo_token,
            release=chosen.forgejo,
            repos=[chain.forgejo_repository],
            state_file=workspace.emulator_state("forgejo"),
            port=ports.forgejo,
            validate_requests=validate_requests,
        )
        zot = ZotEmulator(
            config_file=chain.zot_config,
            release=chosen.zot,
            state_file=workspace.emulator_state("zot"),
            port=ports.zot,
            validate_requests=validate_requests,
        )
        deployer = LabDeployer(workspace, secrets, authentik, forgejo, zot)
        handlers: dict[str, Handler] = {"restart": restarter(zot), "deploy": deployer}
        control = ControlServer(secrets.control_token, handlers, port=ports.control)
        started: list[AuthentikEmulator | ForgejoEmulator | ZotEmulator] = []
        try:
            control.start()
            for service in (authentik, forgejo):
                _start(service)
                started.append(service)
            _bring_live(workspace, deployer, chain)
            # zot contacts its OIDC issuer when it starts hardened: Authentik first
            _start(zot)
            started.append(zot)
            authentik.add_group(chain.admins_group)
            authentik.add_user(
                chain.ci_identity,
                email=f"{chain.ci_identity}@lab.invalid",
                groups=[chain.ci_group],
                password=secrets.ci_password,
                service_account=True,
            )
            forgejo.add_repo(chain.forgejo_repository)
            # What the lab set up is what an operator brings, not a change of the run's.
            for emulator in (authentik, forgejo, zot):
                emulator.requests.clear()
            deployer.log.clear()
            yield Lab(
                workspace=workspace,
                secrets=secrets,
                versions=chosen,
                authentik=authentik,
                forgejo=forgejo,
                zot=zot,
                ports_moved=recorded is not None and recorded.ports != ports,
                chain=chain,
                deploys=deployer.log,
                zot_starts=zot.starts,
            )
        finally:
            for emulator in reversed(started):
                emulator.stop()
            control.stop()


def _bring_live(workspace: Workspace, deployer: LabDeployer, chain: ChainFacts) -> None:
    """The first time, deploy what the repository holds for each repo-mode service: the
    services an operator brings already run what their repository says."""
    marker = workspace.lab_dir / "deployed-from-repository"
    if not chain.repo_mode or marker.exists():
        return
    for service in ("authentik", "forgejo", "zot"):  # Authentik first: zot asks its issuer
        if service in chain.repo_mode:
            refusal = deployer(service)
            if refusal is not None:
                raise LabError(f"the repository's {service} does not deploy in the lab: {refusal}")
    marker.write_text("the repository's state was deployed when the lab was set up\n")


def _check_sources(
    recorded: LabState | None, asked: OperatorSources | None
) -> OperatorSources | None:
    """The sources of a new workspace; an existing one keeps its own (asking for others is an
    error, asking for none reuses them)."""
    if recorded is None:
        return asked
    if asked is None or asked == recorded.sources:
        return recorded.sources
    was = recorded.sources.infra if recorded.sources else "the lab's own repository"
    raise LabError(
        f"this workspace was laid out from {was}; use a new workspace for another repository "
        "or configuration, or leave out --infra/--config"
    )


def restarter(zot: ZotEmulator) -> Callable[[str], str | None]:
    """What the lab's control endpoint does to restart zot: None once it runs, else why not."""

    def restart(service: str) -> str | None:
        try:
            zot.restart()
        except ConfigRefused as refusal:
            return str(refusal)
        except OSError as error:
            return f"cannot listen on port {zot.port}: {error}"
        return None

    return restart


def _start(emulator: AuthentikEmulator | ForgejoEmulator | ZotEmulator) -> None:
    try:
        emulator.start()
    except ConfigRefused as refusal:
        # A zot that does not start stays down, as the real one would; the chain (its
        # restart) or the operator brings it back. Only the lab's own services must run.
        if isinstance(emulator, ZotEmulator):
            return
        raise LabError(f"the {emulator.service} emulator cannot start: {refusal}") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise LabError(
                f"port {emulator.port} was taken while the {emulator.service} emulator started; "
                "run the lab again"
            ) from None
        raise LabError(f"the {emulator.service} emulator cannot start: {error}") from None
