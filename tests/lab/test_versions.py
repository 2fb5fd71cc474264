"""The whole chain in the lab against each combination of releases that matters: the oldest of
each, and every zot release (the chain's output differs most there) with each Authentik and
Forgejo behaviour its cards depend on. The newest of each is test_lab_run.py's main job.

Each lab run is the README's main job with --lab-versions, in a subprocess; a second run must
change nothing on any service (the lab counts every write the emulators receive).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mikado.services.zot_config import validate

REPO = Path(__file__).resolve().parents[2]
GOAL = "harden-zot-registry"

MATRIX = [
    "authentik=2025.2,zot=2.1.10,forgejo=11",  # the oldest of each
    "authentik=2026.8,zot=2.1.10,forgejo=16",  # zot names users by email; Authentik's newest
    "authentik=2025.2,zot=2.1.17,forgejo=16",  # claimMapping, metrics for users [""]
    "authentik=2025.2,zot=2.1.20,forgejo=11",  # metrics.anonymousPolicy, without grant_types
    "authentik=2026.8,zot=2.1.17,forgejo=11",
]


def lab(workspace: Path, versions: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mikado", "run", GOAL, "--lab", "--lab-versions", versions]
    return subprocess.run(
        [*command, "--workspace", str(workspace)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("versions", MATRIX)
def test_the_chain_completes_on_these_releases_and_a_second_run_changes_nothing(
    tmp_path: Path, versions: str
) -> None:
    releases = dict(part.split("=") for part in versions.split(","))
    zot = tuple(int(n) for n in releases["zot"].split("."))
    workspace = tmp_path / "ws"
    first = lab(workspace, versions)
    assert first.returncode == 0, first.stdout + first.stderr
    for service, name in (("authentik", "Authentik"), ("zot", "zot"), ("forgejo", "Forgejo")):
        assert f"{name} {releases[service]} " in first.stdout
    assert "mint-zot-ci-api-key is done by hand" in first.stdout
    assert "accepted the push of mikado/probe:" in first.stdout

    config = json.loads((workspace / "infra/zot/config.json").read_text(encoding="utf-8"))
    validate(config, release=zot)  # what this zot release accepts at start-up
    oidc = config["http"]["auth"]["openid"]["providers"]["oidc"]
    assert ("claimMapping" in oidc) is (zot >= (2, 1, 11))
    metrics = config["http"]["accessControl"]["metrics"]
    assert metrics == ({"anonymousPolicy": ["read"]} if zot >= (2, 1, 18) else {"users": [""]})
    outputs = json.loads((workspace / ".mikado/outputs.json").read_text(encoding="utf-8"))
    identity = outputs["switch-on-zot-auth"]["ci_identity"]
    assert identity == ("ci-bot" if zot >= (2, 1, 11) else "ci-bot@lab.invalid")
    nix = (workspace / "infra/.forgejo/workflows/build-container-nix.yaml").read_text()
    assert f'--dest-creds "{identity}:${{ZOT_CI_API_KEY}}"' in nix

    again = lab(workspace, versions)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing changed in the lab's services during this run." in again.stdout
