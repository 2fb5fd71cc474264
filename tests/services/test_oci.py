"""The OCI client against the real CNCF distribution registry."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from mikado.errors import ServiceError
from mikado.lab.emulators import AuthentikEmulator, ZotEmulator
from mikado.services import zot_config
from mikado.services.authentik import AuthentikClient, OAuth2ProviderSpec, RedirectURI
from mikado.services.oci import (
    OCI_MANIFEST,
    RegistryClient,
    build_probe_image,
    sha256_digest,
)

if TYPE_CHECKING:
    from tests.services.conftest import RunningRegistry


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_running_registry_lists_its_catalog(
    registry: RunningRegistry, http: httpx.Client
) -> None:
    assert isinstance(RegistryClient(http, registry.url).catalog(), list)


def test_a_closed_port_names_the_request(http: httpx.Client) -> None:
    client = RegistryClient(http, "http://127.0.0.1:9")
    with pytest.raises(ServiceError) as caught:
        client.catalog()
    assert caught.value.request == "GET http://127.0.0.1:9/v2/_catalog"
    assert caught.value.status is None
    assert "ConnectError" in caught.value.detail


def test_push_then_pull_round_trips_with_verified_digests(
    registry: RunningRegistry, http: httpx.Client
) -> None:
    client = RegistryClient(http, registry.url)
    name = f"blumeops/{_unique('app')}"
    pushed = client.push_image(name, "v1")
    image = build_probe_image(f"{name}:v1\n".encode())

    assert pushed.manifest_digest == image.manifest_digest
    assert set(pushed.uploaded) == {image.layer.digest, image.config.digest}

    pulled = client.pull(name, "v1")
    assert pulled.manifest_digest == pushed.manifest_digest
    assert pulled.media_type == OCI_MANIFEST
    assert pulled.config.digest == image.config.digest
    (layer,) = pulled.layers
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.data))) as archive:
        member = archive.extractfile("mikado-probe.txt")
        assert member is not None
        assert member.read() == f"{name}:v1\n".encode()
    config = json.loads(pulled.config.data)
    assert config["rootfs"]["diff_ids"] == [sha256_digest(gzip.decompress(layer.data))]

    by_digest = client.pull(name, pushed.manifest_digest)
    assert by_digest.manifest == pulled.manifest


def test_second_push_skips_blobs_the_registry_already_has(
    registry: RunningRegistry, http: httpx.Client
) -> None:
    client = RegistryClient(http, registry.url)
    name = _unique("skip")
    first = client.push_image(name, "a")
    second = client.push_image(name, "b", payload=f"{name}:a\n".encode())
    assert len(first.uploaded) == 2
    assert second.uploaded == ()
    assert second.manifest_digest == first.manifest_digest


def test_tags_and_catalog_follow_what_was_pushed(
    registry: RunningRegistry, http: httpx.Client
) -> None:
    client = RegistryClient(http, registry.url)
    name = f"team/{_unique('multi')}/deep"
    assert client.tags(name) == []

    for tag in ("1.0", "1.1", "latest"):
        client.push_image(name, tag)

    assert sorted(client.tags(name)) == ["1.0", "1.1", "latest"]
    assert name in client.catalog()


def test_catalog_follows_link_pagination(registry: RunningRegistry, http: httpx.Client) -> None:
    client = RegistryClient(http, registry.url)
    names = sorted(f"{_unique('paged')}/r{index}" for index in range(3))
    for name in names:
        client.push_image(name, "v1")
    # One repository per page: the client has to follow every Link header to see all.
    first_page = http.get(f"{registry.url}/v2/_catalog", params={"n": 1})
    assert 'rel="next"' in first_page.headers["link"]
    paged = client.catalog(page_size=1)
    assert paged == client.catalog()
    assert set(names) <= set(paged)


def test_a_404_that_is_not_name_unknown_is_an_error(
    http: httpx.Client, registry: RunningRegistry
) -> None:
    client = RegistryClient(http, registry.url + "/not-the-registry")
    with pytest.raises(ServiceError) as caught:
        client.tags("some/repo")
    assert caught.value.status == 404


def test_invalid_names_are_refused_before_sending(http: httpx.Client) -> None:
    client = RegistryClient(http, "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="repository name"):
        client.tags("Upper/Case")
    with pytest.raises(ValueError, match="tag or digest"):
        client.pull("ok", "bad tag")


def test_anonymous_push_to_a_protected_registry_is_401_without_the_password(
    auth_registry: RunningRegistry, http: httpx.Client
) -> None:
    assert auth_registry.user and auth_registry.password
    client = RegistryClient(http, auth_registry.url)
    with pytest.raises(ServiceError) as caught:
        client.push_image("blumeops/app", "v1", auth=None)
    error = caught.value
    assert error.status == 401
    assert error.request.startswith("HEAD ") or error.request.startswith("POST ")
    assert error.hint and "credentials" in error.hint


def test_anonymous_manifest_put_carries_the_registry_error_code(
    auth_registry: RunningRegistry, http: httpx.Client
) -> None:
    client = RegistryClient(http, auth_registry.url)
    with pytest.raises(ServiceError) as caught:
        client.put_manifest("blumeops/app", "v1", build_probe_image(b"x").manifest, auth=None)
    assert caught.value.status == 401
    assert caught.value.detail.startswith("UNAUTHORIZED: ")


def test_wrong_password_is_401_and_never_echoed(
    auth_registry: RunningRegistry, http: httpx.Client
) -> None:
    assert auth_registry.user
    wrong = "wrong-Pa55-zzz"
    client = RegistryClient(http, auth_registry.url, auth=(auth_registry.user, wrong))
    with pytest.raises(ServiceError) as caught:
        client.catalog()
    assert caught.value.status == 401
    assert wrong not in str(caught.value)


def test_push_with_basic_auth_succeeds(auth_registry: RunningRegistry, http: httpx.Client) -> None:
    assert auth_registry.user and auth_registry.password
    credentials = (auth_registry.user, auth_registry.password)
    anonymous_client = RegistryClient(http, auth_registry.url)
    name = f"blumeops/{_unique('app')}"
    pushed = anonymous_client.push_image(name, "v1", auth=credentials)
    authed = RegistryClient(http, auth_registry.url, auth=credentials)
    assert authed.tags(name) == ["v1"]
    assert authed.pull(name, "v1").manifest_digest == pushed.manifest_digest
    with pytest.raises(ServiceError) as caught:
        anonymous_client.tags(name)
    assert caught.value.status == 401


class _TokenAuthRegistryHandler(BaseHTTPRequestHandler):
    """A registry front that asks for a bearer token, as Docker Hub does."""

    def do_GET(self) -> None:
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="https://auth.test/token"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_bearer_challenge_gets_its_own_hint(http: httpx.Client) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenAuthRegistryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = RegistryClient(http, f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(ServiceError) as caught:
            client.catalog()
        assert caught.value.status == 401
        assert caught.value.detail == "UNAUTHORIZED: authentication required"
        assert caught.value.hint and "bearer token" in caught.value.hint
    finally:
        server.shutdown()
        server.server_close()


# --- against the zot emulator, configured with the hardened zot configuration --------------

AUTHENTIK_TOKEN = "ak-token-for-zot-test"
CI_USER, CI_KEY = "ci-bot", "zak_ci_key_0123456789"
ADMIN_USER, ADMIN_KEY = "alice", "zak_admin_key_9876543210"


@pytest.fixture
def hardened_zot(tmp_path: Path, http: httpx.Client) -> Iterator[ZotEmulator]:
    """zot following a config hardened by mikado.services.zot_config, issuer in Authentik."""
    with AuthentikEmulator(token=AUTHENTIK_TOKEN) as authentik:
        authentik_client = AuthentikClient(http, authentik.url, AUTHENTIK_TOKEN)
        mappings = authentik_client.scope_mappings(["openid", "email", "profile"])
        provider, _ = authentik_client.ensure_oauth2_provider(
            OAuth2ProviderSpec(
                name="zot",
                client_id="zot",
                client_secret="zot-client-secret",
                redirect_uris=(RedirectURI("http://127.0.0.1/zot/auth/callback/oidc"),),
                authorization_flow=authentik_client.flow(
                    "default-provider-authorization-implicit-consent"
                ).pk,
                invalidation_flow=authentik_client.flow("default-provider-invalidation-flow").pk,
                signing_key=None,
                property_mappings=tuple(mapping.pk for mapping in mappings.values()),
            )
        )
        authentik_client.ensure_application("zot", "zot", provider.pk)
        credentials = tmp_path / "oidc-credentials.json"
        zot_config.write_credentials_file(credentials, "zot", "zot-client-secret")
        before = {
            "distSpecVersion": "1.1.0",
            "storage": {"rootDirectory": str(tmp_path / "zot"), "gc": True},
            "http": {"address": "127.0.0.1", "port": "0"},
            "log": {"level": "info"},
        }
        hardened = zot_config.merge_hardening(
            before,
            zot_config.ZotHardening(
                external_url="http://127.0.0.1",
                issuer=authentik.issuer_for("zot"),
                credentials_file=str(credentials),
                access_control=zot_config.access_control_policy("artifact-workloads", "admins"),
            ),
        )
        zot_config.validate(hardened)
        config_file = tmp_path / "config.json"
        zot_config.write_atomic(config_file, zot_config.render(hardened))
        with ZotEmulator(config_file=config_file) as zot:
            zot.add_api_key(CI_USER, CI_KEY, ["artifact-workloads"])
            zot.add_api_key(ADMIN_USER, ADMIN_KEY, ["admins"])
            yield zot


def test_hardened_zot_refuses_anonymous_push_with_401(
    hardened_zot: ZotEmulator, http: httpx.Client
) -> None:
    client = RegistryClient(http, hardened_zot.url)
    with pytest.raises(ServiceError) as caught:
        client.push_image("blumeops/app", "v1")
    assert caught.value.status == 401
    assert hardened_zot.tags("blumeops/app") == {}


def test_hardened_zot_lets_ci_push_new_tags_but_not_overwrite_403(
    hardened_zot: ZotEmulator, http: httpx.Client
) -> None:
    ci = RegistryClient(http, hardened_zot.url, auth=(CI_USER, CI_KEY))
    pushed = ci.push_image("blumeops/app", "v1")
    assert set(hardened_zot.tags("blumeops/app")) == {"v1"}
    with pytest.raises(ServiceError) as caught:
        ci.push_image("blumeops/app", "v1", payload=b"a different image\n")
    error = caught.value
    assert error.status == 403
    assert error.detail.startswith("DENIED")
    assert error.request.startswith("PUT ") and error.request.endswith("/manifests/v1")
    assert CI_KEY not in str(error)
    assert hardened_zot.tags("blumeops/app")["v1"] == pushed.manifest_digest

    anonymous = RegistryClient(http, hardened_zot.url)
    assert anonymous.tags("blumeops/app") == ["v1"]
    assert anonymous.pull("blumeops/app", "v1").manifest_digest == pushed.manifest_digest
    admin = RegistryClient(http, hardened_zot.url, auth=(ADMIN_USER, ADMIN_KEY))
    overwritten = admin.push_image("blumeops/app", "v1", payload=b"a different image\n")
    assert hardened_zot.tags("blumeops/app")["v1"] == overwritten.manifest_digest
