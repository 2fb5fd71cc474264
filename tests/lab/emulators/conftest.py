"""Fixtures shared by the emulator tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator

AUTHENTIK_TOKEN = "authentik-test-token"


@pytest.fixture
def authentik(tmp_path: Path) -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(
        token=AUTHENTIK_TOKEN, state_file=tmp_path / "authentik.json", validate_requests=True
    ) as emulator:
        yield emulator


@pytest.fixture
def authentik_api(authentik: AuthentikEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=authentik.api_url,
        headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"},
        timeout=5,
    ) as client:
        yield client


FORGEJO_TOKEN = "forgejo-test-pat"


@pytest.fixture
def forgejo(tmp_path: Path) -> Iterator[ForgejoEmulator]:
    with ForgejoEmulator(
        token=FORGEJO_TOKEN,
        repos=["blumeops/blumeops"],
        state_file=tmp_path / "forgejo.json",
        validate_requests=True,
    ) as emulator:
        yield emulator


@pytest.fixture
def forgejo_api(forgejo: ForgejoEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=forgejo.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}, timeout=5
    ) as client:
        yield client


def write_oci_layout(folder: Path, tag: str, payload: bytes = b"hello from the lab\n") -> str:
    """A one-layer OCI image layout, made here so no test needs the network; returns its digest."""
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w") as archive:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(layer_buffer.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer_buffer.getvalue()).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "config": {},
        }
    ).encode()
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": put(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    manifest_digest = put(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest_digest
