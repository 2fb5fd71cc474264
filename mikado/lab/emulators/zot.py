"""A zot stand-in: the OCI distribution API with zot v2.1.20's authentication and authorization.

It follows a zot configuration file and reloads it when the file changes; a configuration zot
would refuse leaves the previous one in force and is reported in `config_error`. Requests are
checked against zot's own Swagger document when it is available. Blobs and manifests live in
memory and, with a state file, in a folder beside it, so a restarted lab registry still has
every image.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.lab.emulators._server import (
    Emulator,
    EmulatorError,
    JSONValue,
    Request,
    Response,
    write_atomically,
)
from mikado.lab.emulators._swagger import RouteMismatch, SwaggerSpec, schema_file
from mikado.lab.emulators.zot_access import CREATE, DELETE, READ, UPDATE, Identity
from mikado.lab.emulators.zot_config import ConfigRefused, ZotConfig, load_zot_config

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
_ROUTES = (
    ("base", re.compile(r"/v2/?")),
    ("catalog", re.compile(r"/v2/_catalog")),
    ("tags", re.compile(rf"/v2/(?P<name>{NAME_PATTERN})/tags/list")),
    ("manifest", re.compile(rf"/v2/(?P<name>{NAME_PATTERN})/manifests/(?P<reference>[^/]+)")),
    ("uploads", re.compile(rf"/v2/(?P<name>{NAME_PATTERN})/blobs/uploads/?")),
    ("upload", re.compile(rf"/v2/(?P<name>{NAME_PATTERN})/blobs/uploads/(?P<session>[^/]+)")),
    ("blob", re.compile(rf"/v2/(?P<name>{NAME_PATTERN})/blobs/(?P<digest>[^/]+)")),
)
# zot's swagger marks these query parameters required; zot (and the OCI spec) treat them as
# optional, and every client omits them.
_SWAGGER_OPTIONAL_QUERY = frozenset(
    {
        ("/v2/{name}/tags/list", "GET", "n"),
        ("/v2/{name}/tags/list", "GET", "last"),
    }
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    identity: str
    groups: frozenset[str]


@dataclass(slots=True)
class _Upload:
    repository: str
    data: bytearray


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class ZotEmulator(Emulator):
    """zot registry subset on 127.0.0.1 (`url` is the registry; `host` is what skopeo wants).

    `config_file` is a zot JSON configuration, followed as it changes; without one, zot's
    defaults apply (no authentication, everything allowed). Every request is checked against
    zot's Swagger document (`schema`, by default the one mikado ships) unless
    `validate_requests` is False.
    """

    service = "zot"

    def __init__(
        self,
        *,
        config_file: Path | None = None,
        state_file: Path | None = None,
        port: int = 0,
        schema: Path | None = None,
        validate_requests: bool = True,
    ) -> None:
        super().__init__(state_file=state_file, port=port)
        self.config_file = config_file
        self.config = ZotConfig()
        self.config_error: str | None = None
        self.config_loads = 0
        self._config_stamp: tuple[int, int] | None = None
        self._spec: SwaggerSpec | None = None
        if validate_requests:
            self._spec = SwaggerSpec.load(
                schema or schema_file("zot-2.1.20", "swagger.json"),
                segment_patterns={"name": NAME_PATTERN},
                optional_query=_SWAGGER_OPTIONAL_QUERY,
                trailing_slash_optional=True,
            )
        self._api_keys: dict[str, ApiKey] = {}  # sha256 of the key → owner
        self._repos: dict[str, dict[str, Any]] = {}
        self._blobs: dict[str, bytes] = {}
        self._uploads: dict[str, _Upload] = {}
        self._metrics: dict[tuple[str, int], int] = {}

    @property
    def validates_requests(self) -> bool:
        return self._spec is not None

    @property
    def host(self) -> str:
        """host:port, the registry address in image references (`127.0.0.1:PORT/repo:tag`)."""
        return self.url.removeprefix("http://")

    @property
    def _blob_folder(self) -> Path | None:
        if self.state_file is None:
            return None
        return self.state_file.with_name(self.state_file.name + ".blobs")

    # helpers for tests and the lab -----------------------------------------------------------

    def add_api_key(
        self, identity: str, key: str, groups: list[str] | tuple[str, ...] = ()
    ) -> None:
        """Register an API key as if `identity` had logged in by OIDC with `groups` and made it."""
        with self._lock:
            digest = hashlib.sha256(key.encode()).hexdigest()
            self._api_keys[digest] = ApiKey(identity, frozenset(groups))
            self._save()

    def tags(self, repository: str) -> dict[str, str]:
        """tag → manifest digest of one repository (empty when it does not exist)."""
        with self._lock:
            return dict(self._repos.get(repository, {}).get("tags", {}))

    def start(self) -> None:
        if self.config_file is not None:
            # zot does not start with a configuration it refuses
            self.config = load_zot_config(self.config_file)
            self.config_loads += 1
            self._config_stamp = self._stamp()
        super().start()

    # configuration ---------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int] | None:
        if self.config_file is None:
            return None
        try:
            status = self.config_file.stat()
        except OSError:
            return None
        return (status.st_mtime_ns, status.st_size)

    def _refresh_config(self) -> None:
        stamp = self._stamp()
        if stamp is None or stamp == self._config_stamp or self.config_file is None:
            return
        self._config_stamp = stamp
        try:
            self.config = load_zot_config(self.config_file)
        except ConfigRefused as error:
            self.config_error = str(error)
            return
        self.config_error = None
        self.config_loads += 1

    # state -----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._api_keys = {}
        self._repos = {}
        self._blobs = {}
        self._uploads = {}

    def _dump_state(self) -> dict[str, JSONValue]:
        return {
            "repos": self._repos,
            "api_keys": {
                digest: {"identity": key.identity, "groups": sorted(key.groups)}
                for digest, key in self._api_keys.items()
            },
        }

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        self._repos = {name: dict(repo) for name, repo in state.get("repos", {}).items()}
        self._api_keys = {
            digest: ApiKey(str(key["identity"]), frozenset(key["groups"]))
            for digest, key in state.get("api_keys", {}).items()
        }
        folder = self._blob_folder
        wanted = {d for repo in self._repos.values() for d in repo["blobs"]}
        for digest in wanted:
            blob_path = folder / digest.replace(":", "-") if folder else None
            if blob_path is None or not blob_path.is_file():
                raise EmulatorError(f"blob {digest} is missing from {folder}")
            self._blobs[digest] = blob_path.read_bytes()

    def _store_blob(self, digest: str, data: bytes) -> None:
        if digest in self._blobs:
            return
        self._blobs[digest] = data
        folder = self._blob_folder
        if folder is not None:
            write_atomically(folder / digest.replace(":", "-"), data)

    # requests --------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self._refresh_config()
            response = self._serve(request)
            key = (request.method, response.status)
            self._metrics[key] = self._metrics.get(key, 0) + 1
            return response

    def _serve(self, request: Request) -> Response:
        config = self.config
        if config.metrics_path is not None and request.path == config.metrics_path:
            return self._serve_metrics(request)
        route, params = _route(request.path)
        if route is None:
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        identity = self._authenticate(request)
        if identity is None:
            return self._unauthorized("authentication failed")
        if identity.anonymous and config.basic_auth:
            control = config.access_control
            if control is None or not control.anonymous_policy_exists():
                return self._unauthorized("authentication required")
        if self._spec is not None:
            problem = self._swagger_problem(request)
            if problem is not None:
                return problem
        if route == "base":
            return self._version_check()
        if route == "catalog":
            return self._catalog(request, identity)
        denied = self._authorize(request, route, params, identity)
        if denied is not None:
            return denied
        name = params["name"]
        handler = {
            "tags": self._tags_list,
            "manifest": self._manifest,
            "uploads": self._start_upload,
            "upload": self._upload,
            "blob": self._blob,
        }[route]
        return handler(request, name, params)

    def _swagger_problem(self, request: Request) -> Response | None:
        assert self._spec is not None
        try:
            operation = self._spec.match(request.method, request.path)
        except RouteMismatch as mismatch:
            if mismatch.status == 405:
                return _oci_error(405, "UNSUPPORTED", str(mismatch))
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        problems = self._spec.problems(operation, request.query, b"")
        if problems:
            return _oci_error(400, "UNSUPPORTED", "; ".join(problems))
        return None

    # authentication and authorization --------------------------------------------------------

    def _authenticate(self, request: Request) -> Identity | None:
        """The caller; anonymous without credentials, None when credentials are wrong."""
        header = request.header("Authorization")
        # "Basic Og==" is ":" — what clients send when told to authenticate with no credentials
        if not header or header.strip().lower() == "basic og==" or not self.config.basic_auth:
            return Identity()  # zot ignores credentials when no authentication is configured
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if not self.config.api_keys:
            return None  # htpasswd and LDAP are not emulated
        key = self._api_keys.get(hashlib.sha256(password.encode()).hexdigest())
        if key is None or not secrets.compare_digest(key.identity.encode(), user.encode()):
            return None  # the username must be exactly the key's owner
        return Identity(key.identity, key.groups)

    def _authorize(
        self, request: Request, route: str, params: Mapping[str, str], identity: Identity
    ) -> Response | None:
        control = self.config.access_control
        if control is None:
            return None
        method = request.method
        if method in ("GET", "HEAD"):
            action = READ
        elif method == "DELETE":
            action = DELETE
        else:
            action = CREATE
            tags = self._repos.get(params["name"], {}).get("tags", {})
            if route == "manifest" and params["reference"] in tags:
                action = UPDATE
        if control.can(identity, action, params["name"]):
            return None
        if identity.anonymous:
            return self._unauthorized("authentication required")
        return _oci_error(403, "DENIED", "requested access to the resource is denied")

    def _version_check(self) -> Response:
        """200 even for anonymous callers when reads are allowed; zot then still sends a
        challenge, without which clients such as skopeo would never send their credentials."""
        headers = [
            ("Content-Type", "application/json"),
            ("Docker-Distribution-API-Version", "registry/2.0"),
        ]
        if self.config.basic_auth:
            headers.append(("WWW-Authenticate", f"basic realm={self.config.realm}"))
        return Response(200, b"", headers)

    def _unauthorized(self, message: str) -> Response:
        response = _oci_error(401, "UNAUTHORIZED", message)
        realm = self.config.realm or "Authorization Required"
        response.headers.append(("WWW-Authenticate", f'Basic realm="{realm}"'))
        return response

    # catalog and tags ------------------------------------------------------------------------

    def _catalog(self, request: Request, identity: Identity) -> Response:
        names = sorted(self._repos)
        control = self.config.access_control
        if control is not None:
            names = control.readable(identity, names)
        return _registry_response(200, {"repositories": _page(names, request)})

    def _tags_list(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        repo = self._repos.get(name)
        if repo is None:
            return _oci_error(404, "NAME_UNKNOWN", "repository name not known to registry")
        return _registry_response(200, {"name": name, "tags": _page(sorted(repo["tags"]), request)})

    # blobs -----------------------------------------------------------------------------------

    def _blob(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        digest = params["digest"]
        repo = self._repos.get(name)
        if _DIGEST.fullmatch(digest) is None:
            return _oci_error(400, "DIGEST_INVALID", "provided digest did not match content")
        if repo is None or digest not in repo["blobs"] or digest not in self._blobs:
            return _oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if request.method == "DELETE":
            repo["blobs"].remove(digest)
            self._save()
            return Response(202)
        if request.method not in ("GET", "HEAD"):
            return _oci_error(405, "UNSUPPORTED", "method not allowed")
        data = self._blobs[digest]
        return Response(
            200,
            data,
            [("Content-Type", "application/octet-stream"), ("Docker-Content-Digest", digest)],
        )

    def _repo(self, name: str) -> dict[str, Any]:
        return self._repos.setdefault(name, {"tags": {}, "manifests": {}, "blobs": []})

    def _start_upload(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        if request.method != "POST":
            return _oci_error(405, "UNSUPPORTED", "method not allowed")
        mount, source = request.query_value("mount"), request.query_value("from")
        if mount and source and mount in self._repos.get(source, {}).get("blobs", []):
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
        self._uploads[session] = _Upload(name, bytearray())
        return _upload_progress(name, session, 0)

    def _upload(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        session = params["session"]
        upload = self._uploads.get(session)
        if upload is None or upload.repository != name:
            return _oci_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        if request.method == "GET":
            return _upload_progress(name, session, len(upload.data), status=204)
        if request.method == "DELETE":
            del self._uploads[session]
            return Response(204)
        if request.method == "PATCH":
            content_range = request.header("Content-Range")
            if content_range:
                start = content_range.split("-", 1)[0].strip()
                if not start.isdigit() or int(start) != len(upload.data):
                    return _oci_error(416, "BLOB_UPLOAD_INVALID", "out of order chunk")
            upload.data.extend(request.body)
            return _upload_progress(name, session, len(upload.data))
        if request.method == "PUT":
            digest = request.query_value("digest")
            if not digest:
                return _oci_error(400, "DIGEST_INVALID", "digest missing")
            upload.data.extend(request.body)
            response = self._finish(name, digest, bytes(upload.data))
            if response.status == 201:
                del self._uploads[session]
            return response
        return _oci_error(405, "UNSUPPORTED", "method not allowed")

    def _finish(self, name: str, digest: str, data: bytes) -> Response:
        matched = _DIGEST.fullmatch(digest)
        if matched is None or digest_of(data, matched.group(1)) != digest:
            return _oci_error(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
        self._store_blob(digest, data)
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

    def _manifest(self, request: Request, name: str, params: Mapping[str, str]) -> Response:
        reference = params["reference"]
        if request.method == "PUT":
            return self._put_manifest(request, name, reference)
        repo = self._repos.get(name)
        if repo is None:
            return _oci_error(404, "NAME_UNKNOWN", "repository name not known to registry")
        digest = repo["tags"].get(reference, reference)
        if digest not in repo["manifests"]:
            return _oci_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
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
            self._blobs[digest],
            [("Content-Type", repo["manifests"][digest]), ("Docker-Content-Digest", digest)],
        )

    def _put_manifest(self, request: Request, name: str, reference: str) -> Response:
        media_type = (request.header("Content-Type") or "").split(";", 1)[0].strip()
        allowed: tuple[str, ...] = (OCI_MANIFEST, OCI_INDEX)
        if self.config.docker_media_types:
            allowed += (DOCKER_MANIFEST, DOCKER_LIST)
        if media_type not in allowed:
            return _oci_error(415, "MANIFEST_INVALID", f"unsupported media type {media_type!r}")
        try:
            manifest = request.parsed_json()
        except ValueError:
            return _oci_error(400, "MANIFEST_INVALID", "manifest is not JSON")
        problem = self._manifest_problem(manifest, media_type, name)
        if problem is not None:
            code, message = problem
            return _oci_error(400, code, message)
        digest = digest_of(request.body)
        if _DIGEST.fullmatch(reference):
            if reference != digest:
                return _oci_error(400, "DIGEST_INVALID", "manifest digest did not match reference")
        elif not _TAG.fullmatch(reference):
            return _oci_error(400, "TAG_INVALID", f"invalid tag {reference!r}")
        self._store_blob(digest, request.body)
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
        if self._spec is not None:
            schema = "api.ImageIndex" if index else "api.ImageManifest"
            problems = self._spec.definition_problems(schema, manifest)
            if problems:
                return ("MANIFEST_INVALID", "; ".join(problems))
        if manifest.get("schemaVersion") != 2:
            return ("MANIFEST_INVALID", "schemaVersion must be 2")
        declared = manifest.get("mediaType")
        if declared is not None and declared != media_type:
            return ("MANIFEST_INVALID", "mediaType does not match Content-Type")
        repo = self._repos.get(name, {"blobs": [], "manifests": {}})
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
            if descriptor.get("size") != len(self._blobs[digest]):
                return ("SIZE_INVALID", f"size of {digest} does not match the blob")
        return None

    # metrics ---------------------------------------------------------------------------------

    def _serve_metrics(self, request: Request) -> Response:
        identity = self._authenticate(request)
        if identity is None:
            return self._unauthorized("authentication failed")
        control = self.config.access_control
        if (
            identity.anonymous
            and self.config.basic_auth
            and (control is None or not control.anonymous_policy_exists())
        ):
            return self._unauthorized("authentication required")
        if control is not None and identity.name not in control.metrics_users:
            if identity.anonymous:
                return self._unauthorized("authentication required")
            return _oci_error(403, "DENIED", "requested access to the resource is denied")
        lines = ["# TYPE zot_http_requests_total counter"]
        for (method, status), count in sorted(self._metrics.items()):
            lines.append(f'zot_http_requests_total{{method="{method}",code="{status}"}} {count}')
        lines.append("# TYPE zot_repo_count gauge")
        lines.append(f"zot_repo_count {len(self._repos)}")
        body = ("\n".join(lines) + "\n").encode()
        return Response(200, body, [("Content-Type", "text/plain; version=0.0.4")])


def _route(path: str) -> tuple[str | None, dict[str, str]]:
    for name, pattern in _ROUTES:
        matched = pattern.fullmatch(path)
        if matched is not None:
            return name, matched.groupdict()
    return None, {}


def _page(names: list[str], request: Request) -> list[str]:
    last = request.query_value("last")
    if last:
        names = [name for name in names if name > last]
    count = request.query_value("n")
    if count is not None and count.isdigit():
        names = names[: int(count)]
    return names


def _registry_response(status: int, payload: JSONValue) -> Response:
    response = Response.of_json(status, payload)
    response.headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
    return response


def _oci_error(status: int, code: str, message: str) -> Response:
    return _registry_response(
        status, {"errors": [{"code": code, "message": message, "detail": {}}]}
    )


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
