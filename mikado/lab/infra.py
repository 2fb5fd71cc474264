"""The infrastructure repository a lab run works on, as an operator would bring it: zot's
configuration before hardening and two Forgejo workflows that push images (one with skopeo,
one with Dagger), committed once in a git repository of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from mikado.lab import LabError

ZOT_CONFIG = "zot/config.json"
CREDENTIALS_FILE = "zot/oidc-credentials.json"
SKOPEO_WORKFLOW = ".forgejo/workflows/build-container-nix.yaml"
DAGGER_WORKFLOW = ".forgejo/workflows/build-container.yaml"


def zot_config_before(*, port: int) -> dict[str, object]:
    """A zot configuration as it runs before hardening: no authentication, anyone may push."""
    return {
        "distSpecVersion": "1.1.0",
        "storage": {
            "rootDirectory": "/var/lib/zot",
            "gc": True,
            "gcDelay": "1h",
            "gcInterval": "24h",
        },
        "http": {"address": "0.0.0.0", "port": str(port)},
        "log": {"level": "info"},
        "extensions": {
            "metrics": {"enable": True, "prometheus": {"path": "/metrics"}},
            "sync": {
                "enable": True,
                "registries": [
                    {
                        "urls": ["https://registry-1.docker.io"],
                        "content": [{"prefix": "library/**", "destination": "/docker.io"}],
                        "onDemand": True,
                        "tlsVerify": True,
                    },
                    {
                        "urls": ["https://ghcr.io"],
                        "content": [{"prefix": "**", "destination": "/ghcr.io"}],
                        "onDemand": True,
                        "tlsVerify": True,
                    },
                ],
            },
            "search": {"enable": True, "cve": {"updateInterval": "24h"}},
            "ui": {"enable": True},
        },
    }


def skopeo_workflow(registry_host: str) -> str:
    return f"""\
# Builds the application image with Nix and publishes it to the registry.
# Pushes to main publish the commit; a version tag (v1.2.3) publishes that version.
name: build-container-nix

on:
  push:
    branches: [main]
    tags: ["v*"]

jobs:
  build-and-push:
    runs-on: nix
    steps:
      - name: Check out the repository
        uses: actions/checkout@v4

      # The image is a docker archive built reproducibly from flake.nix.
      - name: Build the image
        run: |
          nix build .#container --out-link result
          ls -l result

      # Version tags publish the version; every other push publishes the commit SHA.
      - name: Push the image
        run: |
          if [ "${{{{ github.ref_type }}}}" = "tag" ]; then
            tag="${{{{ github.ref_name }}}}"
          else
            tag="${{{{ github.sha }}}}"
          fi
          skopeo copy \\
            docker-archive:result \\
            "docker://{registry_host}/infra/app:${{tag}}"
"""


def dagger_workflow(registry_host: str) -> str:
    return f"""\
# Builds and publishes the API image through the Dagger pipeline in ./ci.
name: build-container

on:
  push:
    branches: [main]
    tags: ["v*"]

jobs:
  publish:
    runs-on: docker
    steps:
      - name: Check out the repository
        uses: actions/checkout@v4

      - name: Install the Dagger CLI
        run: |
          curl -fsSL https://dl.dagger.io/dagger/install.sh | BIN_DIR=/usr/local/bin sh
          dagger version

      # The pipeline builds the image and pushes it; the tag follows the same rule as the
      # Nix workflow: a version tag, or the commit SHA.
      - name: Publish the image
        run: |
          if [ "${{{{ github.ref_type }}}}" = "tag" ]; then
            tag="${{{{ github.ref_name }}}}"
          else
            tag="${{{{ github.sha }}}}"
          fi
          dagger call publish --registry {registry_host} --image infra/api --tag "${{tag}}"
"""


def infra_files(registry_host: str) -> Mapping[str, str]:
    """The infrastructure repository's files by path, as an operator would have them."""
    port = int(registry_host.rsplit(":", 1)[1]) if ":" in registry_host else 5000
    return {
        ZOT_CONFIG: json.dumps(zot_config_before(port=port), indent=2) + "\n",
        SKOPEO_WORKFLOW: skopeo_workflow(registry_host),
        DAGGER_WORKFLOW: dagger_workflow(registry_host),
        # zot's OIDC client secret lives beside its configuration and must never be committed.
        ".gitignore": f"/{CREDENTIALS_FILE}\n",
    }


_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mikado lab",
    "GIT_AUTHOR_EMAIL": "lab@mikado.invalid",
    "GIT_COMMITTER_NAME": "mikado lab",
    "GIT_COMMITTER_EMAIL": "lab@mikado.invalid",
}


def git(repository: Path, *args: str) -> str:
    """Run git in `repository` without the user's configuration getting in the way."""
    environment = {
        **os.environ,
        **_GIT_IDENTITY,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    try:
        done = subprocess.run(
            ["git", "-C", str(repository), *args],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
    except FileNotFoundError:
        raise LabError("git is not installed; the lab needs it for its repository") from None
    if done.returncode != 0:
        raise LabError(f"git {' '.join(args)} failed: {done.stderr.strip()}", path=str(repository))
    return done.stdout


def create_infra_repository(infra: Path, *, registry_host: str) -> str:
    """Create the infrastructure repository with its files in one commit; returns the commit.

    Built in a side folder and renamed into place, so an interrupted creation leaves no
    half repository that a later run would take for a finished one.
    """
    partial = infra.with_name(f".{infra.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for relative, text in infra_files(registry_host).items():
        path = partial / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(partial, "init", "--quiet", "--initial-branch=main")
    git(partial, "add", "--all")
    git(partial, "commit", "--quiet", "-m", "zot registry and CI image builds")
    commit = git(partial, "rev-parse", "HEAD").strip()
    os.replace(partial, infra)
    return commit


def infra_base(infra: Path) -> str:
    """The infrastructure repository's first commit: what a lab run's changes are shown against."""
    return git(infra, "rev-list", "--max-parents=0", "HEAD").split()[0]
