"""The shipped zot chain against the three emulators: a workspace with a mikado.toml shaped as
docs/lab.md shows, the repository's own cards and actions, and an infrastructure git
repository holding zot's pre-hardening configuration and two CI workflows. What an operator
brings is provisioned: an Authentik superuser's token, the `admins` group, the CI service
account with a password in its group, a Forgejo repository and token, and a way to restart
zot (the lab's control endpoint, reached by `python -m mikado.lab.control`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mikado.lab.control import ControlServer
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.manual import mint_api_key
from mikado.lab.services import restarter
from tests.chain_fixtures import Tree, disposable

WORKTREE = Path(__file__).resolve().parents[2]
BEFORE_CONFIG = WORKTREE / "tests" / "services" / "data" / "zot-config.before.json"

AUTHENTIK_TOKEN = "ak-admin-token-0123456789"
FORGEJO_TOKEN = "forgejo-pat-0123456789abcdef"
CI_PASSWORD = "ci-bot-password-4711"
CONTROL_TOKEN = "lab-control-token-0815"
CI_IDENTITY = "ci-bot"
CI_GROUP = "artifact-workloads"
REPOSITORY = "ops/infra"

SKOPEO_WORKFLOW = """\
# Build container images with Nix and push them to the registry.
# Runs on version tags and by hand.
name: Build container (nix)

on:
  push:
    tags:
      - "v*"
  workflow_dispatch: {}

jobs:
  build:
    runs-on: nix  # the runner that has a Nix store
    steps:
      - uses: actions/checkout@v4
      # Build the image as a docker archive
      - name: Build image
        run: nix build .#container -o result
      - name: Push image
        run: |
          # the tag is the git tag that triggered the run
          TAG="${GITHUB_REF_NAME}"
          skopeo copy docker-archive:result \\
            docker://HOST/blumeops/app:${TAG}
"""

DAGGER_WORKFLOW = """\
# Publish images built by the Dagger pipeline.
name: Build container

on:
  push:
    tags: ['v*']

jobs:
  publish:
    runs-on: docker
    steps:
    - uses: actions/checkout@v4
    - name: Publish with Dagger
      # dagger reads the registry address from its arguments
      run: dagger call publish --registry HOST --image blumeops/web --tag "${{ github.ref_name }}"
"""


@dataclass
class ChainLab:
    """Emulators, the workspace tree and the environment a run needs."""

    tree: Tree
    infra: Path
    authentik: AuthentikEmulator
    forgejo: ForgejoEmulator
    zot: ZotEmulator
    env: dict[str, str] = field(default_factory=dict)
    sentinel_key: str | None = None  # the CI key the secret tests recognise, when set

    def mint(self, key: str | None = None) -> str:
        """The manual card, done as an operator does it: the CI account's first login and its
        API key, handed to mikado through the environment, then `mikado done`. A ``key``
        given is taken as the one zot issued instead (a recognisable value for the secret
        tests); zot knows it as the CI account's."""
        if key is None:
            key = mint_api_key(self.zot.url, CI_IDENTITY, CI_PASSWORD)
        else:
            self.zot.add_api_key(CI_IDENTITY, key, [CI_GROUP])
        self.env["ZOT_CI_API_KEY"] = key
        done = self.tree.mikado("done", "mint-zot-ci-api-key")
        assert done.returncode == 0, done.stderr
        return key

    @property
    def config_file(self) -> Path:
        return self.infra / "zot" / "config.json"

    @property
    def credentials_file(self) -> Path:
        return self.infra / "zot" / "oidc-credentials.json"

    @property
    def workflows(self) -> tuple[Path, Path]:
        folder = self.infra / ".forgejo" / "workflows"
        return folder / "build-container-nix.yaml", folder / "build-container.yaml"

    def run(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.tree.mikado(
            "run", "harden-zot-registry", *args, env={**self.env, **(env or {})}, timeout=90
        )

    def files(self) -> dict[str, bytes]:
        """Every file of the infrastructure repository and the cards, by path."""
        found = {}
        for root in (self.infra, self.tree.docs, self.tree.runtime):
            for path in sorted(root.rglob("*")):
                if path.is_file() and ".git" not in path.parts and not disposable(path):
                    if path.name == "journal.jsonl":
                        continue  # every run appends to the journal
                    found[str(path)] = path.read_bytes()
        return found

    def clear_requests(self) -> None:
        for emulator in (self.authentik, self.forgejo, self.zot):
            emulator.requests.clear()

    def writes(self) -> list[str]:
        return [
            f"{emulator.service} {request.method} {request.path}"
            for emulator in (self.authentik, self.forgejo, self.zot)
            for request in emulator.requests
            if request.method in ("POST", "PUT", "PATCH", "DELETE")
        ]


def write_infra(root: Path, registry_host: str) -> Path:
    """An infrastructure git repository as CHAIN_CONFIG describes it."""
    infra = root / "infra"
    (infra / "zot").mkdir(parents=True)
    config = json.loads(BEFORE_CONFIG.read_text())
    config["storage"]["rootDirectory"] = str(root / "zot-storage")
    (infra / "zot" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    workflows = infra / ".forgejo" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "build-container-nix.yaml").write_text(
        SKOPEO_WORKFLOW.replace("HOST", registry_host)
    )
    (workflows / "build-container.yaml").write_text(DAGGER_WORKFLOW.replace("HOST", registry_host))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(infra)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "before hardening"], check=True)
    return infra


def write_workspace(root: Path, lab: Mapping[str, str]) -> Tree:
    """mikado.toml (the shape docs/lab.md shows, every secret as env:) and the shipped cards."""
    shutil.copytree(WORKTREE / "cards", root / "cards")
    restart = json.dumps(
        [sys.executable, "-m", "mikado.lab.control", "restart", "zot", "--workspace", str(root)]
    )
    (root / "mikado.toml").write_text(
        f"""\
[mikado]
docs = "cards"
actions = "{WORKTREE / "actions"}"
timeout = 60

[authentik]
url = "{lab["authentik"]}"
token = "env:AUTHENTIK_TOKEN"

[forgejo]
url = "{lab["forgejo"]}"
token = "env:FORGEJO_TOKEN"
repository = "{REPOSITORY}"

[zot]
url = "{lab["zot"]}"
config_file = "infra/zot/config.json"
credentials_file = "infra/zot/oidc-credentials.json"
ci_identity = "{CI_IDENTITY}"
ci_group = "{CI_GROUP}"
restart_command = {restart}
live_timeout = 10

[ci]
repository_path = "infra"
skopeo_workflow = ".forgejo/workflows/build-container-nix.yaml"
dagger_workflow = ".forgejo/workflows/build-container.yaml"

[ci_credentials]
api_key = "env:ZOT_CI_API_KEY"
"""
    )
    return Tree(root)


def control_state(root: Path, port: int) -> None:
    """What `python -m mikado.lab.control` reads to reach the test's restart endpoint."""
    (root / "lab").mkdir(exist_ok=True)
    state = {"ports": {"control": port}, "secrets": {"control_token": CONTROL_TOKEN}}
    (root / "lab" / "lab.json").write_text(json.dumps(state))


@contextlib.contextmanager
def chain_lab_in(
    root: Path,
    *,
    authentik_token: str = AUTHENTIK_TOKEN,
    forgejo_token: str = FORGEJO_TOKEN,
    validate_requests: bool = True,
) -> Iterator[ChainLab]:
    """The emulators as an operator's services are before the chain (see the module's
    docstring), an infrastructure repository and a workspace under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    with (
        AuthentikEmulator(token=authentik_token, validate_requests=validate_requests) as authentik,
        ForgejoEmulator(
            token=forgejo_token, repos=[REPOSITORY], validate_requests=validate_requests
        ) as forgejo,
    ):
        authentik.add_group("admins")
        authentik.add_user(
            CI_IDENTITY, groups=[CI_GROUP], password=CI_PASSWORD, service_account=True
        )
        # zot starts on the pre-hardening file; its port must exist before the file names it,
        # so the emulator starts first with the file written just after.
        zot = ZotEmulator(validate_requests=validate_requests)
        zot.start()
        infra = write_infra(root, zot.host)
        zot.stop()
        zot = ZotEmulator(
            config_file=infra / "zot" / "config.json",
            port=zot.port,
            validate_requests=validate_requests,
        )
        control = ControlServer(CONTROL_TOKEN, {"restart": restarter(zot)})
        control.start()
        zot.start()
        try:
            control_state(root, control.port)
            urls = {"authentik": authentik.url, "forgejo": forgejo.url, "zot": zot.url}
            tree = write_workspace(root, urls)
            env = {"AUTHENTIK_TOKEN": authentik_token, "FORGEJO_TOKEN": forgejo_token}
            yield ChainLab(tree, infra, authentik, forgejo, zot, env)
        finally:
            zot.stop()
            control.stop()


@pytest.fixture
def chain_lab(tmp_path: Path) -> Iterator[ChainLab]:
    with chain_lab_in(tmp_path) as lab:
        yield lab
