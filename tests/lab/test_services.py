"""The lab's services: emulators of a workspace, provisioned, resumable, on stable ports."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from mikado.errors import LockHeld
from mikado.lab.services import choose_ports, open_lab
from mikado.lab.workspace import CI_IDENTITY, FORGEJO_REPOSITORY, ServicePorts

REPO = Path(__file__).resolve().parents[2]


def _open(root: Path):  # type: ignore[no-untyped-def]
    return open_lab(root, docs=REPO / "cards", actions=REPO / "cards", validate_requests=False)


def test_lab_is_provisioned_as_an_operator_would_bring_it(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        groups = httpx.get(
            lab.authentik.api_url + "/core/groups/",
            headers={"Authorization": f"Bearer {lab.secrets.authentik_token}"},
        ).json()["results"]
        assert [g["name"] for g in groups] == ["admins"]
        repo = httpx.get(
            f"{lab.forgejo.api_url}/repos/{FORGEJO_REPOSITORY}",
            headers={"Authorization": f"token {lab.secrets.forgejo_token}"},
        )
        assert repo.status_code == 200
        # before hardening zot ignores credentials; the key still belongs to the CI account
        assert httpx.get(lab.zot.url + "/v2/_catalog").status_code == 200
        assert lab.zot.config_error is None


def test_reopening_keeps_tokens_ports_and_objects(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        first_urls, first_secrets = lab.urls, lab.secrets
    with _open(tmp_path / "ws") as lab:
        assert lab.urls == first_urls and lab.secrets == first_secrets
        assert not lab.ports_moved
        assert len(lab.authentik.objects("groups")) == 1
        headers = {"Authorization": f"Bearer {first_secrets.authentik_token}"}
        assert httpx.get(lab.authentik.api_url + "/core/groups/", headers=headers).is_success


def test_a_taken_port_moves_the_service_and_rewrites_the_configuration(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        zot_port = lab.zot.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", zot_port))
        squatter.listen()
        with _open(tmp_path / "ws") as lab:
            assert lab.ports_moved and lab.zot.port != zot_port
            config = lab.workspace.config_file.read_text(encoding="utf-8")
            assert f'url = "{lab.zot.url}"' in config


def test_one_lab_per_workspace_at_a_time(tmp_path: Path) -> None:
    with _open(tmp_path / "ws"), pytest.raises(LockHeld), _open(tmp_path / "ws"):
        pass


def test_chosen_ports_are_distinct_and_free() -> None:
    ports = choose_ports(None)
    assert len({ports.authentik, ports.forgejo, ports.zot}) == 3
    assert choose_ports(ports) == ports
    same = choose_ports(ServicePorts(ports.zot, ports.zot, ports.zot))
    assert len({same.authentik, same.forgejo, same.zot}) == 3


def test_secret_values_cover_the_lab_tokens(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        assert set(lab.secrets.values()) <= set(lab.secret_values())
        assert CI_IDENTITY not in lab.secret_values()
