"""The lab's restart endpoint and `python -m mikado.lab.control`, with a real server and a real
subprocess; the restart itself is a recording function here (the chain tests restart the zot
emulator through it)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mikado.lab.control import ControlServer, request

TOKEN = "control-token-for-the-test"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refusal: str | None = None

    def __call__(self, service: str) -> str | None:
        self.calls.append(service)
        return self.refusal


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Path, Recorder]]:
    recorder = Recorder()
    server = ControlServer(TOKEN, {"restart": recorder, "deploy": recorder})
    server.start()
    (tmp_path / "lab").mkdir()
    state = {"ports": {"control": server.port}, "secrets": {"control_token": TOKEN}}
    (tmp_path / "lab" / "lab.json").write_text(json.dumps(state))
    try:
        yield tmp_path, recorder
    finally:
        server.stop()


def control(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mikado.lab.control", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_restarts_zot_and_says_so(lab: tuple[Path, Recorder]) -> None:
    workspace, recorder = lab
    done = control("restart", "zot", "--workspace", str(workspace))
    assert (done.returncode, done.stdout) == (0, "zot restarted\n")
    assert recorder.calls == ["zot"]


def test_a_zot_that_does_not_start_fails_the_command_with_its_reason(
    lab: tuple[Path, Recorder],
) -> None:
    workspace, recorder = lab
    recorder.refusal = "config.json: unknown key http.auth.openid.providers.oidc.claimmapping"
    done = control("restart", "zot", "--workspace", str(workspace))
    assert done.returncode == 1
    assert done.stderr == f"zot did not start: {recorder.refusal}\n"


def test_a_wrong_token_restarts_nothing(lab: tuple[Path, Recorder]) -> None:
    workspace, recorder = lab
    state = json.loads((workspace / "lab" / "lab.json").read_text())
    state["secrets"]["control_token"] = "not-the-token"
    (workspace / "lab" / "lab.json").write_text(json.dumps(state))
    assert request(workspace, "restart", "zot") == "wrong lab token"
    assert recorder.calls == []


def test_a_folder_without_a_running_lab_is_named(tmp_path: Path) -> None:
    done = control("restart", "zot", "--workspace", str(tmp_path))
    assert done.returncode == 1
    assert f"{tmp_path} is not a running lab workspace" in done.stderr
    (tmp_path / "lab").mkdir()
    state = {"ports": {"control": 9}, "secrets": {"control_token": TOKEN}}  # discard port
    (tmp_path / "lab" / "lab.json").write_text(json.dumps(state))
    assert "does not answer (is it running?)" in str(request(tmp_path, "restart", "zot"))


def test_a_deploy_is_asked_of_the_lab_like_a_restart(lab: tuple[Path, Recorder]) -> None:
    workspace, recorder = lab
    done = control("deploy", "authentik", "--workspace", str(workspace))
    assert (done.returncode, done.stdout) == (0, "authentik deployed\n")
    recorder.refusal = "blueprint zot.yaml, entry 3: no flow with slug 'nope'"
    failed = control("deploy", "zot", "--workspace", str(workspace))
    assert failed.returncode == 1
    assert failed.stderr == f"zot was not deployed: {recorder.refusal}\n"
    assert recorder.calls == ["authentik", "zot"]


def test_only_zot_can_be_restarted_and_only_the_three_services_deployed() -> None:
    done = control("restart", "authentik", "--workspace", "/tmp")
    assert done.returncode == 2 and "restart takes one of: zot" in done.stderr
    unknown = control("deploy", "grafana", "--workspace", "/tmp")
    assert unknown.returncode == 2 and "invalid choice: 'grafana'" in unknown.stderr


def test_a_lab_without_deploys_says_what_it_offers(tmp_path: Path) -> None:
    server = ControlServer(TOKEN, {"restart": Recorder()})
    assert server.answer("/deploy/zot", TOKEN) == (
        404,
        {"error": "no such control: /deploy/zot (this lab offers: restart)"},
    )
