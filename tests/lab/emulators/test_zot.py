"""The zot emulator as a zot release: start-up (config refused, issuer unreachable → port
closed), the config watcher (in-place writes only, the watch lost after a rename, auth never
switched by a reload), authentication and authorization answers, metrics and mgmt per release,
the OIDC login against the Authentik emulator and API keys minted with it; real skopeo
pushes and pulls where it counts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from system_tools import tool

from mikado.lab.emulators import (
    AuthentikEmulator,
    ConfigRefused,
    EmulatorError,
    Fault,
    ZotEmulator,
)
from mikado.lab.emulators.releases import RELEASES, version_tuple

from .conftest import AUTHENTIK_TOKEN, write_oci_layout

ZOT_RELEASES = RELEASES["zot"]
CI_KEY = "zak_ci_0123456789"
ADMIN_KEY = "zak_admin_0123456789"
NOBODY_KEY = "zak_nobody_0123456789"
CI_PASSWORD = "ci-password"
ADMIN_PASSWORD = "admin-password"
UI = {"X-ZOT-API-CLIENT": "zot-ui"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHALLENGE = 'Basic realm="zot"'
AUTH_FAIL = {
    "code": "UNAUTHORIZED",
    "message": "authentication required",
    "detail": {
        "description": "The access controller was unable to authenticate the client. Often "
        "this will be accompanied by a WWW-Authenticate HTTP response header indicating how "
        "to authenticate."
    },
}


# helpers -------------------------------------------------------------------------------------

# one client for the module: a client per request would build an SSL context each time; no
# keep-alive, since the emulators are stopped and restarted under it
HTTP = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


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


def skopeo_push(
    layout: Path, zot: ZotEmulator, ref: str, creds: str | None = None
) -> subprocess.CompletedProcess[str]:
    extra = ["--dest-creds", creds] if creds else []
    return skopeo(
        "copy", "--dest-tls-verify=false", *extra, f"oci:{layout}", f"docker://{zot.host}/{ref}"
    )


def basic(user: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(
    zot: ZotEmulator,
    repository: str,
    tag: str,
    headers: dict[str, str] | None = None,
    payload: bytes = b"layer",
) -> httpx.Response:
    """Two blobs and a manifest, as a client pushes them; the first refusal is returned."""
    headers = headers or {}
    config, layer = b'{"architecture":"amd64","os":"linux"}', payload
    for blob in (config, layer):
        uploaded = HTTP.post(
            f"{zot.url}/v2/{repository}/blobs/uploads/",
            params={"digest": digest(blob)},
            content=blob,
            headers=headers,
        )
        if uploaded.status_code != 201:
            return uploaded
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest(layer),
                "size": len(layer),
            }
        ],
    }
    return HTTP.put(
        f"{zot.url}/v2/{repository}/manifests/{tag}",
        content=json.dumps(manifest).encode(),
        headers={**headers, "Content-Type": OCI_MANIFEST},
    )


def start_upload(zot: ZotEmulator, headers: dict[str, str] | None = None) -> httpx.Response:
    return HTTP.post(f"{zot.url}/v2/app/blobs/uploads/", headers=headers or {})


def assert_auth_fail(response: httpx.Response, *, challenge: str | None = CHALLENGE) -> None:
    """authFail: 401, the bare error object (no OCI "errors" list), the Basic challenge."""
    assert response.status_code == 401, response.text
    assert response.json() == AUTH_FAIL
    assert response.headers.get("WWW-Authenticate") == challenge


def assert_authz_fail(response: httpx.Response, status: int) -> None:
    """AuthzFail: 401 UNAUTHORIZED for anonymous, 403 DENIED otherwise; OCI list + challenge."""
    assert response.status_code == status, response.text
    error = response.json()["errors"][0]
    if status == 401:
        assert (error["code"], error["message"]) == ("UNAUTHORIZED", "authentication required")
    else:
        assert (error["code"], error["message"]) == (
            "DENIED",
            "requested access to the resource is denied",
        )
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """An in-place write (same inode), as an editor saving the file does."""
    path.write_text(json.dumps(config, indent=1))
    return path


def replace_config(path: Path, config: dict[str, Any]) -> None:
    """A new file renamed over the old one, as configuration management tools do."""
    new = path.with_name(path.name + ".new")
    new.write_text(json.dumps(config))
    os.replace(new, path)


PLAIN: dict[str, Any] = {"http": {"address": "127.0.0.1", "port": "5000"}}


def keyed_config(
    *,
    anonymous: bool = False,
    repositories: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    search: bool = False,
    **access: Any,
) -> dict[str, Any]:
    """API keys as the only authentication, with access control."""
    if repositories is None:
        repositories = {
            "**": {
                "policies": [
                    {"groups": ["artifact-workloads"], "actions": ["read", "create"]},
                    {"groups": ["admins"], "actions": ["read", "create", "update", "delete"]},
                ],
                "defaultPolicy": ["read"],
                **({"anonymousPolicy": ["read"]} if anonymous else {}),
            }
        }
    config: dict[str, Any] = {
        "http": {
            "address": "127.0.0.1",
            "port": "5000",
            "realm": "zot",
            "auth": {"apikey": True},
            "accessControl": {"repositories": repositories, **access},
        },
        "extensions": {},
    }
    if metrics is not None:
        config["http"]["accessControl"]["metrics"] = metrics
        config["extensions"]["metrics"] = {"enable": True, "prometheus": {"path": "/metrics"}}
    if search:
        config["extensions"]["search"] = {"enable": True}
    return config


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    folder = tmp_path / "image"
    write_oci_layout(folder, "v1")
    return folder


def keyed_zot(tmp_path: Path, config: dict[str, Any], release: str = "2.1.20") -> ZotEmulator:
    """A zot with API-key authentication and the lab's three keys (ci, admin, nobody)."""
    zot = ZotEmulator(
        config_file=write_config(tmp_path / "zot-config.json", config),
        release=release,
        state_file=tmp_path / "zot.json",
    )
    zot.start()
    zot.add_api_key("ci", CI_KEY, ["artifact-workloads"])
    zot.add_api_key("admin", ADMIN_KEY, ["admins"])
    zot.add_api_key("nobody", NOBODY_KEY, [])
    return zot


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[ZotEmulator]:
    zot = keyed_zot(tmp_path, keyed_config(anonymous=True))
    yield zot
    zot.stop()


# the issuer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Idp:
    """Authentik with application "zot" whose redirect URI is on `zot_port`; users "ci"
    (group artifact-workloads) and "admin" (group admins), both groups bound to the app."""

    authentik: AuthentikEmulator
    zot_port: int
    client_secret: str

    @property
    def issuer(self) -> str:
        return self.authentik.issuer_for("zot")


@pytest.fixture
def idp() -> Iterator[Idp]:
    port = free_port()
    with (
        AuthentikEmulator(token=AUTHENTIK_TOKEN) as authentik,
        httpx.Client(
            base_url=authentik.api_url,
            headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"},
            timeout=5,
        ) as api,
    ):

        def first_pk(path: str, **params: str) -> str:
            return str(api.get(path, params=params).json()["results"][0]["pk"])

        mappings = api.get(
            "/propertymappings/provider/scope/",
            params=[
                ("managed", f"goauthentik.io/providers/oauth2/scope-{scope}")
                for scope in ("openid", "email", "profile")
            ],
        ).json()["results"]
        provider = api.post(
            "/providers/oauth2/",
            json={
                "name": "zot",
                "client_id": "zot",
                "client_type": "confidential",
                "authorization_flow": first_pk(
                    "/flows/instances/", slug="default-provider-authorization-implicit-consent"
                ),
                "invalidation_flow": first_pk(
                    "/flows/instances/", slug="default-provider-invalidation-flow"
                ),
                "property_mappings": [mapping["pk"] for mapping in mappings],
                "grant_types": ["authorization_code"],
                "redirect_uris": [
                    {
                        "matching_mode": "strict",
                        "url": f"http://127.0.0.1:{port}/zot/auth/callback/oidc",
                    }
                ],
            },
        )
        assert provider.status_code == 201, provider.text
        application = api.post(
            "/core/applications/",
            json={"name": "zot", "slug": "zot", "provider": provider.json()["pk"]},
        )
        assert application.status_code == 201, application.text
        for order, group in enumerate(("artifact-workloads", "admins")):
            binding = api.post(
                "/policies/bindings/",
                json={
                    "target": application.json()["pbm_uuid"],
                    "group": authentik.add_group(group),
                    "order": order,
                    "enabled": True,
                },
            )
            assert binding.status_code == 201, binding.text
        authentik.add_user("ci", groups=["artifact-workloads"], password=CI_PASSWORD)
        authentik.add_user("admin", groups=["admins"], password=ADMIN_PASSWORD)
        yield Idp(authentik, port, provider.json()["client_secret"])


def oidc_config(
    folder: Path,
    idp: Idp,
    *,
    claim_mapping: dict[str, str] | None = None,
    issuer: str | None = None,
    repositories: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The chain's target shape: OIDC login through the credentials file, access control,
    the search extension (for mgmt); no anonymous access."""
    credentials = folder / "oidc-credentials.json"
    credentials.write_text(json.dumps({"clientid": "zot", "clientsecret": idp.client_secret}))
    provider: dict[str, Any] = {
        "credentialsFile": str(credentials),
        "issuer": issuer or idp.issuer,
        "scopes": ["openid", "email", "profile"],
    }
    if claim_mapping is not None:
        provider["claimMapping"] = claim_mapping
    config = keyed_config(repositories=repositories, search=True)
    config["http"]["port"] = str(idp.zot_port)
    config["http"]["externalUrl"] = f"http://127.0.0.1:{idp.zot_port}"
    config["http"]["auth"] = {"openid": {"providers": {"oidc": provider}}}
    return config


def username_mapping(release: str) -> dict[str, str] | None:
    """claimMapping exists from 2.1.11; before, the identity is always the email."""
    return None if release == "2.1.10" else {"username": "preferred_username"}


@contextmanager
def log_in(zot: ZotEmulator, username: str, password: str) -> Iterator[httpx.Client]:
    """A browser that went through zot's OIDC login at Authentik; holds zot's session cookie."""
    with httpx.Client(timeout=5, follow_redirects=False) as browser:
        yield _log_in(browser, zot, username, password)


def _log_in(browser: httpx.Client, zot: ZotEmulator, username: str, password: str) -> httpx.Client:
    login = browser.get(f"{zot.url}/zot/auth/login", params={"provider": "oidc"})
    assert login.status_code == 302, login.text
    to_form = browser.get(login.headers["Location"])
    assert to_form.status_code == 302, to_form.text
    form = to_form.headers["Location"]
    assert urlsplit(form).path == "/if/flow/default-authentication-flow/"
    logged_in = browser.post(form, data={"username": username, "password": password})
    assert logged_in.status_code == 302, logged_in.text
    granted = browser.get(logged_in.headers["Location"])
    assert granted.status_code == 302, granted.text
    callback = browser.get(granted.headers["Location"])
    assert callback.status_code == 201, callback.text
    assert callback.content == b""
    assert browser.cookies.get("session")
    return browser


def mint_key(browser: httpx.Client, zot: ZotEmulator, label: str = "forgejo-ci") -> str:
    created = browser.post(
        f"{zot.url}/zot/auth/apikey", json={"label": label, "scopes": []}, headers=UI
    )
    assert created.status_code == 201, created.text
    key = str(created.json()["apiKey"])
    assert re.fullmatch(r"zak_[0-9a-f]{32}", key)
    return key


# the registry itself -------------------------------------------------------------------------


def test_skopeo_round_trip_without_auth(tmp_path: Path, layout: Path) -> None:
    with ZotEmulator(state_file=tmp_path / "zot.json", validate_requests=True) as zot:
        pushed = skopeo_push(layout, zot, "blumeops/app:v1")
        assert pushed.returncode == 0, pushed.stderr
        assert list(zot.tags("blumeops/app")) == ["v1"]
        assert HTTP.get(f"{zot.url}/v2/_catalog").json() == {"repositories": ["blumeops/app"]}
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


def test_swagger_and_manifest_validation() -> None:
    with ZotEmulator(validate_requests=True) as zot:
        assert zot.validates_requests
        assert HTTP.get(f"{zot.url}/v2/app/tags/list", params={"n": "many"}).status_code == 400
        assert HTTP.put(f"{zot.url}/v2/_catalog").status_code == 405
        bad = HTTP.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=json.dumps({"schemaVersion": 2, "layers": "not-a-list"}),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["code"] == "MANIFEST_INVALID"
        unknown_blob = HTTP.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=json.dumps(
                {"schemaVersion": 2, "config": {"digest": "sha256:" + "0" * 64, "size": 1}}
            ),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert unknown_blob.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
        docker = HTTP.put(
            f"{zot.url}/v2/app/manifests/v1",
            content=b"{}",
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert docker.status_code == 415
        assert zot.tags("app") == {}


def test_uploads_verify_digests_in_every_form() -> None:
    data = b"layer bytes" * 100
    with ZotEmulator(validate_requests=True) as zot, httpx.Client(base_url=zot.url) as client:
        assert client.get("/v2/app/tags/list").json()["errors"][0]["code"] == "NAME_UNKNOWN"
        wrong = client.post(
            "/v2/app/blobs/uploads/", params={"digest": "sha256:" + "1" * 64}, content=data
        )
        assert wrong.json()["errors"][0]["code"] == "DIGEST_INVALID"
        monolithic = client.post(
            "/v2/app/blobs/uploads/", params={"digest": digest(data)}, content=data
        )
        assert monolithic.status_code == 201
        assert client.head(f"/v2/app/blobs/{digest(data)}").headers["Content-Length"] == str(
            len(data)
        )

        started = client.post("/v2/other/blobs/uploads/")
        location = started.headers["Location"]
        assert client.patch(location, content=data[:500]).headers["Range"] == "0-499"
        finished = client.put(location, params={"digest": digest(data)}, content=data[500:])
        assert finished.status_code == 201
        assert client.get(f"/v2/other/blobs/{digest(data)}").content == data
        # blobs are scoped per repository
        assert client.head(f"/v2/third/blobs/{digest(data)}").status_code == 404


def test_images_and_keys_survive_a_restart(tmp_path: Path) -> None:
    zot = keyed_zot(tmp_path, keyed_config())
    try:
        assert push_image(zot, "app", "v1", basic("ci", CI_KEY)).status_code == 201
        pushed = zot.tags("app")["v1"]
        zot.restart()
        assert zot.starts == 2
        manifest = HTTP.get(
            f"{zot.url}/v2/app/manifests/v1",
            headers={"Accept": OCI_MANIFEST, **basic("ci", CI_KEY)},
        )
        assert manifest.status_code == 200  # the key and its owner's groups survived too
        assert manifest.headers["Docker-Content-Digest"] == pushed
        layer = json.loads(manifest.content)["layers"][0]["digest"]
        blob = HTTP.get(f"{zot.url}/v2/app/blobs/{layer}", headers=basic("ci", CI_KEY))
        assert blob.content == b"layer"
    finally:
        zot.stop()
    with pytest.raises(EmulatorError, match=r"state is of zot 2\.1\.20, not 2\.1\.17"):
        ZotEmulator(state_file=tmp_path / "zot.json", release="2.1.17").start()


def test_faults_on_the_registry() -> None:
    with ZotEmulator() as zot:
        zot.inject_fault(Fault.error(500), method="GET", path_prefix="/v2/_catalog")
        assert HTTP.get(f"{zot.url}/v2/_catalog").status_code == 500
        assert HTTP.get(f"{zot.url}/v2/_catalog").status_code == 200


def test_only_the_imitated_releases_are_offered() -> None:
    assert ZOT_RELEASES == ("2.1.10", "2.1.17", "2.1.20")
    with pytest.raises(EmulatorError, match=r"not 2\.1\.18"):
        ZotEmulator(release="2.1.18")


# start-up ------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", ZOT_RELEASES)
@pytest.mark.parametrize(
    ("where", "value", "since"),
    [
        (("http", "readTimeout"), "30s", "2.1.17"),
        (("http", "accessControl", "metrics", "anonymousPolicy"), ["read"], "2.1.18"),
    ],
    ids=["readTimeout", "metrics.anonymousPolicy"],
)
def test_a_key_the_release_does_not_know_keeps_zot_down(
    tmp_path: Path, release: str, where: tuple[str, ...], value: Any, since: str
) -> None:
    config = keyed_config()
    node = config
    for step in where[:-1]:
        node = node.setdefault(step, {})
    node[where[-1]] = value
    port = free_port()
    zot = ZotEmulator(
        config_file=write_config(tmp_path / "zot-config.json", config),
        release=release,
        port=port,
    )
    if version_tuple(release) >= version_tuple(since):
        with zot:
            assert zot.running and zot.start_error is None
            assert (zot.starts, zot.config_loads) == (1, 1)
        return
    with pytest.raises(ConfigRefused, match=re.escape(f"unknown key '{'.'.join(where)}'")):
        zot.start()
    assert not zot.running
    assert zot.start_error is not None and where[-1] in zot.start_error
    assert (zot.starts, zot.config_loads) == (0, 0)
    assert port_closed(port)


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        # Authentik answers for the same document, but its issuer ends with "/"
        (lambda idp: idp.issuer.rstrip("/"), "issuer does not match"),
        (lambda idp: idp.issuer.replace("/zot/", "/other/"), "unreachable"),  # 404
        (lambda idp: f"http://127.0.0.1:{free_port()}/application/o/zot/", "unreachable"),
    ],
    ids=["issuer-differs", "no-discovery", "nobody-listening"],
)
def test_an_issuer_that_does_not_answer_or_differs_keeps_zot_down(
    tmp_path: Path, idp: Idp, issuer: Any, message: str
) -> None:
    config_file = tmp_path / "zot-config.json"
    write_config(config_file, oidc_config(tmp_path, idp, issuer=issuer(idp)))
    zot = ZotEmulator(config_file=config_file, port=idp.zot_port)
    with pytest.raises(
        ConfigRefused, match=f"failed to initialize new relying party oidc: .*{message}"
    ):
        zot.start()
    assert not zot.running and port_closed(idp.zot_port)
    assert zot.start_error is not None and message in zot.start_error
    assert zot.starts == 0 and zot.requests == []
    # with the issuer right, the same emulator starts
    write_config(config_file, oidc_config(tmp_path, idp))
    with zot:
        assert zot.start_error is None and zot.starts == 1
        assert HTTP.get(f"{zot.url}/v2/_zot/ext/mgmt").status_code == 200


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("oidc.json", '{"clientid": "zot"}', "unset keys"),
        ("oidc.json", '{"clientid": "zot", "clientsecret": "s", "extra": 1}', "unknown keys"),
        ("oidc", '{"clientid": "zot", "clientsecret": "s"}', "Unsupported Config Type"),
    ],
)
def test_the_credentials_file_is_read_strictly_at_start_up(
    tmp_path: Path, idp: Idp, name: str, text: str, message: str
) -> None:
    config = oidc_config(tmp_path, idp)
    credentials = tmp_path / name
    credentials.write_text(text)
    config["http"]["auth"]["openid"]["providers"]["oidc"]["credentialsFile"] = str(credentials)
    zot = ZotEmulator(
        config_file=write_config(tmp_path / "zot-config.json", config), port=idp.zot_port
    )
    with pytest.raises(ConfigRefused, match=message):
        zot.start()
    assert not zot.running and port_closed(idp.zot_port)
    assert zot.start_error is not None and message in zot.start_error
    # the issuer was never asked: the file is read before the relying party is built
    assert not [r for r in idp.authentik.requests if "well-known" in r.path]


def test_a_restart_with_a_refused_config_leaves_zot_down(tmp_path: Path) -> None:
    zot = keyed_zot(tmp_path, keyed_config())
    try:
        broken = keyed_config()
        broken["http"]["adress"] = "typo"
        write_config(zot.config_file or tmp_path, broken)
        with pytest.raises(ConfigRefused, match=r"http\.adress"):
            zot.restart()
        assert not zot.running and port_closed(zot.port)
        assert zot.start_error is not None and "http.adress" in zot.start_error
        write_config(zot.config_file or tmp_path, keyed_config())
        zot.restart()
        assert zot.running and zot.start_error is None and zot.starts == 2
        assert push_image(zot, "app", "v1", basic("ci", CI_KEY)).status_code == 201
    finally:
        zot.stop()


# the config watcher --------------------------------------------------------------------------


def test_an_in_place_write_reloads_access_control(tmp_path: Path) -> None:
    config_file = tmp_path / "zot-config.json"
    zot = keyed_zot(tmp_path, keyed_config())
    nobody = basic("nobody", NOBODY_KEY)
    try:
        assert_authz_fail(start_upload(zot, nobody), 403)  # defaultPolicy: read only

        opened = keyed_config()
        opened["http"]["accessControl"]["repositories"]["**"]["defaultPolicy"] = ["read", "create"]
        write_config(config_file, opened)
        assert start_upload(zot, nobody).status_code == 202
        assert (zot.starts, zot.config_loads, zot.config_error) == (1, 2, None)

        typo = keyed_config()
        typo["http"]["accessControl"]["repositories"]["**"]["anonymousPolicys"] = ["read"]
        write_config(config_file, typo)
        assert start_upload(zot, nobody).status_code == 202  # the last good config stays
        assert zot.config_error is not None and "anonymousPolicys" in zot.config_error
        assert zot.config_loads == 2

        write_config(config_file, keyed_config())
        assert_authz_fail(start_upload(zot, nobody), 403)
        assert zot.config_loads == 3
        assert zot.config_error is None  # the refusal is forgotten once a write loads
        assert zot.running
    finally:
        zot.stop()


def test_a_file_renamed_over_the_config_is_ignored_and_the_watch_lost(tmp_path: Path) -> None:
    config_file = tmp_path / "zot-config.json"
    zot = keyed_zot(tmp_path, keyed_config())
    nobody = basic("nobody", NOBODY_KEY)
    opened = keyed_config()
    opened["http"]["accessControl"]["repositories"]["**"]["defaultPolicy"] = ["read", "create"]
    try:
        replace_config(config_file, opened)
        assert_authz_fail(start_upload(zot, nobody), 403)
        assert zot.config_loads == 1

        # the watch was on the old inode: later in-place writes are not seen either
        opened["http"]["accessControl"]["repositories"]["**"]["policies"] = []
        write_config(config_file, opened)
        assert_authz_fail(start_upload(zot, nobody), 403)
        assert (zot.config_loads, zot.config_error) == (1, None)

        zot.restart()  # reads the file and watches the new inode
        assert start_upload(zot, nobody).status_code == 202
        assert (zot.starts, zot.config_loads) == (2, 2)
        write_config(config_file, keyed_config())
        assert_authz_fail(start_upload(zot, nobody), 403)
        assert zot.config_loads == 3
    finally:
        zot.stop()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_a_reload_never_switches_authentication_on(tmp_path: Path, release: str) -> None:
    config_file = write_config(tmp_path / "zot-config.json", PLAIN)
    with ZotEmulator(
        config_file=config_file, release=release, state_file=tmp_path / "zot.json"
    ) as zot:
        assert start_upload(zot).status_code == 202
        write_config(config_file, keyed_config())
        assert start_upload(zot).status_code == 202  # reloaded, and still open
        assert (zot.config_loads, zot.config_error) == (2, None)
        # the key routes are made at start-up
        assert HTTP.get(f"{zot.url}/zot/auth/apikey").status_code == 404

        zot.restart()
        assert_auth_fail(start_upload(zot))
        assert HTTP.get(f"{zot.url}/zot/auth/apikey").status_code == 401


def test_a_reload_that_drops_access_control_denies_everything(tmp_path: Path) -> None:
    # the authorization middleware start-up installed reads the live configuration, and
    # without accessControl that is an empty one (NewAccessController)
    config_file = tmp_path / "zot-config.json"
    zot = keyed_zot(tmp_path, keyed_config(anonymous=True))
    ci = basic("ci", CI_KEY)
    try:
        assert push_image(zot, "app", "v1", ci).status_code == 201
        no_access_control = keyed_config()
        del no_access_control["http"]["accessControl"]
        write_config(config_file, no_access_control)
        assert_authz_fail(start_upload(zot, ci), 403)
        assert_authz_fail(HTTP.get(f"{zot.url}/v2/app/tags/list", headers=ci), 403)
        # and the anonymous reads went with the anonymous policy
        assert_auth_fail(HTTP.get(f"{zot.url}/v2/app/tags/list"))

        zot.restart()  # no access control at start-up: no authorization at all
        assert start_upload(zot, basic("nobody", NOBODY_KEY)).status_code == 202
    finally:
        zot.stop()


# authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        basic("ci", "zak_wrong"),
        basic("admin", CI_KEY),  # a key works only with its owner's name
        basic("ci", "a-password"),  # htpasswd is not configured; not a key either
        {"Authorization": "Bearer x"},
    ],
    ids=["unknown-key", "other-owner", "not-a-key", "bearer"],
)
def test_wrong_credentials_get_the_bare_401_even_where_anonymous_reads_are_allowed(
    keyed: ZotEmulator, headers: dict[str, str]
) -> None:
    assert HTTP.get(f"{keyed.url}/v2/_catalog").status_code == 200  # anonymous read
    assert_auth_fail(HTTP.get(f"{keyed.url}/v2/_catalog", headers=headers))
    assert_auth_fail(HTTP.get(f"{keyed.url}/v2/", headers=headers))
    # the UI asks for no browser prompt: no challenge then
    assert_auth_fail(
        HTTP.get(f"{keyed.url}/v2/_catalog", headers={**headers, **UI}), challenge=None
    )
    assert HTTP.get(f"{keyed.url}/v2/_catalog", headers=basic("ci", CI_KEY)).status_code == 200


def test_empty_basic_credentials_are_anonymous_and_the_version_check_challenges(
    keyed: ZotEmulator,
) -> None:
    # without the challenge on a 200, skopeo would never send its credentials
    response = HTTP.get(f"{keyed.url}/v2/")
    assert response.status_code == 200
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    # "Basic Og==" (":") is what clients send for no credentials
    assert HTTP.get(f"{keyed.url}/v2/_catalog", headers=basic("", "")).status_code == 200


def test_without_credentials_or_anonymous_policy_only_mgmt_answers(tmp_path: Path) -> None:
    zot = keyed_zot(tmp_path, keyed_config(search=True))
    try:
        for path in ("/v2/", "/v2/_catalog", "/v2/app/tags/list"):
            assert_auth_fail(HTTP.get(f"{zot.url}{path}"))
        assert HTTP.get(f"{zot.url}/v2/_zot/ext/mgmt").status_code == 200
        # credentials are still judged on mgmt
        assert_auth_fail(HTTP.get(f"{zot.url}/v2/_zot/ext/mgmt", headers=basic("ci", "zak_x")))
    finally:
        zot.stop()


def test_without_a_realm_the_challenge_uses_zots_default(tmp_path: Path) -> None:
    config = keyed_config()
    del config["http"]["realm"]
    with ZotEmulator(config_file=write_config(tmp_path / "zot-config.json", config)) as zot:
        refused = start_upload(zot)
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="Authorization Required"'


# authorization -------------------------------------------------------------------------------


def test_authz_refusals_401_for_anonymous_403_for_authenticated(keyed: ZotEmulator) -> None:
    assert_authz_fail(start_upload(keyed), 401)  # anonymous got through authn, not authz
    assert_authz_fail(start_upload(keyed, basic("nobody", NOBODY_KEY)), 403)
    assert keyed.tags("app") == {}
    # and what the policies grant goes through
    assert push_image(keyed, "app", "v1", basic("ci", CI_KEY)).status_code == 201
    assert HTTP.get(f"{keyed.url}/v2/app/tags/list").json() == {"name": "app", "tags": ["v1"]}


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_overwriting_latest_needs_update_from_2_1_15(tmp_path: Path, release: str) -> None:
    zot = keyed_zot(tmp_path, keyed_config(), release)
    ci, admin = basic("ci", CI_KEY), basic("admin", ADMIN_KEY)  # create-only / everything
    try:
        assert push_image(zot, "app", "latest", ci).status_code == 201
        again = push_image(zot, "app", "latest", ci, payload=b"newer")
        if release == "2.1.10":
            assert again.status_code == 201  # "latest" was exempt from update
        else:
            assert_authz_fail(again, 403)
        assert push_image(zot, "app", "v1", ci).status_code == 201
        first = zot.tags("app")["v1"]
        assert_authz_fail(push_image(zot, "app", "v1", ci, payload=b"newer"), 403)
        assert zot.tags("app")["v1"] == first
        assert push_image(zot, "app", "v1", admin, payload=b"newer").status_code == 201
        assert zot.tags("app")["v1"] != first
    finally:
        zot.stop()


def test_key_groups_come_from_the_owners_login_not_access_control_groups(
    tmp_path: Path,
) -> None:
    repositories = {"**": {"policies": [{"groups": ["pushers"], "actions": ["read", "create"]}]}}
    config = keyed_config(repositories=repositories, groups={"pushers": {"users": ["dev"]}})
    with ZotEmulator(config_file=write_config(tmp_path / "zot-config.json", config)) as zot:
        zot.add_api_key("dev", "zak_dev", [])
        zot.add_api_key("ops", "zak_ops", ["pushers"])
        assert_authz_fail(start_upload(zot, basic("dev", "zak_dev")), 403)
        assert start_upload(zot, basic("ops", "zak_ops")).status_code == 202


# metrics and mgmt ----------------------------------------------------------------------------


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_metrics_anonymous_by_empty_user_only_before_2_1_18(tmp_path: Path, release: str) -> None:
    zot = keyed_zot(
        tmp_path, keyed_config(anonymous=True, metrics={"users": ["", "admin"]}), release
    )
    try:
        anonymous = HTTP.get(f"{zot.url}/metrics")
        if release == "2.1.20":
            assert_authz_fail(anonymous, 401)
        else:
            assert anonymous.status_code == 200
            assert "zot_http_requests_total" in anonymous.text
        assert HTTP.get(f"{zot.url}/metrics", headers=basic("admin", ADMIN_KEY)).status_code == 200
        assert_authz_fail(HTTP.get(f"{zot.url}/metrics", headers=basic("ci", CI_KEY)), 403)
        assert_auth_fail(HTTP.get(f"{zot.url}/metrics", headers=basic("ci", "zak_x")))
    finally:
        zot.stop()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_an_empty_metrics_user_needs_some_anonymous_policy(tmp_path: Path, release: str) -> None:
    # without any anonymousPolicy an anonymous request never gets past authentication
    zot = keyed_zot(tmp_path, keyed_config(metrics={"users": [""]}), release)
    try:
        assert_auth_fail(HTTP.get(f"{zot.url}/metrics"))
    finally:
        zot.stop()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_metrics_anonymous_policy_from_2_1_18(tmp_path: Path, release: str) -> None:
    config = keyed_config(metrics={"users": ["admin"], "anonymousPolicy": ["read"]})
    if release != "2.1.20":
        with pytest.raises(ConfigRefused, match=r"metrics\.anonymousPolicy"):
            keyed_zot(tmp_path, config, release)
        return
    zot = keyed_zot(tmp_path, config, release)
    try:
        # no repository has an anonymousPolicy, yet /metrics is open to anonymous callers
        assert_auth_fail(HTTP.get(f"{zot.url}/v2/_catalog"))
        assert HTTP.get(f"{zot.url}/metrics").status_code == 200
        assert HTTP.get(f"{zot.url}/metrics", headers=basic("admin", ADMIN_KEY)).status_code == 200
        assert_authz_fail(HTTP.get(f"{zot.url}/metrics", headers=basic("ci", CI_KEY)), 403)
    finally:
        zot.stop()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_metrics_with_no_users_refuse_authenticated_callers(tmp_path: Path, release: str) -> None:
    zot = keyed_zot(tmp_path, keyed_config(metrics={"users": []}), release)
    try:
        refused = HTTP.get(f"{zot.url}/metrics", headers=basic("admin", ADMIN_KEY))
        # before c18a4a97 (2.1.18) the empty list answered 401 to everyone
        assert_authz_fail(refused, 403 if release == "2.1.20" else 401)
    finally:
        zot.stop()


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_mgmt_names_the_release_and_the_auth_methods(tmp_path: Path, release: str) -> None:
    zot = keyed_zot(tmp_path, keyed_config(search=True), release)
    try:
        mgmt = HTTP.get(f"{zot.url}/v2/_zot/ext/mgmt")
        assert mgmt.status_code == 200
        assert mgmt.json()["releaseTag"] == f"v{release}"
        assert mgmt.json()["http"] == {"auth": {"apikey": True}}
    finally:
        zot.stop()
    with ZotEmulator(release=release) as plain:  # no search extension, no mgmt route
        assert HTTP.get(f"{plain.url}/v2/_zot/ext/mgmt").status_code == 404


# OIDC login and API keys ---------------------------------------------------------------------


@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_oidc_login_mints_a_key_that_pushes(tmp_path: Path, idp: Idp, release: str) -> None:
    config = oidc_config(tmp_path, idp, claim_mapping=username_mapping(release))
    config_file = write_config(tmp_path / "zot-config.json", config)
    # 2.1.10 knows only the email; from 2.1.11 the claim claimMapping.username names
    identity = "ci@lab.invalid" if release == "2.1.10" else "ci"
    with ZotEmulator(config_file=config_file, release=release, port=idp.zot_port) as zot:
        mgmt = HTTP.get(f"{zot.url}/v2/_zot/ext/mgmt").json()
        assert mgmt["releaseTag"] == f"v{release}"
        assert set(mgmt["http"]["auth"]) == {"openid", "apikey"}  # openid forces API keys

        # the login: a redirect to the issuer's authorization endpoint with zot's client
        with httpx.Client(timeout=5, follow_redirects=False) as browser:
            login = browser.get(f"{zot.url}/zot/auth/login", params={"provider": "oidc"})
            assert login.status_code == 302
            location = urlsplit(login.headers["Location"])
            assert f"{location.scheme}://{location.netloc}{location.path}" == (
                f"{idp.authentik.url}/application/o/authorize/"
            )
            query = {name: values[0] for name, values in parse_qs(location.query).items()}
            assert query["client_id"] == "zot"
            assert query["response_type"] == "code"
            assert (
                query["redirect_uri"] == f"http://127.0.0.1:{idp.zot_port}/zot/auth/callback/oidc"
            )
            assert query["scope"].split() == ["openid", "email", "profile"]
            assert browser.cookies.get("statecookie") == query["state"]

        with log_in(zot, "ci", CI_PASSWORD) as browser:
            assert zot.credentials.groups == {identity: ["artifact-workloads"]}
            # the session cookie alone is not a login: the UI header must come with it
            bare = browser.post(f"{zot.url}/zot/auth/apikey", json={"label": "forgejo-ci"})
            assert_auth_fail(bare)
            key = mint_key(browser, zot)
            listed = browser.get(f"{zot.url}/zot/auth/apikey", headers=UI)
            assert listed.status_code == 200
            (details,) = listed.json()["apiKeys"]
            assert details["label"] == "forgejo-ci" and "apiKey" not in details
            logout = browser.post(f"{zot.url}/zot/auth/logout")
            assert logout.status_code == 200
            if release == "2.1.10":
                assert logout.content == b""
            else:
                assert logout.json() == {}

        ci = basic(identity, key)
        assert push_image(zot, "blumeops/app", "v1", ci).status_code == 201
        # the groups of the login reach authorization: artifact-workloads may create only
        assert_authz_fail(push_image(zot, "blumeops/app", "v1", ci, payload=b"newer"), 403)
        other_name = "ci" if identity != "ci" else "ci@lab.invalid"
        assert_auth_fail(HTTP.get(f"{zot.url}/v2/_catalog", headers=basic(other_name, key)))

        with log_in(zot, "admin", ADMIN_PASSWORD) as browser:
            admin_key = mint_key(browser, zot, "admin")
        admin_identity = "admin@lab.invalid" if release == "2.1.10" else "admin"
        admin = basic(admin_identity, admin_key)
        overwrite = push_image(zot, "blumeops/app", "v1", admin, payload=b"newer")
        assert overwrite.status_code == 201

        # a key can manage keys too; a deleted key stops working
        deleted = HTTP.delete(
            f"{zot.url}/zot/auth/apikey", params={"id": details["uuid"]}, headers=ci
        )
        assert deleted.status_code == 200
        assert_auth_fail(HTTP.get(f"{zot.url}/v2/_catalog", headers=ci))


def test_skopeo_pushes_with_a_key_minted_through_the_oidc_login(
    tmp_path: Path, idp: Idp, layout: Path
) -> None:
    config = oidc_config(tmp_path, idp, claim_mapping={"username": "preferred_username"})
    config_file = write_config(tmp_path / "zot-config.json", config)
    with ZotEmulator(config_file=config_file, port=idp.zot_port) as zot:
        with log_in(zot, "ci", CI_PASSWORD) as browser:
            key = mint_key(browser, zot)
        assert skopeo_push(layout, zot, "blumeops/app:v1").returncode != 0  # anonymous
        pushed = skopeo_push(layout, zot, "blumeops/app:v1", f"ci:{key}")
        assert pushed.returncode == 0, pushed.stderr
        assert list(zot.tags("blumeops/app")) == ["v1"]
        again = skopeo_push(layout, zot, "blumeops/app:v1", f"ci:{key}")
        assert again.returncode != 0  # the same tag again is an update
        assert any(r.status == 403 and r.path.endswith("/manifests/v1") for r in zot.requests)


@pytest.mark.parametrize("release", ["2.1.17", "2.1.20"])
def test_the_groups_claim_is_configurable_and_may_be_a_string(
    tmp_path: Path, idp: Idp, release: str
) -> None:
    # Authentik's "nickname" is the username, a single string: a group of its own from 2.1.17
    repositories = {"**": {"policies": [{"groups": ["ci"], "actions": ["read", "create"]}]}}
    config = oidc_config(
        tmp_path,
        idp,
        claim_mapping={"username": "preferred_username", "groups": "nickname"},
        repositories=repositories,
    )
    config_file = write_config(tmp_path / "zot-config.json", config)
    with ZotEmulator(config_file=config_file, release=release, port=idp.zot_port) as zot:
        with log_in(zot, "ci", CI_PASSWORD) as browser:
            key = mint_key(browser, zot)
        assert zot.credentials.groups == {"ci": ["ci"]}
        assert push_image(zot, "app", "v1", basic("ci", key)).status_code == 201


def test_a_reload_changes_the_claim_mapping_of_the_next_login(tmp_path: Path, idp: Idp) -> None:
    config = oidc_config(tmp_path, idp, claim_mapping={"username": "preferred_username"})
    config_file = write_config(tmp_path / "zot-config.json", config)
    with ZotEmulator(config_file=config_file, release="2.1.17", port=idp.zot_port) as zot:
        with log_in(zot, "ci", CI_PASSWORD):
            pass
        config["http"]["auth"]["openid"]["providers"]["oidc"]["claimMapping"] = {
            "username": "email"
        }
        write_config(config_file, config)
        with log_in(zot, "ci", CI_PASSWORD):
            pass
        assert zot.config_loads == 2
        assert set(zot.credentials.groups) == {"ci", "ci@lab.invalid"}


def test_the_login_routes_exist_only_when_openid_was_there_at_start_up(
    tmp_path: Path, idp: Idp
) -> None:
    config_file = write_config(tmp_path / "zot-config.json", keyed_config())
    with ZotEmulator(config_file=config_file, port=idp.zot_port) as zot:
        login = f"{zot.url}/zot/auth/login?provider=oidc"
        assert HTTP.get(login).status_code == 404
        write_config(config_file, oidc_config(tmp_path, idp))
        assert HTTP.get(login).status_code == 404  # reloaded, yet no relying party
        assert zot.config_loads == 2 and zot.config_error is None
        zot.restart()
        assert HTTP.get(login).status_code == 302
        assert HTTP.get(f"{zot.url}/zot/auth/login?provider=github").status_code == 400
        # a callback without the state zot handed out is refused
        with httpx.Client(cookies={"statecookie": "forged"}) as forger:
            callback = forger.get(
                f"{zot.url}/zot/auth/callback/oidc", params={"code": "x", "state": "forged"}
            )
        assert callback.status_code == 401
        assert "session" not in callback.cookies


def test_a_session_without_the_ui_header_is_anonymous_where_anonymous_is_allowed(
    tmp_path: Path, idp: Idp
) -> None:
    repositories = {"**": {"policies": [], "anonymousPolicy": ["read"]}}
    config = oidc_config(
        tmp_path,
        idp,
        claim_mapping={"username": "preferred_username"},
        repositories=repositories,
    )
    config_file = write_config(tmp_path / "zot-config.json", config)
    with (
        ZotEmulator(config_file=config_file, port=idp.zot_port) as zot,
        log_in(zot, "ci", CI_PASSWORD) as browser,
    ):
        # anonymous got through authentication; MetaDB refuses a key without an owner
        assert browser.post(f"{zot.url}/zot/auth/apikey", json={}).status_code == 500
        assert browser.post(f"{zot.url}/zot/auth/apikey", json={}, headers=UI).status_code == 201
