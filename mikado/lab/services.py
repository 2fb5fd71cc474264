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
from dataclasses import dataclass
from pathlib import Path

from mikado.engine.lock import RunLock
from mikado.lab import LabError
from mikado.lab.control import ControlServer
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.emulators.releases import LabVersions
from mikado.lab.emulators.zot_config import ConfigRefused
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

    @property
    def urls(self) -> ServiceUrls:
        return ServiceUrls(self.authentik.url, self.forgejo.url, self.zot.url)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret the lab knows of: its own tokens and what the chain stored."""
        values = list(self.secrets.values())
        values += [str(p["client_secret"]) for p in self.authentik.stored("providers")]
        for name in self.forgejo.secret_names(repo=FORGEJO_REPOSITORY):
            value = self.forgejo.secret_value(name, repo=FORGEJO_REPOSITORY)
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


def choose_ports(recorded: ServicePorts | None) -> ServicePorts:
    """The recorded ports where they are free, fresh ones elsewhere (all distinct)."""
    chosen: list[int] = []
    wanted = (
        (recorded.authentik, recorded.forgejo, recorded.zot, recorded.control)
        if recorded
        else (0, 0, 0, 0)
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
        secrets = recorded.secrets if recorded else LabSecrets.generate()
        ports = choose_ports(recorded.ports if recorded else None)
        urls = ServiceUrls(
            *(f"http://127.0.0.1:{p}" for p in (ports.authentik, ports.forgejo, ports.zot))
        )
        if recorded is not None:
            relocate(workspace, recorded.ports, ports)
        # the tokens are recorded before anything uses them, so a crash cannot orphan one
        workspace.write_state(LabState(ports=ports, secrets=secrets, versions=chosen))
        lay_out(workspace.root, docs=docs, actions=actions, urls=urls)
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
            repos=[FORGEJO_REPOSITORY],
            state_file=workspace.emulator_state("forgejo"),
            port=ports.forgejo,
            validate_requests=validate_requests,
        )
        zot = ZotEmulator(
            config_file=workspace.zot_config,
            release=chosen.zot,
            state_file=workspace.emulator_state("zot"),
            port=ports.zot,
            validate_requests=validate_requests,
        )
        control = ControlServer(secrets.control_token, restarter(zot), port=ports.control)
        started: list[AuthentikEmulator | ForgejoEmulator | ZotEmulator] = []
        try:
            control.start()
            # zot contacts its OIDC issuer when it starts hardened: Authentik first
            for emulator in (authentik, forgejo, zot):
                _start(emulator)
                started.append(emulator)
            authentik.add_group(ADMINS_GROUP)
            authentik.add_user(
                CI_IDENTITY,
                email=f"{CI_IDENTITY}@lab.invalid",
                groups=[CI_GROUP],
                password=secrets.ci_password,
                service_account=True,
            )
            forgejo.add_repo(FORGEJO_REPOSITORY)
            yield Lab(
                workspace=workspace,
                secrets=secrets,
                versions=chosen,
                authentik=authentik,
                forgejo=forgejo,
                zot=zot,
                ports_moved=recorded is not None and recorded.ports != ports,
            )
        finally:
            for emulator in reversed(started):
                emulator.stop()
            control.stop()


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
