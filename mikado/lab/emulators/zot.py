"""A zot stand-in: the OCI distribution API with a zot release's authentication and
authorization (2.1.10, 2.1.17 or 2.1.20; :mod:`.zot_auth` and :mod:`.zot_access`).

It starts from a zot configuration file as zot does: a configuration the release would refuse,
or an OpenID issuer it cannot reach, and it does not start (:meth:`ZotEmulator.start` raises,
the port stays closed). Afterwards it reloads the file only as zot's watcher does
(``pkg/cli/server/config_reloader.go``): on a write to the file itself, not on a new file
renamed into place (after which the watch is lost), and a reload changes access control and
claim mappings but never switches authentication on or off, which takes a restart
(:meth:`ZotEmulator.restart`). Requests are checked against the release's Swagger document.
Blobs and manifests live in memory and, with a state file, in a folder beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mikado.lab.emulators._server import Emulator, EmulatorError, JSONValue, Request, Response
from mikado.lab.emulators._swagger import RouteMismatch, SwaggerSpec, schema_file
from mikado.lab.emulators.releases import RELEASES, version_tuple
from mikado.lab.emulators.zot_access import (
    CREATE,
    DELETE,
    READ,
    AccessControl,
    Identity,
    metrics_access,
    overwrite_action,
)
from mikado.lab.emulators.zot_auth import Credentials, RelyingParty, auth_fail, relying_party
from mikado.lab.emulators.zot_config import ConfigRefused, ZotConfig, load_zot_config
from mikado.lab.emulators.zot_storage import (
    NAME_PATTERN,
    Storage,
    oci_error,
    page,
    registry_response,
)

_ROUTES = (
    ("base", re.compile(r"/v2/?")),
    ("mgmt", re.compile(r"/v2/_zot/ext/mgmt")),
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


class ZotEmulator(Emulator):
    """zot registry subset on 127.0.0.1 (`url` is the registry; `host` is what skopeo wants).

    `config_file` is a zot JSON configuration; without one, zot's defaults apply (no
    authentication, everything allowed). `release` is the zot release imitated. Every request
    is checked against that release's Swagger document (`schema` overrides it) unless
    `validate_requests` is False.
    """

    service = "zot"
    state_version = 2

    def __init__(
        self,
        *,
        config_file: Path | None = None,
        release: str = RELEASES["zot"][-1],
        state_file: Path | None = None,
        port: int = 0,
        schema: Path | None = None,
        validate_requests: bool = True,
    ) -> None:
        if release not in RELEASES["zot"]:
            offered = ", ".join(RELEASES["zot"])
            raise EmulatorError(f"the lab imitates zot {offered}, not {release}")
        super().__init__(state_file=state_file, port=port)
        self.release = release
        self.version = version_tuple(release)
        self.config_file = config_file
        self.config = ZotConfig()
        self.config_error: str | None = None  # the last reload zot refused
        self.config_loads = 0  # start-ups and reloads that took effect
        self.starts = 0
        self.start_error: str | None = None  # why the last start failed (zot is down)
        self._booted = ZotConfig()  # what start-up fixed: authentication, routes, metrics
        self._party: RelyingParty | None = None
        self._watched: tuple[int, int, int] | None = None  # inode, mtime, size; None: lost
        self._spec: SwaggerSpec | None = None
        if validate_requests:
            self._spec = SwaggerSpec.load(
                schema or schema_file(f"zot-{release}", "swagger.json"),
                segment_patterns={"name": NAME_PATTERN},
                optional_query=_SWAGGER_OPTIONAL_QUERY,
                trailing_slash_optional=True,
            )
        self.credentials = Credentials()
        self.storage = Storage(self._save, self._spec)
        if state_file is not None:
            self.storage.blob_folder = state_file.with_name(state_file.name + ".blobs")
        self._metrics: dict[tuple[str, int], int] = {}

    @property
    def validates_requests(self) -> bool:
        return self._spec is not None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """The registry's address, also while zot is down (its port is kept)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """host:port, the registry address in image references (`127.0.0.1:PORT/repo:tag`)."""
        return f"127.0.0.1:{self.port}"

    # helpers for tests and the lab -----------------------------------------------------------

    def add_api_key(
        self, identity: str, key: str, groups: list[str] | tuple[str, ...] = ()
    ) -> None:
        """Register an API key as if `identity` had logged in by OIDC with `groups` and made it."""
        with self._lock:
            self.credentials.add_key(identity, key)
            self.credentials.groups[identity] = sorted(groups)
            self._save()

    def tags(self, repository: str) -> dict[str, str]:
        """tag → manifest digest of one repository (empty when it does not exist)."""
        with self._lock:
            return self.storage.tags(repository)

    # start-up, restart and the configuration watcher -------------------------------------------

    def start(self) -> None:
        """Start as zot does, or raise ConfigRefused (the port stays closed)."""
        if self.running:
            return
        config = ZotConfig()
        try:
            if self.config_file is not None:
                config = load_zot_config(self.config_file, self.release)
            # The relying party talks to the issuer before zot listens; the address it
            # would listen on is known already (the lab keeps its ports).
            party = relying_party(config, f"http://127.0.0.1:{self.port}")
        except ConfigRefused as error:
            self.start_error = str(error)
            raise
        self.config = self._booted = config
        self._party = party
        self._watched = self._stat()
        self.start_error = None
        self.config_error = None
        self.config_loads += 1
        self.starts += 1
        super().start()

    def restart(self) -> None:
        """Stop and start again (what ``systemctl restart zot`` does); raises ConfigRefused
        when the new start fails, and zot then stays down."""
        self.stop()
        self.start()

    def _stat(self) -> tuple[int, int, int] | None:
        if self.config_file is None:
            return None
        try:
            status = self.config_file.stat()
        except OSError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    def _watch(self) -> None:
        """fsnotify, filtered to Write events of the watched file: a file renamed over it is a
        Create/Rename event, ignored, and the watch on the old inode is lost with it."""
        if self._watched is None or self.config_file is None:
            return
        now = self._stat()
        if now is None or now[0] != self._watched[0]:
            self._watched = None
            return
        if now == self._watched:
            return
        self._watched = now
        try:
            loaded = load_zot_config(self.config_file, self.release)
        except ConfigRefused as error:
            self.config_error = str(error)  # "failed to reload config, retry writing it."
            return
        self.config_error = None
        self.config_loads += 1
        booted = self._booted
        # LoadNewConfig / UpdateReloadableConfig: access control (when the authorization
        # middleware exists, i.e. there was access control at start-up) and the OpenID
        # claim mapping (read at callback time) take effect; the rest stays as started.
        openid = booted.openid
        if openid is not None and loaded.openid is not None and self.version >= (2, 1, 10):
            openid = replace(
                openid,
                username_claim=loaded.openid.username_claim,
                groups_claim=loaded.openid.groups_claim,
            )
        self.config = replace(
            booted,
            access_control=loaded.access_control if booted.access_control is not None else None,
            openid=openid,
        )

    # state -----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self.credentials = Credentials()
        self.storage.reset()

    def _dump_state(self) -> dict[str, JSONValue]:
        return {"release": self.release, "repos": self.storage.repos, **self.credentials.dump()}

    def _load_state(self, state: Mapping[str, JSONValue]) -> None:
        if state.get("release") != self.release:
            raise EmulatorError(
                f"this state is of zot {state.get('release')}, not {self.release}",
                path=str(self.state_file),
            )
        self.storage.load(state.get("repos", {}))
        self.credentials.load(dict(state))

    # requests --------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self._watch()
            response = self._serve(request)
            key = (request.method, response.status)
            self._metrics[key] = self._metrics.get(key, 0) + 1
            if request.method not in ("GET", "HEAD"):
                self._save()
            return response

    def _serve(self, request: Request) -> Response:
        config = self.config
        path = request.path
        if config.metrics_path is not None and path == config.metrics_path:
            return self._serve_metrics(request)
        if path == "/zot/auth/logout" and self._booted.basic_auth and request.method == "POST":
            # not behind authentication; v2.1.17 answers a JSON body (8282aef1)
            return Response.of_json(200, {}) if self.version >= (2, 1, 17) else Response(200)
        route, params = _route(path)
        auth_route = _auth_route(path)
        if route is None and auth_route is None:
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        if auth_route == "login" or auth_route == "callback":
            return self._login_route(request, auth_route)
        identity = self._authenticate(request, mgmt=route == "mgmt")
        if isinstance(identity, Response):
            return identity
        if self._spec is not None and route is not None:
            problem = self._swagger_problem(request)
            if problem is not None:
                return problem
        if auth_route == "apikey":
            if not self._booted.api_keys:
                return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
            if identity.anonymous:
                return Response(500, b"", [])  # MetaDB refuses an anonymous key owner
            return self.credentials.api_key_route(request, identity)
        if route == "base":
            return self._version_check()
        if route == "mgmt":
            return self._mgmt()
        if route == "catalog":
            return self._catalog(request, identity)
        denied = self._authorize(request, route or "", params, identity)
        if denied is not None:
            return denied
        storage = self.storage
        storage.docker_media_types = self.config.docker_media_types
        handler = {
            "tags": storage.tags_list,
            "manifest": storage.manifest,
            "uploads": storage.start_upload,
            "upload": storage.upload,
            "blob": storage.blob,
        }[route or ""]
        return handler(request, params["name"], params)

    def _login_route(self, request: Request, kind: str) -> Response:
        party = self._party
        if party is None:  # the routes exist only when OpenID was configured at start-up
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        if kind == "login":
            return self.credentials.login(request, party)
        if self.config.openid is not None:
            # the callback reads the claim mapping from the live configuration, which a
            # reload may have changed; client, issuer and endpoints stay as started
            party = replace(party, provider=self.config.openid)
        return self.credentials.callback(request, party, self.version)

    def _swagger_problem(self, request: Request) -> Response | None:
        assert self._spec is not None
        try:
            operation = self._spec.match(request.method, request.path)
        except RouteMismatch as mismatch:
            if mismatch.status == 405:
                return oci_error(405, "UNSUPPORTED", str(mismatch))
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        problems = self._spec.problems(operation, request.query, b"")
        if problems:
            return oci_error(400, "UNSUPPORTED", "; ".join(problems))
        return None

    # authentication and authorization --------------------------------------------------------

    def _authenticate(self, request: Request, *, mgmt: bool = False) -> Identity | Response:
        """``tryAuthnHandlers``: credentials are judged alone; without them a request passes
        anonymously when no authentication is configured, when some repository has an
        anonymous policy, or for the mgmt extension."""
        config = self.config
        found = self.credentials.identify(request, config)
        if found is False:
            return auth_fail(config.realm, request)
        if isinstance(found, Identity):
            return found
        if not config.basic_auth or mgmt:
            return Identity()
        control = config.access_control
        if control is not None and control.anonymous_policy_exists():
            return Identity()
        return auth_fail(config.realm, request)

    def _authorize(
        self, request: Request, route: str, params: Mapping[str, str], identity: Identity
    ) -> Response | None:
        control = self.config.access_control
        if control is None:
            if self._booted.access_control is None:
                return None  # no authorization middleware: start-up had no access control
            # the middleware reads the live configuration; a reload that removed
            # accessControl leaves it an empty one that grants nothing (NewAccessController)
            control = AccessControl(repositories={})
        method = request.method
        if method in ("GET", "HEAD"):
            action = READ
        elif method == "DELETE":
            action = DELETE
        else:
            action = CREATE
            tags = self.storage.tags(params["name"])
            if route == "manifest" and params["reference"] in tags:
                action = overwrite_action(self.version, params["reference"])
        if control.can(identity, action, params["name"]):
            return None
        return self._denied(identity)

    def _denied(self, identity: Identity) -> Response:
        """``AuthzFail``: 401 for an anonymous caller, 403 DENIED otherwise, both as the OCI
        error list and both with the Basic challenge."""
        if identity.anonymous:
            response = oci_error(401, "UNAUTHORIZED", "authentication required")
        else:
            response = oci_error(403, "DENIED", "requested access to the resource is denied")
        realm = self.config.realm or "Authorization Required"
        response.headers.append(("WWW-Authenticate", f'Basic realm="{realm}"'))
        return response

    def _version_check(self) -> Response:
        """200 even for anonymous callers when reads are allowed; zot then still sends a
        challenge, without which clients such as skopeo would never send their credentials."""
        headers = [
            ("Content-Type", "application/json"),
            ("Docker-Distribution-API-Version", "registry/2.0"),
        ]
        if self.config.basic_auth:
            realm = self.config.realm or "Authorization Required"
            headers.append(("WWW-Authenticate", f'Basic realm="{realm}"'))
        return Response(200, b"", headers)

    def _mgmt(self) -> Response:
        """The mgmt extension's sanitized configuration (``extension_mgmt.go``): the release
        and the authentication methods, readable without credentials."""
        if not self._booted.search:
            return Response(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        auth: dict[str, JSONValue] = {}
        if self.config.openid is not None:
            auth["openid"] = {"providers": {"oidc": {}}}
        if self.config.api_keys:
            auth["apikey"] = True
        return Response.of_json(
            200,
            {
                "distSpecVersion": "1.1.1",
                "commit": f"lab-{self.release}",
                "releaseTag": f"v{self.release}",
                "binaryType": "-imagetrust-lint-metrics-mgmt-scrub-search-sync-ui-userprefs",
                "http": {"auth": auth} if auth else {},
            },
        )

    # catalog and tags ------------------------------------------------------------------------

    def _catalog(self, request: Request, identity: Identity) -> Response:
        names = sorted(self.storage.repos)
        control = self.config.access_control
        if control is not None:
            names = control.readable(identity, names)
        return registry_response(200, {"repositories": page(names, request)})

    # metrics ---------------------------------------------------------------------------------

    def _serve_metrics(self, request: Request) -> Response:
        config = self.config
        control = config.access_control
        found = self.credentials.identify(request, config)
        if found is False:
            return auth_fail(config.realm, request)
        identity = found if isinstance(found, Identity) else Identity()
        if identity.anonymous and config.basic_auth:
            # authentication lets an anonymous /metrics request through only where it lets
            # any anonymous request through, or (2.1.18+) by metrics.anonymousPolicy
            anonymous_metrics = (
                control is not None
                and self.version >= (2, 1, 18)
                and READ in control.metrics_anonymous
            )
            any_anonymous = control is not None and control.anonymous_policy_exists()
            if not (anonymous_metrics or any_anonymous):
                return auth_fail(config.realm, request)
        status = metrics_access(control, identity, self.version)
        if status == 403:
            return self._denied(identity)
        if status == 401:
            return self._denied(Identity())
        lines = ["# TYPE zot_http_requests_total counter"]
        for (method, status), count in sorted(self._metrics.items()):
            lines.append(f'zot_http_requests_total{{method="{method}",code="{status}"}} {count}')
        lines.append("# TYPE zot_repo_count gauge")
        lines.append(f"zot_repo_count {len(self.storage.repos)}")
        body = ("\n".join(lines) + "\n").encode()
        return Response(200, body, [("Content-Type", "text/plain; version=0.0.4")])


def _auth_route(path: str) -> str | None:
    if path == "/zot/auth/login":
        return "login"
    if path == "/zot/auth/callback/oidc":
        return "callback"
    if path == "/zot/auth/apikey":
        return "apikey"
    return None


def _route(path: str) -> tuple[str | None, dict[str, str]]:
    for name, pattern in _ROUTES:
        matched = pattern.fullmatch(path)
        if matched is not None:
            return name, matched.groupdict()
    return None, {}
