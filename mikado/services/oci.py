"""A client for the OCI distribution API that every registry (zot included) speaks.

It does what the zot chain has to prove: list repositories and tags, check that a tag
exists, push a tiny generated image and pull it back with every digest verified. Push
failures keep the registry's status on the ServiceError, so a caller can tell "not
authenticated" (401) from "authenticated but not allowed" (403) — the difference between
anonymous push and tag overwrite in zot.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

import httpx

from mikado.errors import ServiceError
from mikado.services._http import ServiceTransport, describe_request

SERVICE = "registry"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST))

# distribution-spec: path components of lowercase alphanumerics joined by separators.
_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LINK_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")

_HINTS = {
    401: "the registry wants credentials: give a user and password (or API key)",
    403: "the credentials were accepted but lack permission for this "
    "(in zot, overwriting an existing tag needs `update`)",
}

BasicAuth = tuple[str, str]


def _challenge_hint(response: httpx.Response) -> str | None:
    challenge = response.headers.get("www-authenticate", "")
    if response.status_code == 401 and challenge.lower().startswith("bearer"):
        return "the registry wants a bearer token (token auth); this client speaks basic auth only"
    return None


class _AuthDefault(Enum):
    CLIENT = "client"


CLIENT_AUTH: Final = _AuthDefault.CLIENT
"""Use the client's default credentials (the default of every call)."""

Auth = BasicAuth | None | Literal[_AuthDefault.CLIENT]


def _oci_detail(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        return None
    parts = []
    for error in errors:
        if isinstance(error, dict):
            code = error.get("code") or ""
            message = error.get("message") or ""
            parts.append(f"{code}: {message}" if code and message else str(code or message))
    return "; ".join(part for part in parts if part) or None


def _error_codes(response: httpx.Response) -> set[str]:
    try:
        body = response.json()
    except ValueError:
        return set()
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(error.get("code")) for error in errors if isinstance(error, dict)}


def sha256_digest(data: bytes) -> str:
    """The OCI digest (``sha256:<hex>``) of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Blob:
    """Content addressed by its digest, as pushed or pulled."""

    media_type: str
    digest: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True, slots=True)
class ImageContent:
    """A complete single-layer image: config, layer and the manifest that binds them."""

    config: Blob
    layer: Blob
    manifest: bytes

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)


@dataclass(frozen=True, slots=True)
class PushedImage:
    """What push_image wrote; ``uploaded`` lists the blob digests that were not there yet."""

    name: str
    tag: str
    manifest_digest: str
    uploaded: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PulledImage:
    """A manifest and its blobs, each checked against its digest."""

    name: str
    reference: str
    manifest_digest: str
    media_type: str
    manifest: dict[str, Any]
    config: Blob
    layers: tuple[Blob, ...]


def build_probe_image(payload: bytes, *, filename: str = "mikado-probe.txt") -> ImageContent:
    """A minimal OCI image: one gzip tar layer holding ``payload`` as one file.

    Every timestamp is fixed, so the same payload always gives the same digests; a caller
    that needs a different manifest under the same tag passes a different payload.
    """
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(filename)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        archive.addfile(info, io.BytesIO(payload))
    tar_bytes = tar_buffer.getvalue()
    layer_data = gzip.compress(tar_bytes, mtime=0)
    layer = Blob(OCI_LAYER_GZIP, sha256_digest(layer_data), layer_data)
    config_document = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]},
    }
    config_data = json.dumps(config_document, separators=(",", ":"), sort_keys=True).encode()
    config = Blob(OCI_CONFIG, sha256_digest(config_data), config_data)
    manifest_document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    manifest = json.dumps(manifest_document, separators=(",", ":")).encode()
    return ImageContent(config=config, layer=layer, manifest=manifest)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a valid repository name: {name!r}")


def _check_reference(reference: str) -> None:
    if not (_TAG.fullmatch(reference) or _DIGEST.fullmatch(reference)):
        raise ValueError(f"not a valid tag or digest: {reference!r}")


class RegistryClient:
    """OCI distribution client for one registry.

    ``auth`` is the default HTTP basic (user, password); every call may override it, and
    ``None`` means anonymous.
    """

    def __init__(self, http: httpx.Client, base_url: str, *, auth: BasicAuth | None = None) -> None:
        self._base = httpx.URL(base_url.rstrip("/") + "/")
        self._auth = auth
        self._transport = ServiceTransport(
            SERVICE,
            http,
            parse_detail=_oci_detail,
            default_hints=_HINTS,
            secrets=(auth[1],) if auth else (),
            hint_for=_challenge_hint,
        )

    def _url(self, path: str) -> httpx.URL:
        return self._base.join(path.lstrip("/"))

    def _httpx_auth(self, auth: Auth) -> httpx.BasicAuth | None:
        chosen = self._auth if auth is CLIENT_AUTH else auth
        if isinstance(chosen, tuple):
            self._transport.add_secret(chosen[1])
            return httpx.BasicAuth(chosen[0], chosen[1])
        return None

    def _paged_list(self, url: httpx.URL, key: str, auth: Auth) -> list[str] | None:
        """Follow ``Link: <...>; rel="next"`` pages; None when the first page is NAME_UNKNOWN."""
        items: list[str] = []
        seen: set[str] = set()
        next_url: httpx.URL | None = url
        while next_url is not None and str(next_url) not in seen:
            seen.add(str(next_url))
            response = self._transport.send(
                "GET", next_url, expected={200, 404}, auth=self._httpx_auth(auth)
            )
            if response.status_code == 404:
                # Only "this repository does not exist" means "no tags"; any other 404
                # (a wrong base URL, a proxy) must not read as an empty registry.
                if not items and _error_codes(response) == {"NAME_UNKNOWN"}:
                    return None
                raise self._transport.error(response)
            body = self._transport.json(response)
            values = body.get(key) if isinstance(body, dict) else None
            items.extend(str(value) for value in values or [])
            match = _LINK_NEXT.search(response.headers.get("link", ""))
            next_url = response.request.url.join(match.group(1)) if match else None
        return items

    def catalog(self, *, page_size: int | None = None, auth: Auth = CLIENT_AUTH) -> list[str]:
        """Every repository the registry lists in ``/v2/_catalog``, across all pages."""
        url = self._url("v2/_catalog")
        if page_size is not None:
            url = url.copy_merge_params({"n": page_size})
        return self._paged_list(url, "repositories", auth) or []

    def tags(
        self, name: str, *, page_size: int | None = None, auth: Auth = CLIENT_AUTH
    ) -> list[str]:
        """The tags of ``name``, across all pages; a repository that does not exist has none."""
        _check_name(name)
        url = self._url(f"v2/{name}/tags/list")
        if page_size is not None:
            url = url.copy_merge_params({"n": page_size})
        return self._paged_list(url, "tags", auth) or []

    def blob_exists(self, name: str, digest: str, *, auth: Auth = CLIENT_AUTH) -> bool:
        """``HEAD`` a blob: True on 200, False on 404."""
        _check_name(name)
        response = self._transport.send(
            "HEAD",
            self._url(f"v2/{name}/blobs/{digest}"),
            expected={200, 404},
            auth=self._httpx_auth(auth),
            follow_redirects=True,
        )
        return response.status_code == 200

    def upload_blob(self, name: str, blob: Blob, *, auth: Auth = CLIENT_AUTH) -> bool:
        """Upload ``blob`` unless the registry has it; True when it was uploaded."""
        if self.blob_exists(name, blob.digest, auth=auth):
            return False
        start = self._transport.send(
            "POST",
            self._url(f"v2/{name}/blobs/uploads/"),
            expected={202},
            auth=self._httpx_auth(auth),
        )
        location = start.headers.get("location")
        if not location:
            raise ServiceError(
                SERVICE,
                describe_request("POST", start.request.url),
                "202 without a Location header: cannot continue the upload",
                status=202,
            )
        # Location may be relative or absolute and may carry its own query (upload state).
        upload_url = start.request.url.join(location).copy_merge_params({"digest": blob.digest})
        self._transport.send(
            "PUT",
            upload_url,
            expected={201},
            content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            auth=self._httpx_auth(auth),
        )
        return True

    def put_manifest(
        self,
        name: str,
        reference: str,
        manifest: bytes,
        *,
        media_type: str = OCI_MANIFEST,
        auth: Auth = CLIENT_AUTH,
    ) -> str:
        """Store ``manifest`` under ``reference``; returns the digest the registry reports."""
        _check_name(name)
        _check_reference(reference)
        response = self._transport.send(
            "PUT",
            self._url(f"v2/{name}/manifests/{reference}"),
            expected={201},
            content=manifest,
            headers={"Content-Type": media_type},
            auth=self._httpx_auth(auth),
        )
        return response.headers.get("docker-content-digest") or sha256_digest(manifest)

    def push_image(
        self,
        name: str,
        tag: str,
        auth: Auth = CLIENT_AUTH,
        *,
        payload: bytes | None = None,
    ) -> PushedImage:
        """Push a tiny generated image as ``name:tag``.

        ``payload`` is the content of the image's single file; by default it names the
        image, so pushing the same name and tag twice uploads nothing new.
        """
        _check_name(name)
        _check_reference(tag)
        image = build_probe_image(payload if payload is not None else f"{name}:{tag}\n".encode())
        uploaded = [
            blob.digest
            for blob in (image.layer, image.config)
            if self.upload_blob(name, blob, auth=auth)
        ]
        digest = self.put_manifest(name, tag, image.manifest, auth=auth)
        if digest != image.manifest_digest:
            raise ServiceError(
                SERVICE,
                describe_request("PUT", self._url(f"v2/{name}/manifests/{tag}")),
                f"the registry reports digest {digest}, expected {image.manifest_digest}",
                status=201,
            )
        return PushedImage(name, tag, digest, tuple(uploaded))

    def _get_blob(self, name: str, descriptor: dict[str, Any], auth: Auth) -> Blob:
        digest = str(descriptor.get("digest", ""))
        url = self._url(f"v2/{name}/blobs/{digest}")
        response = self._transport.send(
            "GET", url, expected={200}, auth=self._httpx_auth(auth), follow_redirects=True
        )
        actual = sha256_digest(response.content)
        if not digest.startswith("sha256:") or actual != digest:
            raise ServiceError(
                SERVICE,
                describe_request("GET", url),
                f"blob content has digest {actual}, expected {digest}",
            )
        size = descriptor.get("size")
        if isinstance(size, int) and size != len(response.content):
            raise ServiceError(
                SERVICE,
                describe_request("GET", url),
                f"blob has {len(response.content)} bytes, expected {size}",
            )
        return Blob(str(descriptor.get("mediaType", "")), digest, response.content)

    def pull(self, name: str, reference: str, *, auth: Auth = CLIENT_AUTH) -> PulledImage:
        """Fetch the image manifest and every blob it names, verifying each digest."""
        _check_name(name)
        _check_reference(reference)
        url = self._url(f"v2/{name}/manifests/{reference}")
        response = self._transport.send(
            "GET",
            url,
            expected={200},
            headers={"Accept": _MANIFEST_ACCEPT},
            auth=self._httpx_auth(auth),
        )
        digest = sha256_digest(response.content)
        claimed = response.headers.get("docker-content-digest")
        expected_digest = reference if reference.startswith("sha256:") else claimed
        if expected_digest and expected_digest != digest:
            raise ServiceError(
                SERVICE,
                describe_request("GET", url),
                f"manifest has digest {digest}, expected {expected_digest}",
            )
        manifest = self._transport.json(response)
        media_type = str(manifest.get("mediaType") or response.headers.get("content-type", ""))
        if media_type not in (OCI_MANIFEST, DOCKER_MANIFEST):
            raise ServiceError(
                SERVICE,
                describe_request("GET", url),
                f"{media_type or 'untyped manifest'} is not an image manifest",
            )
        config = self._get_blob(name, manifest["config"], auth)
        layers = tuple(self._get_blob(name, layer, auth) for layer in manifest.get("layers", []))
        return PulledImage(name, reference, digest, media_type, manifest, config, layers)
