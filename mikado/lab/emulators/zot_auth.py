"""Who a request to the zot emulator comes from, and the ``/zot/auth/*`` routes that log a user
in with OIDC and mint API keys — as the imitated zot release does (``pkg/api/authn.go``,
``pkg/api/routes.go``, ``pkg/api/controller.go`` at the tag, see each note).

- Start-up builds the OIDC relying party: zot fetches ``<issuer>/.well-known/openid-
  configuration`` and dies (a Go panic, exit status 2) when it cannot or when the discovered
  issuer differs in any character. The login routes, the relying party and the set of
  authentication methods exist only as start-up made them; a reload never adds them.
- A request with credentials is judged on them alone: a wrong password or key is a 401 with
  zot's bare ``{"code": "UNAUTHORIZED", ...}`` body even where anonymous reads are allowed.
- An API key is HTTP Basic ``<owner>:zak_...``; its groups are whatever the owner's last login
  stored. Minting one needs a logged-in caller: a key, or the OIDC session cookie together
  with ``X-ZOT-API-CLIENT: zot-ui`` (the cookie alone is ignored).
- The OIDC identity is the UserInfo ``email`` before v2.1.11, then the claim named by
  ``claimMapping.username`` (falling back to ``email``); groups come from the ``groups`` claim
  (v2.1.17: the one ``claimMapping.groups`` names, a list or a single string).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mikado.lab.emulators._server import JSONValue, Request, Response
from mikado.lab.emulators.zot_access import Identity
from mikado.lab.emulators.zot_config import ConfigRefused, OpenIDProvider, ZotConfig

UI_CLIENT_HEADER = "X-ZOT-API-CLIENT"
UI_CLIENT = "zot-ui"
SESSION_COOKIE = "session"
STATE_COOKIE = "statecookie"
_DISCOVERY_TIMEOUT = 5.0
_AUTH_FAIL_DESCRIPTION = (
    "The access controller was unable to authenticate the client. Often this will be "
    "accompanied by a WWW-Authenticate HTTP response header indicating how to authenticate."
)


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """What start-up learnt from the issuer, for the login routes."""

    provider: OpenIDProvider
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    redirect_uri: str


def relying_party(config: ZotConfig, own_url: str) -> RelyingParty | None:
    """``NewRelyingPartyOIDC``: discovery, or ConfigRefused as zot panics."""
    provider = config.openid
    if provider is None:
        return None
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        # no proxy: the issuer is a neighbour in the lab, never the outside world
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=_DISCOVERY_TIMEOUT) as response:
            document = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError) as error:
        raise ConfigRefused(
            f"failed to initialize new relying party oidc: {provider.issuer} unreachable: {error}"
        ) from error
    discovered = document.get("issuer") if isinstance(document, dict) else None
    if discovered != provider.issuer:
        raise ConfigRefused(
            "failed to initialize new relying party oidc: issuer does not match: expected "
            f"{provider.issuer!r}, got {discovered!r}"
        )
    base = (config.external_url or own_url).rstrip("/")
    return RelyingParty(
        provider,
        str(document.get("authorization_endpoint", "")),
        str(document.get("token_endpoint", "")),
        str(document.get("userinfo_endpoint", "")),
        f"{base}/zot/auth/callback/oidc",
    )


def auth_fail(realm: str, request: Request) -> Response:
    """``authFail``: no usable credentials (the bare error object, not the OCI list)."""
    body = {
        "code": "UNAUTHORIZED",
        "message": "authentication required",
        "detail": {"description": _AUTH_FAIL_DESCRIPTION},
    }
    headers = []
    if request.header(UI_CLIENT_HEADER) != UI_CLIENT:
        headers.append(("WWW-Authenticate", f'Basic realm="{realm or "Authorization Required"}"'))
    return Response.of_json(401, body, headers)


class Credentials:
    """API keys, logged-in sessions and the groups each identity's last login stored (zot's
    MetaDB), and the login routes that fill them."""

    def __init__(self) -> None:
        self.api_keys: dict[str, dict[str, Any]] = {}  # sha256 of the key → owner and details
        self.groups: dict[str, list[str]] = {}  # identity → groups of its last login
        self.sessions: dict[str, str] = {}  # session cookie → identity
        self.states: set[str] = set()  # login states in flight

    def dump(self) -> dict[str, JSONValue]:
        return {"api_keys": self.api_keys, "groups": self.groups, "sessions": self.sessions}

    def load(self, state: dict[str, Any]) -> None:
        self.api_keys = dict(state.get("api_keys", {}))
        self.groups = {str(k): list(v) for k, v in state.get("groups", {}).items()}
        self.sessions = dict(state.get("sessions", {}))

    def add_key(self, identity: str, key: str, label: str = "") -> dict[str, JSONValue]:
        details: dict[str, JSONValue] = {
            "createdAt": _now(),
            "expirationDate": "0001-01-01T00:00:00Z",
            "isExpired": False,
            "creatorUa": "",
            "generatedBy": "manual",
            "lastUsed": "0001-01-01T00:00:00Z",
            "label": label,
            "scopes": [],
            "uuid": str(uuid.uuid4()),
        }
        self.api_keys[_digest(key)] = {"identity": identity, **details}
        return details

    def identify(self, request: Request, config: ZotConfig) -> Identity | bool | None:
        """The caller: an Identity when credentials check out, False when credentials were
        given and are wrong, None when none were given."""
        header = request.header("Authorization")
        # "Basic Og==" is ":" — what clients send when told to use no credentials
        if header and header.strip().lower() != "basic og==" and config.basic_auth:
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            if not config.api_keys or not password.startswith("zak_"):
                return False  # htpasswd and LDAP are not emulated
            key = self.api_keys.get(_digest(password))
            if key is None or not secrets.compare_digest(str(key["identity"]), user):
                return False  # the username must be exactly the key's owner
            key["lastUsed"] = _now()
            return Identity(user, frozenset(self.groups.get(user, [])))
        if request.header(UI_CLIENT_HEADER) == UI_CLIENT:
            owner = self.sessions.get(request.cookies().get(SESSION_COOKIE, ""))
            if owner is not None:
                return Identity(owner, frozenset(self.groups.get(owner, [])))
        return None

    # /zot/auth/login and /zot/auth/callback/oidc --------------------------------------------

    def login(self, request: Request, party: RelyingParty) -> Response:
        provider = request.query_value("provider")
        if provider != "oidc":
            return Response(400, b"", [])
        state = secrets.token_urlsafe(16)
        self.states.add(state)
        query = urllib.parse.urlencode(
            {
                "client_id": party.provider.client_id,
                "redirect_uri": party.redirect_uri,
                "response_type": "code",
                "scope": " ".join(party.provider.scopes),
                "state": state,
            }
        )
        return Response(
            302,
            b"",
            [
                ("Location", f"{party.authorization_endpoint}?{query}"),
                ("Set-Cookie", f"{STATE_COOKIE}={state}; Path=/zot/auth/callback; HttpOnly"),
            ],
        )

    def callback(self, request: Request, party: RelyingParty, release: tuple[int, ...]) -> Response:
        state = request.query_value("state") or ""
        if state not in self.states or request.cookies().get(STATE_COOKIE) != state:
            return Response(401, b"", [])
        self.states.discard(state)
        claims = self._exchange(party, request.query_value("code") or "")
        if claims is None:
            return Response(401, b"", [])
        identity = _identity(claims, party.provider, release)
        if not identity:
            return Response(401, b"", [])
        self.groups[identity] = _groups(claims, party.provider, release)
        session = secrets.token_urlsafe(24)
        self.sessions[session] = identity
        return Response(
            201,
            b"",
            [
                ("Set-Cookie", f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; Max-Age=7200"),
                ("Set-Cookie", f"user={identity}; Path=/; Max-Age=7200"),
            ],
        )

    def _exchange(self, party: RelyingParty, code: str) -> dict[str, Any] | None:
        """The code for tokens (client_secret_basic), then UserInfo's claims."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        client = f"{party.provider.client_id}:{party.provider.client_secret}".encode()
        form = urllib.parse.urlencode(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": party.redirect_uri}
        ).encode()
        token_request = urllib.request.Request(
            party.token_endpoint,
            data=form,
            headers={
                "Authorization": "Basic " + base64.b64encode(client).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with opener.open(token_request, timeout=_DISCOVERY_TIMEOUT) as response:
                tokens = json.loads(response.read().decode())
            info_request = urllib.request.Request(
                party.userinfo_endpoint,
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            with opener.open(info_request, timeout=_DISCOVERY_TIMEOUT) as response:
                claims = json.loads(response.read().decode())
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            return None
        return claims if isinstance(claims, dict) else None

    # /zot/auth/apikey ------------------------------------------------------------------------

    def api_key_route(self, request: Request, caller: Identity) -> Response:
        if request.method == "POST":
            try:
                body = request.parsed_json() if request.body.strip() else {}
            except ValueError:
                return Response(400, b"", [])
            if not isinstance(body, dict):
                return Response(400, b"", [])
            key = "zak_" + secrets.token_hex(16)
            details = self.add_key(caller.name, key, str(body.get("label", "")))
            details["scopes"] = list(body.get("scopes") or [])
            return Response.of_json(201, {**details, "apiKey": key})
        if request.method == "GET":
            mine = [
                {k: v for k, v in details.items() if k != "identity"}
                for details in self.api_keys.values()
                if details["identity"] == caller.name
            ]
            return Response.of_json(200, {"apiKeys": mine})
        if request.method == "DELETE":
            wanted = request.query.get("id") or []
            if len(wanted) != 1:
                return Response(400, b"", [])
            for digest, details in list(self.api_keys.items()):
                if details["uuid"] == wanted[0] and details["identity"] == caller.name:
                    del self.api_keys[digest]
            return Response(200, b"", [])
        return Response(405, b"", [])


def _identity(claims: dict[str, Any], provider: OpenIDProvider, release: tuple[int, ...]) -> str:
    email = str(claims.get("email") or "")
    if release < (2, 1, 11) or not provider.username_claim:
        return email
    value = claims.get(provider.username_claim)
    return str(value) if isinstance(value, str) and value else email


def _groups(
    claims: dict[str, Any], provider: OpenIDProvider, release: tuple[int, ...]
) -> list[str]:
    name = provider.groups_claim if release >= (2, 1, 17) and provider.groups_claim else "groups"
    value = claims.get(name)
    if isinstance(value, str) and release >= (2, 1, 17):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({str(item) for item in value if item})


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
