"""The zot emulator: real skopeo pushes and pulls, zot's authz, config reloads, swagger checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from system_tools import tool

from mikado.lab.emulators import AuthentikEmulator, ConfigRefused, Fault, ZotEmulator

from .conftest import AUTHENTIK_TOKEN, write_oci_layout

CI_KEY = "zak_ci_0123456789"
ADMIN_KEY = "zak_admin_0123456789"
NOBODY_KEY = "zak_nobody_0123456789"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [tool("skopeo"), "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def push(layout: Path, zot: ZotEmulator, ref: str, *creds: str) -> subprocess.CompletedProcess[str]:
    extra = ["--dest-creds", creds[0]] if creds else []
    return skopeo(
        "copy",
        "--dest-tls-verify=false",
        *extra,
        f"oci:{layout}",
        f"docker://{zot.host}/{ref}",
    )


def basic(user: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    folder = tmp_path / "image"
    write_oci_layout(folder, "v1")
    return folder


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[AuthentikEmulator]:
    """An Authentik emulator with application "zot" bound to a provider: a live issuer."""
    with AuthentikEmulator(token=AUTHENTIK_TOKEN, validate_requests=False) as authentik:
        api = httpx.Client(
            base_url=authentik.api_url, headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
        )
        flows = {
            slug: api.get("/flows/instances/", params={"slug": slug}).json()["results"][0]["pk"]
            for slug in (
                "default-provider-authorization-implicit-consent",
                "default-provider-invalidation-flow",
            )
        }
        provider = api.post(
            "/providers/oauth2/",
            json={
                "name": "zot",
                "authorization_flow": flows["default-provider-authorization-implicit-consent"],
                "invalidation_flow": flows["default-provider-invalidation-flow"],
                "redirect_uris": [{"matching_mode": "strict", "url": "http://zot/cb"}],
            },
        ).json()
        api.post(
            "/core/applications/", json={"name": "zot", "slug": "zot", "provider": provider["pk"]}
        )
        yield authentik


def hardened_config(folder: Path, issuer: str, **changes: Any) -> dict[str, Any]:
    """The shape of the chain's target zot configuration."""
    credentials = folder / "oidc-credentials.json"
    credentials.write_text(json.dumps({"clientid": "zot", "clientsecret": "s"}))
    config: dict[str, Any] = {
        "distSpecVersion": "1.1.0",
        "storage": {"rootDirectory": str(folder / "zot-data"), "gc": True},
        "http": {
            "address": "127.0.0.1",
            "port": "0",
            "externalUrl": "http://zot.lab",
            "realm": "zot",
            "auth": {
                "openid": {
                    "providers": {
                        "oidc": {
                            "credentialsFile": str(credentials),
                            "issuer": issuer,
                            "scopes": ["openid", "email", "profile"],
                            "claimMapping": {"username": "preferred_username"},
                        }
                    }
                },
                "apikey": True,
            },
            "accessControl": {
                "repositories": {
                    "**": {
                        "policies": [
                            {"groups": ["artifact-workloads"], "actions": ["read", "create"]},
                            {
                                "groups": ["admins"],
                                "actions": ["read", "create", "update", "delete"],
                            },
                        ],
                        "anonymousPolicy": ["read"],
                        "defaultPolicy": ["read"],
                    }
                },
                "metrics": {"users": ["admin"]},
            },
        },
        "log": {"level": "info"},
        "extensions": {"metrics": {"enable": True, "prometheus": {"path": "/metrics"}}},
    }
    config["http"].update(changes)
    return config


@pytest.fixture
def hardened(tmp_path: Path, issuer: AuthentikEmulator) -> Iterator[ZotEmulator]:
    config_file = tmp_path / "zot-config.json"
    config_file.write_text(json.dumps(hardened_config(tmp_path, issuer.issuer_for("zot"))))
    with ZotEmulator(
        config_file=config_file, state_file=tmp_path / "zot.json", validate_requests=True
    ) as zot:
        zot.add_api_key("ci", CI_KEY, ["artifact-workloads"])
        zot.add_api_key("admin", ADMIN_KEY, ["admins"])
        zot.add_api_key("nobody", NOBODY_KEY, [])
        yield zot


def test_skopeo_round_trip_without_auth(tmp_path: Path, layout: Path) -> None:
    with ZotEmulator(state_file=tmp_path / "zot.json", validate_requests=True) as zot:
        pushed = push(layout, zot, "blumeops/app:v1")
        assert pushed.returncode == 0, pushed.stderr
        assert list(zot.tags("blumeops/app")) == ["v1"]
        assert httpx.get(f"{zot.url}/v2/_catalog").json() == {"repositories": ["blumeops/app"]}
        pulled = tmp_path / "pulled"
        back = skopeo(
            "copy",
            "--src-tls-verify=false",
            f"docker://{zot.host}/blumeops/app:v1",
            f"oci:{pulled}",
        )
        assert back.returncode == 0, back.stderr
        original = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
        copied = json.loads((pulled / "index.json").read_text())["manifests"][0]["digest"]
        assert copied == original == zot.tags("blumeops/app")["v1"]


def test_anonymous_push_is_401_with_a_basic_challenge(hardened: ZotEmulator, layout: Path) -> None:
    result = push(layout, hardened, "app:v1")
    assert result.returncode != 0
    assert hardened.tags("app") == {}
    refused = [r for r in hardened.requests if r.status == 401]
    assert refused and refused[0].method == "POST"
    assert not [r for r in hardened.requests if r.method == "PUT"]
    response = httpx.post(f"{hardened.url}/v2/app/blobs/uploads/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="zot"'
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_ci_group_pushes_new_tags_but_cannot_overwrite(hardened: ZotEmulator, layout: Path) -> None:
    first = push(layout, hardened, "blumeops/app:v1", f"ci:{CI_KEY}")
    assert first.returncode == 0, first.stderr
    again = push(layout, hardened, "blumeops/app:v1", f"ci:{CI_KEY}")
    assert again.returncode != 0
    assert any(r.status == 403 and "/manifests/v1" in r.path for r in hardened.requests)
    overwrite = push(layout, hardened, "blumeops/app:v1", f"admin:{ADMIN_KEY}")
    assert overwrite.returncode == 0, overwrite.stderr


def test_default_policy_reads_but_does_not_write(hardened: ZotEmulator, layout: Path) -> None:
    result = push(layout, hardened, "app:v1", f"nobody:{NOBODY_KEY}")
    assert result.returncode != 0
    denied = httpx.post(
        f"{hardened.url}/v2/app/blobs/uploads/", headers=basic("nobody", NOBODY_KEY)
    )
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == "DENIED"


def test_a_key_only_works_with_its_owner_name(hardened: ZotEmulator, layout: Path) -> None:
    assert push(layout, hardened, "app:v1", f"admin:{CI_KEY}").returncode != 0
    for headers in (
        basic("admin", CI_KEY),
        basic("ci", "zak_wrong"),
        {"Authorization": "Bearer x"},
    ):
        assert httpx.get(f"{hardened.url}/v2/_catalog", headers=headers).status_code == 401


def test_anonymous_pull_is_allowed_by_anonymous_policy(
    hardened: ZotEmulator, layout: Path, tmp_path: Path
) -> None:
    assert push(layout, hardened, "app:v1", f"ci:{CI_KEY}").returncode == 0
    pulled = skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{hardened.host}/app:v1",
        f"oci:{tmp_path / 'p'}",
    )
    assert pulled.returncode == 0, pulled.stderr
    assert httpx.get(f"{hardened.url}/v2/app/tags/list").json() == {"name": "app", "tags": ["v1"]}


def test_metrics_only_for_listed_users(hardened: ZotEmulator) -> None:
    assert httpx.get(f"{hardened.url}/metrics").status_code == 401
    assert httpx.get(f"{hardened.url}/metrics", headers=basic("ci", CI_KEY)).status_code == 403
    metrics = httpx.get(f"{hardened.url}/metrics", headers=basic("admin", ADMIN_KEY))
    assert metrics.status_code == 200
    assert "zot_http_requests_total" in metrics.text


def test_config_reload_follows_the_file_and_keeps_the_last_good_one(
    tmp_path: Path, issuer: AuthentikEmulator
) -> None:
    config_file = tmp_path / "zot-config.json"
    config_file.write_text(json.dumps({"http": {"address": "127.0.0.1", "port": "0"}}))
    with ZotEmulator(config_file=config_file) as zot:
        assert httpx.post(f"{zot.url}/v2/app/blobs/uploads/").status_code == 202
        config_file.write_text(json.dumps(hardened_config(tmp_path, issuer.issuer_for("zot"))))
        assert httpx.post(f"{zot.url}/v2/app/blobs/uploads/").status_code == 401
        assert zot.config_loads == 2

        typo = hardened_config(tmp_path, issuer.issuer_for("zot"))
        typo["http"]["accessControl"]["repositories"]["**"]["anonymousPolicys"] = ["read"]
        config_file.write_text(json.dumps(typo))
        assert httpx.post(f"{zot.url}/v2/app/blobs/uploads/").status_code == 401
        assert zot.config_error is not None and "anonymousPolicys" in zot.config_error

        config_file.write_text(json.dumps({"http": {"address": "127.0.0.1"}}))
        assert httpx.post(f"{zot.url}/v2/app/blobs/uploads/").status_code == 202
        assert zot.config_error is None


@pytest.mark.parametrize(
    ("issuer_suffix", "message"),
    [("", "did not match"), ("nothing-here/", "unreachable")],
)
def test_an_issuer_that_does_not_answer_or_differs_is_refused(
    tmp_path: Path, issuer: AuthentikEmulator, issuer_suffix: str, message: str
) -> None:
    # "" drops the trailing slash: Authentik still answers, but with another issuer string
    configured = (
        issuer.issuer_for("zot").rstrip("/")
        if not issuer_suffix
        else (issuer.issuer_for("zot") + issuer_suffix)
    )
    config_file = tmp_path / "zot-config.json"
    config_file.write_text(json.dumps(hardened_config(tmp_path, configured)))
    with pytest.raises(ConfigRefused, match=message):
        ZotEmulator(config_file=config_file).start()


def test_credentials_file_must_hold_exactly_two_keys(
    tmp_path: Path, issuer: AuthentikEmulator
) -> None:
    config_file = tmp_path / "zot-config.json"
    config_file.write_text(json.dumps(hardened_config(tmp_path, issuer.issuer_for("zot"))))
    (tmp_path / "oidc-credentials.json").write_text(json.dumps({"clientid": "zot"}))
    with pytest.raises(ConfigRefused, match="exactly clientid and clientsecret"):
        ZotEmulator(config_file=config_file).start()


def test_swagger_and_manifest_validation(tmp_path: Path) -> None:
    with ZotEmulator(validate_requests=True) as zot:
        assert httpx.get(f"{zot.url}/v2/app/tags/list", params={"n": "many"}).status_code == 400
        assert httpx.put(f"{zot.url}/v2/_catalog").status_code == 405
        bad = httpx.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=json.dumps({"schemaVersion": 2, "layers": "not-a-list"}),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        unknown_blob = httpx.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=json.dumps(
                {"schemaVersion": 2, "config": {"digest": "sha256:" + "0" * 64, "size": 1}}
            ),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert unknown_blob.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
        docker = httpx.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=b"{}",
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert docker.status_code == 415
        assert zot.tags("app") == {}


def test_uploads_verify_digests_in_every_form(tmp_path: Path) -> None:
    data = b"layer bytes" * 100
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with ZotEmulator(validate_requests=True) as zot, httpx.Client(base_url=zot.url) as client:
        assert client.get("/v2/app/tags/list").json()["errors"][0]["code"] == "NAME_UNKNOWN"
        wrong = client.post(
            "/v2/app/blobs/uploads/", params={"digest": "sha256:" + "1" * 64}, content=data
        )
        assert wrong.json()["errors"][0]["code"] == "DIGEST_INVALID"
        monolithic = client.post("/v2/app/blobs/uploads/", params={"digest": digest}, content=data)
        assert monolithic.status_code == 201
        assert client.head(f"/v2/app/blobs/{digest}").headers["Content-Length"] == str(len(data))

        started = client.post("/v2/other/blobs/uploads/")
        location = started.headers["Location"]
        assert client.patch(location, content=data[:500]).headers["Range"] == "0-499"
        finished = client.put(location, params={"digest": digest}, content=data[500:])
        assert finished.status_code == 201
        assert client.get(f"/v2/other/blobs/{digest}").content == data
        # blobs are scoped per repository
        assert client.head(f"/v2/third/blobs/{digest}").status_code == 404


def test_images_survive_a_restart(tmp_path: Path, layout: Path) -> None:
    state = tmp_path / "zot.json"
    with ZotEmulator(state_file=state) as zot:
        zot.add_api_key("ci", CI_KEY, ["artifact-workloads"])
        assert push(layout, zot, "app:v1").returncode == 0
        digest = zot.tags("app")["v1"]
    with ZotEmulator(state_file=state) as again:
        manifest = httpx.get(f"{again.url}/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert manifest.headers["Docker-Content-Digest"] == digest
        assert manifest.headers["Content-Type"] == OCI_MANIFEST
        layer = json.loads(manifest.content)["layers"][0]["digest"]
        assert httpx.get(f"{again.url}/v2/app/blobs/{layer}").status_code == 200
        assert again._api_keys  # the key registry survives too


def test_faults_on_the_registry(tmp_path: Path) -> None:
    with ZotEmulator() as zot:
        zot.inject_fault(Fault.error(500), method="GET", path_prefix="/v2/_catalog")
        assert httpx.get(f"{zot.url}/v2/_catalog").status_code == 500
        assert httpx.get(f"{zot.url}/v2/_catalog").status_code == 200


def test_version_check_answers_anonymously_but_still_challenges(hardened: ZotEmulator) -> None:
    # without the challenge on a 200, skopeo would never send its credentials
    response = httpx.get(f"{hardened.url}/v2/")
    assert response.status_code == 200
    assert response.headers["WWW-Authenticate"].lower().startswith("basic realm=")
    empty_credentials = httpx.get(f"{hardened.url}/v2/_catalog", headers=basic("", ""))
    assert empty_credentials.status_code == 200  # "Basic Og==" counts as anonymous


def test_without_a_realm_the_challenge_uses_zots_default(
    tmp_path: Path, issuer: AuthentikEmulator
) -> None:
    config = hardened_config(tmp_path, issuer.issuer_for("zot"))
    del config["http"]["realm"]
    config_file = tmp_path / "zot-config.json"
    config_file.write_text(json.dumps(config))
    with ZotEmulator(config_file=config_file) as zot:
        refused = httpx.post(f"{zot.url}/v2/app/blobs/uploads/")
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="Authorization Required"'
