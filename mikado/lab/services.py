"""The lab's running services: the three emulators of one workspace, provisioned with what an
operator brings (an Authentik admin token and `admins` group, a Forgejo repository and token,
the CI service account's API key in zot).

`open_lab` is the one entry point: it takes the workspace's lab lock, picks ports (the recorded
ones when they are free, so URLs already written into files stay valid), lays the workspace
out, starts the emulators on their state files and provisions them. Everything it does is
idempotent, so a lab killed at any moment opens again on the same objects and tokens.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mikado.engine.lock import RunLock
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.workspace import (
    ADMINS_GROUP,
    CI_GROUP,
    CI_IDENTITY,
    FORGEJO_REPOSITORY,
    LabError,
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
        values += [str(p["client_secret"]) for p in self.authentik.objects("providers")]
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
    for port in (recorded.authentik, recorded.forgejo, recorded.zot) if recorded else (0, 0, 0):
        if port in chosen or not _port_free(port):
            port = _free_port()
            while port in chosen:
                port = _free_port()
        chosen.append(port)
    return ServicePorts(*chosen)


@contextlib.contextmanager
def open_lab(
    root: Path,
    *,
    docs: Path,
    actions: Path,
    validate_requests: bool = True,
) -> Iterator[Lab]:
    """Lay out (or reuse) the workspace at `root`, run its emulators, yield the lab.

    `docs` and `actions` are copied into a new workspace; an existing one keeps its own.
    The emulators stop when the block ends; their state stays in `root/lab/`.
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
        secrets = recorded.secrets if recorded else LabSecrets.generate()
        ports = choose_ports(recorded.ports if recorded else None)
        urls = ServiceUrls(
            *(f"http://127.0.0.1:{p}" for p in (ports.authentik, ports.forgejo, ports.zot))
        )
        if recorded is not None:
            relocate(workspace, recorded.ports, ports)
        # the tokens are recorded before anything uses them, so a crash cannot orphan one
        workspace.write_state(LabState(ports=ports, secrets=secrets))
        lay_out(workspace.root, docs=docs, actions=actions, urls=urls)
        authentik = AuthentikEmulator(
            token=secrets.authentik_token,
            state_file=workspace.emulator_state("authentik"),
            port=ports.authentik,
            validate_requests=None if validate_requests else False,
        )
        forgejo = ForgejoEmulator(
            token=secrets.forgejo_token,
            repos=[FORGEJO_REPOSITORY],
            state_file=workspace.emulator_state("forgejo"),
            port=ports.forgejo,
            validate_requests=validate_requests,
        )
        zot = ZotEmulator(
            config_file=workspace.zot_config,
            state_file=workspace.emulator_state("zot"),
            port=ports.zot,
            validate_requests=validate_requests,
        )
        started: list[AuthentikEmulator | ForgejoEmulator | ZotEmulator] = []
        try:
            # zot checks its OIDC issuer when it loads a hardened configuration: Authentik first
            for emulator in (authentik, forgejo, zot):
                _start(emulator)
                started.append(emulator)
            authentik.add_group(ADMINS_GROUP)
            forgejo.add_repo(FORGEJO_REPOSITORY)
            zot.add_api_key(CI_IDENTITY, secrets.ci_api_key, [CI_GROUP])
            yield Lab(
                workspace=workspace,
                secrets=secrets,
                authentik=authentik,
                forgejo=forgejo,
                zot=zot,
                ports_moved=recorded is not None and recorded.ports != ports,
            )
        finally:
            for emulator in reversed(started):
                emulator.stop()


def _start(emulator: AuthentikEmulator | ForgejoEmulator | ZotEmulator) -> None:
    try:
        emulator.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise LabError(
                f"port {emulator.port} was taken while the {emulator.service} emulator started; "
                "run the lab again"
            ) from None
        raise LabError(f"the {emulator.service} emulator cannot start: {error}") from None
