"""The OIDC side of the Authentik emulator: per-application discovery, the authorization
code flow (authorize, token, userinfo) and a stand-in for the login flow a browser walks.

What the zot chain depends on, after authentik's source:

- discovery (``providers/oauth2/views/provider.py``) is public and names the issuer
  ``<url>/application/o/<slug>/``, trailing slash included;
- ``/application/o/authorize/`` (``views/authorize.py``, a ``PolicyAccessView``) refuses an
  unknown client id or a redirect URI matching none of the provider's (400), sends a user
  without a session to the authentication flow, and lets in only a user who passes the
  application's bindings (no bindings: everyone; superusers get no bypass);
- 2026.x: a provider must list ``authorization_code`` in ``grant_types`` for the code flow
  (the field arrived in 2026.5 with an empty default; the refusal is inferred from that
  default and third-party reports, not read in the source);
- ``/application/o/token/`` checks the client secret (``client_secret_basic`` or
  ``_post``) and the code; ``/application/o/userinfo/`` answers the scopes' claims, ``groups``
  (the user's group names) and ``preferred_username`` coming from ``profile``.

The login flow is a stand-in: real Authentik runs a JavaScript flow executor; here a form
posts ``username`` and ``password`` to ``/if/flow/<slug>/`` and gets the session cookie.
Tokens are HS256-signed with the client secret and not meant to be verified further.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from mikado.lab.emulators._server import Request, Response

if TYPE_CHECKING:
    from mikado.lab.emulators.authentik import AuthentikEmulator

SESSION_COOKIE = "authentik_session"
_CODE_LIFETIME = 60.0  # access_code_validity minutes=1
_CLAIMS = [
    *("sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce"),
    *("email", "email_verified", "name", "given_name", "preferred_username"),
    *("nickname", "groups"),
]
_DISCOVERY = re.compile(r"/application/o/([^/]+)/\.well-known/openid-configuration")


def handle(emulator: AuthentikEmulator, request: Request) -> Response:
    path = request.path
    discovery = _DISCOVERY.fullmatch(path)
    if discovery is not None and request.method in ("GET", "HEAD"):
        return _discovery(emulator, discovery.group(1))
    if path == "/application/o/authorize/" and request.method in ("GET", "POST"):
        return _authorize(emulator, request)
    if path == "/application/o/token/" and request.method == "POST":
        return _token(emulator, request)
    if path == "/application/o/userinfo/" and request.method in ("GET", "POST"):
        return _userinfo(emulator, request)
    if path.startswith("/if/flow/"):
        return _login(emulator, request)
    return Response.of_json(404, {"detail": "Not found."})


def _provider_by_client_id(emulator: AuthentikEmulator, client_id: str) -> dict[str, Any] | None:
    return next(
        (p for p in emulator.objects["providers"].values() if p["client_id"] == client_id), None
    )


def _discovery(emulator: AuthentikEmulator, slug: str) -> Response:
    application = next(
        (a for a in emulator.objects["applications"].values() if a["slug"] == slug), None
    )
    provider = None
    if application is not None and application.get("provider") is not None:
        provider = emulator.objects["providers"].get(str(application["provider"]))
    if provider is None:
        return Response.of_json(404, {"detail": "Not found."})
    scopes = sorted(
        str(emulator.objects["scope_mappings"][str(pk)]["scope_name"])
        for pk in provider.get("property_mappings") or []
        if str(pk) in emulator.objects["scope_mappings"]
    )
    endpoints = emulator.endpoints(slug)
    algorithm = "RS256" if provider.get("signing_key") else "HS256"
    return Response.of_json(
        200,
        {
            "issuer": endpoints["issuer"],
            "authorization_endpoint": endpoints["authorize"],
            "token_endpoint": endpoints["token"],
            "userinfo_endpoint": endpoints["user_info"],
            "end_session_endpoint": endpoints["logout"],
            "jwks_uri": endpoints["jwks"],
            "response_types_supported": ["code", "id_token", "id_token token", "code token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [algorithm],
            "scopes_supported": ["openid", *[s for s in scopes if s != "openid"]],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "claims_supported": _CLAIMS,
            "code_challenge_methods_supported": ["plain", "S256"],
        },
    )


def _page(status: int, text: str) -> Response:
    body = f"<!doctype html><title>authentik</title><p>{text}</p>\n".encode()
    return Response(status, body, [("Content-Type", "text/html; charset=utf-8")])


def _redirect(location: str, *cookies: str) -> Response:
    headers = [("Location", location), *(("Set-Cookie", cookie) for cookie in cookies)]
    return Response(302, b"", headers)


def session_user(emulator: AuthentikEmulator, request: Request) -> dict[str, Any] | None:
    cookies = request.cookies()
    user_pk = emulator.sessions.get(cookies.get(SESSION_COOKIE, ""))
    return emulator.objects["users"].get(str(user_pk)) if user_pk is not None else None


def _matches(provider: dict[str, Any], redirect_uri: str) -> bool:
    for entry in provider.get("redirect_uris") or []:
        url = str(entry.get("url", ""))
        if entry.get("matching_mode") == "regex":
            if re.fullmatch(url, redirect_uri):
                return True
        elif url == redirect_uri:
            return True
    return False


def _authorize(emulator: AuthentikEmulator, request: Request) -> Response:
    params = {**request.query, **_form(request)}
    value = {name: values[0] for name, values in params.items() if values}
    provider = _provider_by_client_id(emulator, value.get("client_id", ""))
    if provider is None:
        return _page(400, "Invalid client identifier (client_id).")
    redirect_uri = value.get("redirect_uri", "")
    if not _matches(provider, redirect_uri):
        return _page(400, "Redirect URI Error: the redirect URI is not allowed by the provider.")
    application = emulator.application_of(provider["pk"])
    if application is None:
        return _page(403, "Failed to resolve application.")
    if value.get("response_type") != "code":
        return _page(400, "Unsupported response_type.")
    if emulator.release >= "2026.5" and "authorization_code" not in (
        provider.get("grant_types") or []
    ):
        return _page(400, "Invalid grant_type for provider.")
    user = session_user(emulator, request)
    if user is None:
        here = f"{emulator.url}{request.path}?{urlencode(value)}"
        return _redirect(
            f"{emulator.url}/if/flow/default-authentication-flow/?{urlencode({'next': here})}"
        )
    if not emulator.passes(application, user):
        return _page(403, "Permission denied: you are not allowed to access this application.")
    code = secrets.token_urlsafe(24)
    emulator.codes[code] = {
        "client_id": provider["client_id"],
        "redirect_uri": redirect_uri,
        "user": int(user["pk"]),
        "scope": value.get("scope", "openid").split(),
        "nonce": value.get("nonce"),
        "expires": time.monotonic() + _CODE_LIFETIME,
    }
    query = {"code": code, **({"state": value["state"]} if "state" in value else {})}
    separator = "&" if "?" in redirect_uri else "?"
    return _redirect(f"{redirect_uri}{separator}{urlencode(query)}")


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.header("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _token(emulator: AuthentikEmulator, request: Request) -> Response:
    form = {name: values[0] for name, values in _form(request).items() if values}
    client_id, secret = _client_credentials(request, form)
    provider = _provider_by_client_id(emulator, client_id)
    if provider is None or not hmac.compare_digest(
        secret.encode(), str(provider["client_secret"]).encode()
    ):
        return Response.of_json(401, {"error": "invalid_client"})
    if form.get("grant_type") != "authorization_code":
        return Response.of_json(400, {"error": "unsupported_grant_type"})
    grant = emulator.codes.pop(form.get("code", ""), None)
    if (
        grant is None
        or grant["client_id"] != client_id
        or grant["redirect_uri"] != form.get("redirect_uri")
        or grant["expires"] < time.monotonic()
    ):
        return Response.of_json(400, {"error": "invalid_grant"})
    application = emulator.application_of(provider["pk"])
    slug = application["slug"] if application else ""
    access = secrets.token_urlsafe(32)
    emulator.access_tokens[access] = {"user": grant["user"], "scope": grant["scope"]}
    user = emulator.objects["users"][str(grant["user"])]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": emulator.issuer_for(slug),
        "sub": _subject(user),
        "aud": client_id,
        "exp": now + 300,
        "iat": now,
        "auth_time": now,
    }
    if grant.get("nonce"):
        claims["nonce"] = grant["nonce"]
    return Response.of_json(
        200,
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(grant["scope"]),
            "id_token": _jwt(claims, str(provider["client_secret"])),
        },
    )


def _userinfo(emulator: AuthentikEmulator, request: Request) -> Response:
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    grant = emulator.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    if grant is None:
        return Response.of_json(401, {"error": "invalid_token"})
    user = emulator.objects["users"][str(grant["user"])]
    claims: dict[str, Any] = {"sub": _subject(user)}
    scopes = set(grant["scope"])
    if "email" in scopes:
        claims.update(email=user["email"], email_verified=False)
    if "profile" in scopes:
        names = [
            emulator.objects["groups"][pk]["name"]
            for pk in user.get("groups", [])
            if pk in emulator.objects["groups"]
        ]
        claims.update(
            name=user["name"],
            given_name=user["name"],
            preferred_username=user["username"],
            nickname=user["username"],
            groups=names,
        )
    return Response.of_json(200, claims)


def _login(emulator: AuthentikEmulator, request: Request) -> Response:
    """The stand-in for the authentication flow: a form, and on a right password a session."""
    if request.method == "GET":
        return _page(200, "Log in: POST username and password to this page.")
    if request.method != "POST":
        return _page(405, "Method not allowed.")
    form = {name: values[0] for name, values in _form(request).items() if values}
    user = emulator.user_named(form.get("username", ""))
    password = form.get("password", "")
    if (
        user is None
        or user.get("password") is None
        or not hmac.compare_digest(
            hashlib.sha256(password.encode()).hexdigest(), str(user["password"])
        )
    ):
        return _page(403, "Invalid username or password.")
    session = secrets.token_urlsafe(24)
    emulator.sessions[session] = int(user["pk"])
    emulator._save()
    target = request.query_value("next") or f"{emulator.url}/"
    if urlsplit(target).netloc not in ("", urlsplit(emulator.url).netloc):
        target = f"{emulator.url}/"  # like the flow executor, never redirect off-site
    return _redirect(target, f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax")


def _subject(user: dict[str, Any]) -> str:
    # sub_mode hashed_user_id: a hash of the user's uid
    return hashlib.sha256(str(user["uuid"]).encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any], key: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _form(request: Request) -> dict[str, list[str]]:
    content_type = (request.header("Content-Type") or "").split(";", 1)[0].strip()
    if request.method != "POST" or content_type != "application/x-www-form-urlencoded":
        return {}
    return parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
