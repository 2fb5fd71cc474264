"""What a zot stand-in stores and the OCI distribution routes over it: repositories with
their tags, manifests and blobs, and upload sessions (:class:`Storage`). Authentication and
authorization happen before a request gets here (:mod:`.zot`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.lab.emulators._server import (
    EmulatorError,
    JSONValue,
    Request,
    Response,
    write_atomically,
)
from mikado.lab.emulators._swagger import SwaggerSpec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

# the OCI distribution grammar of repository names: lower-case components joined by "/"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"(sha256|sha512):([a-f0-9]+)")


@dataclass(slots=True)
class _Upload:
    repository: str
    data: bytearray


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Storage:
    """Repositories, blobs and upload sessions. ``save`` persists the emulator's state after
    a change; with a ``blob_folder`` blobs are kept there too. ``spec`` (the release's
    Swagger document) checks manifests against its schemas when given."""

    def __init__(self, save: Callable[[], None], spec: SwaggerSpec | None) -> None:
        self._save = save
        self.spec = spec
        self.docker_media_types = False  # zot's http.compat: docker2s2 accepts Docker types
        self.blob_folder: Path | None = None
        self.repos: dict[str, dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, _Upload] = {}

    def reset(self) -> None:
        self.repos, self.blobs, self.uploads = {}, {}, {}

    def load(self, repos: Mapping[str, Any]) -> None:
        """Repositories from a state file, their blobs from the blob folder."""
        self.repos = {name: dict(repo) for name, repo in repos.items()}
        folder = self.blob_folder
        for digest in {d for repo in self.repos.values() for d in repo["blobs"]}:
            blob_path = folder / digest.replace(":", "-") if folder else None
            if blob_path is None or not blob_path.is_file():
                raise EmulatorError(f"blob {digest} is missing from {folder}")
            self.blobs[digest] = blob_path.read_bytes()

    def tags(self, repository: str) -> dict[str, str]:
        """tag → manifest digest of one repository (empty when it does not exist)."""
        return dict(self.repos.get(repository, {}).get("tags", {}))

    # blobs -----------------------------------------------------------------------------------

    def blob(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        digest = params["digest"]
        repo = self.repos.get(name)
        if _DIGEST.fullmatch(digest) is None:
            return oci_error(400, "DIGEST_INVALID", "provided digest did not match content")
        if repo is None or digest not in repo["blobs"] or digest not in self.blobs:
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if request.method == "DELETE":
            repo["blobs"].remove(digest)
            self._save()
            return Response(202)
        if request.method not in ("GET", "HEAD"):
            return oci_error(405, "UNSUPPORTED", "method not allowed")
        data = self.blobs[digest]
        return Response(
            200,
            data,
            [("Content-Type", "application/octet-stream"), ("Docker-Content-Digest", digest)],
        )

    def _repo(self, name: str) -> dict[str, Any]:
        return self.repos.setdefault(name, {"tags": {}, "manifests": {}, "blobs": []})

    def start_upload(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        if request.method != "POST":
            return oci_error(405, "UNSUPPORTED", "method not allowed")
        mount, source = request.query_value("mount"), request.query_value("from")
        if mount and source and mount in self.repos.get(source, {}).get("blobs", []):
            self._link_blob(name, mount)
            return Response(
                201,
                b"",
                [("Location", f"/v2/{name}/blobs/{mount}"), ("Docker-Content-Digest", mount)],
            )
        digest = request.query_value("digest")
        if digest:  # monolithic upload in one POST
            return self._finish(name, digest, request.body)
        session = str(uuid.uuid4())
        self.uploads[session] = _Upload(name, bytearray())
        return _upload_progress(name, session, 0)

    def upload(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        session = params["session"]
        upload = self.uploads.get(session)
        if upload is None or upload.repository != name:
            return oci_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        if request.method == "GET":
            return _upload_progress(name, session, len(upload.data), status=204)
        if request.method == "DELETE":
            del self.uploads[session]
            return Response(204)
        if request.method == "PATCH":
            content_range = request.header("Content-Range")
            if content_range:
                start = content_range.split("-", 1)[0].strip()
                if not start.isdigit() or int(start) != len(upload.data):
                    return oci_error(416, "BLOB_UPLOAD_INVALID", "out of order chunk")
            upload.data.extend(request.body)
            return _upload_progress(name, session, len(upload.data))
        if request.method == "PUT":
            digest = request.query_value("digest")
            if not digest:
                return oci_error(400, "DIGEST_INVALID", "digest missing")
            upload.data.extend(request.body)
            response = self._finish(name, digest, bytes(upload.data))
            if response.status == 201:
                del self.uploads[session]
            return response
        return oci_error(405, "UNSUPPORTED", "method not allowed")

    def _finish(self, name: str, digest: str, data: bytes) -> Response:
        matched = _DIGEST.fullmatch(digest)
        if matched is None or digest_of(data, matched.group(1)) != digest:
            return oci_error(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
        self.store_blob(digest, data)
        self._link_blob(name, digest)
        return Response(
            201,
            b"",
            [("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)],
        )

    def _link_blob(self, name: str, digest: str) -> None:
        repo = self._repo(name)
        if digest not in repo["blobs"]:
            repo["blobs"].append(digest)
        self._save()

    # manifests -------------------------------------------------------------------------------

    def manifest(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        reference = params["reference"]
        if request.method == "PUT":
            return self._put_manifest(request, name, reference)
        repo = self.repos.get(name)
        if repo is None:
            return oci_error(404, "NAME_UNKNOWN", "repository name not known to registry")
        digest = repo["tags"].get(reference, reference)
        if digest not in repo["manifests"]:
            return oci_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        if request.method == "DELETE":
            if reference in repo["tags"]:
                del repo["tags"][reference]
            else:
                del repo["manifests"][digest]
                repo["tags"] = {t: d for t, d in repo["tags"].items() if d != digest}
            self._save()
            return Response(202)
        return Response(
            200,
            self.blobs[digest],
            [("Content-Type", repo["manifests"][digest]), ("Docker-Content-Digest", digest)],
        )

    def _put_manifest(self, request: Request, name: str, reference: str) -> Response:
        media_type = (request.header("Content-Type") or "").split(";", 1)[0].strip()
        allowed: tuple[str, ...] = (OCI_MANIFEST, OCI_INDEX)
        if self.docker_media_types:
            allowed += (DOCKER_MANIFEST, DOCKER_LIST)
        if media_type not in allowed:
            return oci_error(415, "MANIFEST_INVALID", f"unsupported media type {media_type!r}")
        try:
            manifest = request.parsed_json()
        except ValueError:
            return oci_error(400, "MANIFEST_INVALID", "manifest is not JSON")
        problem = self._manifest_problem(manifest, media_type, name)
        if problem is not None:
            code, message = problem
            return oci_error(400, code, message)
        digest = digest_of(request.body)
        if _DIGEST.fullmatch(reference):
            if reference != digest:
                return oci_error(400, "DIGEST_INVALID", "manifest digest did not match reference")
        elif not _TAG.fullmatch(reference):
            return oci_error(400, "TAG_INVALID", f"invalid tag {reference!r}")
        self.store_blob(digest, request.body)
        repo = self._repo(name)
        repo["manifests"][digest] = media_type
        if digest not in repo["blobs"]:
            repo["blobs"].append(digest)
        if reference != digest:
            repo["tags"][reference] = digest
        self._save()
        return Response(
            201,
            b"",
            [("Location", f"/v2/{name}/manifests/{digest}"), ("Docker-Content-Digest", digest)],
        )

    def _manifest_problem(
        self, manifest: Any, media_type: str, name: str
    ) -> tuple[str, str] | None:
        if not isinstance(manifest, dict):
            return ("MANIFEST_INVALID", "manifest is not a JSON object")
        index = media_type in _INDEX_TYPES
        if self.spec is not None:
            schema = "api.ImageIndex" if index else "api.ImageManifest"
            problems = self.spec.definition_problems(schema, manifest)
            if problems:
                return ("MANIFEST_INVALID", "; ".join(problems))
        if manifest.get("schemaVersion") != 2:
            return ("MANIFEST_INVALID", "schemaVersion must be 2")
        declared = manifest.get("mediaType")
        if declared is not None and declared != media_type:
            return ("MANIFEST_INVALID", "mediaType does not match Content-Type")
        repo = self.repos.get(name, {"blobs": [], "manifests": {}})
        if index:
            for entry in manifest.get("manifests") or []:
                if entry.get("digest") not in repo["manifests"]:
                    return ("MANIFEST_BLOB_UNKNOWN", f"manifest {entry.get('digest')} unknown")
            return None
        descriptors = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
        for descriptor in descriptors:
            digest = descriptor.get("digest")
            if digest not in repo["blobs"]:
                return ("MANIFEST_BLOB_UNKNOWN", f"blob {digest} unknown to registry")
            if descriptor.get("size") != len(self.blobs[digest]):
                return ("SIZE_INVALID", f"size of {digest} does not match the blob")
        return None

    def store_blob(self, digest: str, data: bytes) -> None:
        if digest in self.blobs:
            return
        self.blobs[digest] = data
        folder = self.blob_folder
        if folder is not None:
            write_atomically(folder / digest.replace(":", "-"), data)

    def tags_list(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        repo = self.repos.get(name)
        if repo is None:
            return oci_error(404, "NAME_UNKNOWN", "repository name not known to registry")
        return registry_response(200, {"name": name, "tags": page(sorted(repo["tags"]), request)})


def page(names: list[str], request: Request) -> list[str]:
    last = request.query_value("last")
    if last:
        names = [name for name in names if name > last]
    count = request.query_value("n")
    if count is not None and count.isdigit():
        names = names[: int(count)]
    return names


def registry_response(status: int, payload: JSONValue) -> Response:
    response = Response.of_json(status, payload)
    response.headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
    return response


def oci_error(status: int, code: str, message: str) -> Response:
    return registry_response(status, {"errors": [{"code": code, "message": message, "detail": {}}]})


def _upload_progress(name: str, session: str, size: int, status: int = 202) -> Response:
    return Response(
        status,
        b"",
        [
            ("Location", f"/v2/{name}/blobs/uploads/{session}"),
            ("Range", f"0-{max(size - 1, 0)}"),
            ("Docker-Upload-UUID", session),
        ],
    )
