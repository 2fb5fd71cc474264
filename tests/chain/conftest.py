"""The shipped zot chain against the three emulators: a workspace with a mikado.toml shaped as
CHAIN_CONFIG says, the repository's own cards and actions, and an infrastructure git
repository holding zot's pre-hardening configuration and two CI workflows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from tests.chain_fixtures import Tree

WORKTREE = Path(__file__).resolve().parents[2]
BEFORE_CONFIG = WORKTREE / "tests" / "services" / "data" / "zot-config.before.json"

AUTHENTIK_TOKEN = "ak-admin-token-0123456789"
FORGEJO_TOKEN = "forgejo-pat-0123456789abcdef"
CI_API_KEY = "zak_0123456789abcdef0123456789abcdef"
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
                if path.is_file() and ".git" not in path.parts and path.name != "run.lock":
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


def write_workspace(root: Path, lab: Mapping[str, str], *, ci_api_key: bool = True) -> Tree:
    """mikado.toml (CHAIN_CONFIG's shape, every secret as env:) and the shipped cards."""
    shutil.copytree(WORKTREE / "cards", root / "cards")
    key_line = 'ci_api_key = "env:ZOT_CI_API_KEY"\n' if ci_api_key else ""
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
{key_line}live_timeout = 10

[ci]
repository_path = "infra"
skopeo_workflow = ".forgejo/workflows/build-container-nix.yaml"
dagger_workflow = ".forgejo/workflows/build-container.yaml"
"""
    )
    return Tree(root)


@pytest.fixture
def chain_lab(tmp_path: Path) -> Iterator[ChainLab]:
    with (
        AuthentikEmulator(token=AUTHENTIK_TOKEN, validate_requests=True) as authentik,
        ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPOSITORY], validate_requests=True) as forgejo,
    ):
        authentik.add_group("admins")
        # zot starts on the pre-hardening file; its port must exist before the file names it,
        # so the emulator starts first with the file written just after.
        zot = ZotEmulator(validate_requests=True)
        zot.start()
        try:
            infra = write_infra(tmp_path, zot.host)
            zot.stop()
            zot = ZotEmulator(
                config_file=infra / "zot" / "config.json", port=zot.port, validate_requests=True
            )
            zot.start()
            zot.add_api_key(CI_IDENTITY, CI_API_KEY, [CI_GROUP])
            urls = {"authentik": authentik.url, "forgejo": forgejo.url, "zot": zot.url}
            tree = write_workspace(tmp_path, urls)
            env = {
                "AUTHENTIK_TOKEN": AUTHENTIK_TOKEN,
                "FORGEJO_TOKEN": FORGEJO_TOKEN,
                "ZOT_CI_API_KEY": CI_API_KEY,
            }
            yield ChainLab(tree, infra, authentik, forgejo, zot, env)
        finally:
            zot.stop()
