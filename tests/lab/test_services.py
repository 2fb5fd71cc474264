"""The lab's services: emulators of a workspace, provisioned, resumable, on stable ports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from mikado.errors import LockHeld
from mikado.lab.services import choose_ports, open_lab
from mikado.lab.workspace import CI_GROUP, CI_IDENTITY, FORGEJO_REPOSITORY, ServicePorts
from mikado.services.authentik import AuthentikClient
from mikado.services.zot_config import write_credentials_file

REPO = Path(__file__).resolve().parents[2]


def _open(root: Path):  # type: ignore[no-untyped-def]
    return open_lab(root, docs=REPO / "cards", actions=REPO / "cards", validate_requests=False)


def test_lab_is_provisioned_as_an_operator_would_bring_it(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        groups = httpx.get(
            lab.authentik.api_url + "/core/groups/",
            headers={"Authorization": f"Bearer {lab.secrets.authentik_token}"},
        ).json()["results"]
        # what an operator brings: the admins group, and the CI service account (with a
        # password, for its one OIDC login) in its group; nothing the chain creates
        # ("authentik Admins" comes with every Authentik, akadmin in it)
        assert sorted(g["name"] for g in groups) == ["admins", CI_GROUP, "authentik Admins"]
        ci = lab.authentik.user_named(CI_IDENTITY)
        assert ci is not None and ci["type"] == "service_account"
        assert lab.authentik.stored("providers") == lab.authentik.stored("bindings") == []
        repo = httpx.get(
            f"{lab.forgejo.api_url}/repos/{FORGEJO_REPOSITORY}",
            headers={"Authorization": f"token {lab.secrets.forgejo_token}"},
        )
        assert repo.status_code == 200
        # before hardening zot has no authentication, and no key exists yet
        assert httpx.get(lab.zot.url + "/v2/_catalog").status_code == 200
        assert lab.secrets.ci_api_key is None
        assert lab.zot.config_error is None


def test_reopening_keeps_tokens_ports_and_objects(tmp_path: Path) -> None:
    with _open(tmp_path / "ws") as lab:
        first_urls, first_secrets = lab.urls, lab.secrets
    with _open(tmp_path / "ws") as lab:
        assert lab.urls == first_urls and lab.secrets == first_secrets
        assert not lab.ports_moved
        assert len(lab.authentik.stored("groups")) == 3
        assert [u["username"] for u in lab.authentik.stored("users")] == ["akadmin", CI_IDENTITY]
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


def test_moved_services_keep_a_hardened_zot_starting(tmp_path: Path) -> None:
    """zot refuses to start when its OIDC issuer does not answer: when Authentik moves, the
    addresses the chain wrote must follow it."""
    with _open(tmp_path / "ws") as lab:
        old_authentik = lab.authentik.url
        with httpx.Client(timeout=5) as http:
            client = AuthentikClient(http, lab.authentik.url, lab.secrets.authentik_token)
            provider = http.post(
                lab.authentik.api_url + "/providers/oauth2/",
                headers={"Authorization": f"Bearer {lab.secrets.authentik_token}"},
                json={
                    "name": "zot",
                    "client_id": "zot",
                    "authorization_flow": client.flow(
                        "default-provider-authorization-implicit-consent"
                    ).pk,
                    "invalidation_flow": client.flow("default-provider-invalidation-flow").pk,
                    "redirect_uris": [],
                },
            ).json()
            client.ensure_application("zot", "Zot", int(provider["pk"]))
        workspace = lab.workspace
        write_credentials_file(workspace.credentials_file, "zot", "a-client-secret")
        hardened = json.loads(workspace.zot_config.read_text(encoding="utf-8"))
        hardened["http"]["auth"] = {
            "openid": {
                "providers": {
                    "oidc": {
                        "issuer": f"{old_authentik}/application/o/zot/",
                        "credentialsFile": str(workspace.credentials_file),
                        "scopes": ["openid"],
                    }
                }
            }
        }
        workspace.zot_config.write_text(json.dumps(hardened), encoding="utf-8")
        outputs = workspace.root / ".mikado" / "outputs.json"
        outputs.parent.mkdir()
        outputs.write_text(json.dumps({"issuer": old_authentik}), encoding="utf-8")
        credentials = workspace.credentials_file.read_bytes()
        old_port = lab.authentik.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        with _open(tmp_path / "ws") as lab:
            assert lab.zot.start_error is None, lab.zot.start_error
            assert lab.ports_moved and lab.zot.config.openid_issuer == (
                f"{lab.authentik.url}/application/o/zot/"
            )
            assert lab.zot.config_error is None
            assert json.loads(outputs.read_text(encoding="utf-8")) == {"issuer": lab.authentik.url}
            assert workspace.credentials_file.read_bytes() == credentials


def test_the_lab_holds_every_request_to_the_release_schema_by_default(tmp_path: Path) -> None:
    """Issue 13, failure 8: the plain install ran the emulators with validation silently off."""
    with open_lab(tmp_path / "ws", docs=REPO / "cards", actions=REPO / "cards") as lab:
        assert all(e.validates_requests for e in (lab.authentik, lab.forgejo, lab.zot))
        misspelt = httpx.post(
            lab.authentik.api_url + "/core/applications/",
            headers={"Authorization": f"Bearer {lab.secrets.authentik_token}"},
            json={"name": "Zot", "slug": "zot", "meta_lauch_url": "https://x.example"},
        )
        assert misspelt.status_code == 400 and "meta_lauch_url" in misspelt.text
        assert lab.authentik.stored("applications") == []
