"""`mikado lab serve`, the lab's command-line edges, and the change report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mikado.cli.options import LAB_VERSIONS_HELP
from mikado.lab.emulators.releases import RELEASES
from mikado.lab.infra import SKOPEO_WORKFLOW
from mikado.lab.report import (
    authentik_changes,
    forgejo_changes,
    infra_changes,
    service_changes,
    zot_changes,
)
from mikado.lab.services import open_lab
from mikado.lab.session import lab_environment
from mikado.lab.workspace import CI_IDENTITY, FORGEJO_REPOSITORY
from mikado.services.authentik import AuthentikClient
from mikado.services.forgejo import ForgejoClient

REPO = Path(__file__).resolve().parents[2]


def _mikado(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mikado", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_prints_urls_and_usage_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    process = subprocess.Popen(
        [sys.executable, "-m", "mikado", "lab", "serve", "--workspace", str(workspace)],
        cwd=REPO,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("zot reloads"):
                break
        text = "".join(lines)
        zot = next(line.split()[2] for line in lines if line.strip().startswith("zot "))
        assert httpx.get(zot + "/v2/_catalog", timeout=5).json() == {"repositories": []}
        assert f"Configuration: {workspace / 'mikado.toml'}" in text
        assert "skopeo copy" in text and "curl -s" in text
        assert "zot 2.1.20" in text and "Authentik 2026.8" in text and "Forgejo 16" in text
        assert "switching authentication on takes a restart: python -m mikado.lab.control" in text
        state = json.loads((workspace / "lab/lab.json").read_text(encoding="utf-8"))
        assert not any(value in text for value in state["secrets"].values() if value)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert "Stopping the lab services." in out


def test_workspace_needs_lab() -> None:
    result = _mikado("run", "harden-zot-registry", "--workspace", "/tmp/nowhere")
    assert result.returncode == 2
    assert "--workspace, --lab-versions and --infra go with --lab" in result.stderr
    versions = _mikado("run", "harden-zot-registry", "--lab-versions", "zot=2.1.10")
    assert versions.returncode == 2
    assert "--workspace, --lab-versions and --infra go with --lab" in versions.stderr


def test_a_folder_that_is_not_a_lab_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = _mikado("run", "harden-zot-registry", "--lab", "--workspace", str(tmp_path))
    assert result.returncode == 1
    assert "is not a lab workspace" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_mistyped_goal_is_refused_before_any_workspace_is_made(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), "TMPDIR": str(temporary)}
    for extra in ([], ["--workspace", str(tmp_path / "ws")], ["--dry-run"]):
        result = subprocess.run(
            [sys.executable, "-m", "mikado", "run", "harden-zot-regsitry", "--lab", *extra],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "no card `harden-zot-regsitry`" in result.stderr
        assert "did you mean `harden-zot-registry`?" in result.stderr
        assert "Lab workspace" not in result.stdout
        assert list(temporary.iterdir()) == [] and not (tmp_path / "ws").exists()


def test_lab_environment_is_restored(monkeypatch: object) -> None:
    os.environ.pop("MIKADO_LAB_PROBE", None)
    with lab_environment({"MIKADO_LAB_PROBE": "x"}):
        assert os.environ["MIKADO_LAB_PROBE"] == "x"
    assert "MIKADO_LAB_PROBE" not in os.environ


def test_report_tells_what_changed_and_names_no_secret(tmp_path: Path) -> None:
    with open_lab(
        tmp_path / "ws", docs=REPO / "cards", actions=REPO / "cards", validate_requests=False
    ) as lab:
        assert service_changes(lab) == ["Nothing changed in the lab's services during this run."]
        with httpx.Client(timeout=5) as http:
            authentik = AuthentikClient(http, lab.authentik.url, lab.secrets.authentik_token)
            group = authentik.group("admins")
            provider = http.post(
                lab.authentik.api_url + "/providers/oauth2/",
                headers={"Authorization": f"Bearer {lab.secrets.authentik_token}"},
                json={
                    "name": "zot",
                    "client_id": "zot",
                    "client_secret": "s3cret-value",
                    "authorization_flow": authentik.flow(
                        "default-provider-authorization-implicit-consent"
                    ).pk,
                    "invalidation_flow": authentik.flow("default-provider-invalidation-flow").pk,
                    "redirect_uris": [],
                },
            ).json()
            application, _ = authentik.ensure_application("zot", "Zot", int(provider["pk"]))
            authentik.ensure_group_binding(application.pbm_uuid, group.pk)
            forgejo = ForgejoClient(http, lab.forgejo.url, lab.secrets.forgejo_token)
            owner, name = FORGEJO_REPOSITORY.split("/")
            forgejo.set_actions_secret(owner, name, "ZOT_CI_API_KEY", "zak_a-minted-key")
            forgejo.set_actions_secret(owner, name, "ZOT_CI_API_KEY", "zak_a-minted-key")
            http.put(
                f"{lab.zot.url}/v2/infra/app/manifests/v1",
                content=b"{}",
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
        assert authentik_changes(lab) == [
            "created OAuth2/OIDC provider 'zot' (client id zot)",
            "created application 'zot'",
            "bound group 'admins' to the application",
        ]
        assert forgejo_changes(lab) == [
            "set Actions secret ZOT_CI_API_KEY on ops/infra",
            "replaced Actions secret ZOT_CI_API_KEY on ops/infra",
        ]
        assert zot_changes(lab) == ["refused the push of infra/app:v1 (400)"]
        report = "\n".join(service_changes(lab))
        assert "s3cret-value" not in report and "zak_a-minted-key" not in report
        assert not any(value in report for value in lab.secrets.values())
        assert CI_IDENTITY not in report


def test_infra_report_shows_the_diff_stat_and_new_files(tmp_path: Path) -> None:
    with open_lab(
        tmp_path / "ws", docs=REPO / "cards", actions=REPO / "cards", validate_requests=False
    ) as lab:
        workspace = lab.workspace
    assert infra_changes(workspace)[1] == "  no change"
    workflow = workspace.infra / SKOPEO_WORKFLOW
    workflow.write_text(workflow.read_text(encoding="utf-8") + "# guarded\n", encoding="utf-8")
    (workspace.infra / "zot" / "extra.json").write_text("{}", encoding="utf-8")
    lines = infra_changes(workspace)
    assert any("build-container-nix.yaml" in line and "1 +" in line for line in lines)
    assert "  zot/extra.json (new, not tracked)" in lines
    assert lines[-1].startswith(f"Full diff: git -C {workspace.infra} diff ")


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ("zot=9", "the lab imitates zot 2.1.10, 2.1.17, 2.1.20, not 9"),
        ("zoot=2.1.10", "'zoot' is not a lab service (authentik, zot, forgejo)"),
        ("zot", "'zot': write service=release, e.g. zot=2.1.17"),
        ("zot=2.1.10,zot=2.1.17", "zot is named twice"),
    ],
)
def test_lab_versions_that_the_lab_cannot_imitate_are_a_usage_error(
    versions: str, message: str
) -> None:
    result = _mikado("run", "harden-zot-registry", "--lab", "--dry-run", "--lab-versions", versions)
    assert result.returncode == 2
    assert result.stderr == f"mikado: --lab-versions: {message}\n"


def test_the_lab_versions_help_names_every_release_the_lab_imitates() -> None:
    for service, releases in RELEASES.items():
        assert f"{service} {'|'.join(releases)}" in LAB_VERSIONS_HELP


def test_infra_needs_lab(tmp_path: Path) -> None:
    result = _mikado("run", "harden-zot-registry", "--infra", str(tmp_path))
    assert result.returncode == 2
    assert "--workspace, --lab-versions and --infra go with --lab" in result.stderr
