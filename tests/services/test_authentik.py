"""The Authentik client against the Authentik emulator (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mikado.errors import ServiceError
from mikado.lab.emulators import AuthentikEmulator
from mikado.services.authentik import (
    AuthentikClient,
    OAuth2ProviderSpec,
    RedirectURI,
)

TOKEN = "ak-test-token-0123456789"
SECRET = "client-secret-that-must-never-show-9f8e7d"
AUTHZ_FLOW = "default-provider-authorization-implicit-consent"
INVALIDATION_FLOW = "default-provider-invalidation-flow"
SIGNING_KEY = "authentik Self-signed Certificate"
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture
def emulator() -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(token=TOKEN) as running:
        yield running


@pytest.fixture
def client(emulator: AuthentikEmulator, http: httpx.Client) -> AuthentikClient:
    return AuthentikClient(http, emulator.url + "/api/v3", TOKEN)


def _writes(emulator: AuthentikEmulator, since: int = 0) -> list[tuple[str, str]]:
    return [
        (request.method, request.path)
        for request in emulator.requests[since:]
        if request.method in WRITES
    ]


def _spec(client: AuthentikClient, **changes: object) -> OAuth2ProviderSpec:
    mappings = client.scope_mappings(["openid", "email", "profile"])
    spec = OAuth2ProviderSpec(
        name="zot",
        client_id="zot",
        client_secret=SECRET,
        redirect_uris=(RedirectURI("https://registry.example.test/zot/auth/callback/oidc"),),
        authorization_flow=client.flow(AUTHZ_FLOW).pk,
        invalidation_flow=client.flow(INVALIDATION_FLOW).pk,
        signing_key=client.signing_key(SIGNING_KEY).pk,
        property_mappings=tuple(mapping.pk for mapping in mappings.values()),
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def test_lookups_find_the_seeded_objects(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    flow = client.flow(AUTHZ_FLOW)
    assert flow.slug == AUTHZ_FLOW
    assert uuid.UUID(flow.pk)
    assert client.signing_key(SIGNING_KEY).name == SIGNING_KEY
    mappings = client.scope_mappings(["openid", "goauthentik.io/providers/oauth2/scope-email"])
    assert set(mappings) == {"openid", "goauthentik.io/providers/oauth2/scope-email"}
    assert mappings["openid"].scope_name == "openid"
    group_pk = emulator.add_group("admins")
    assert client.group("admins").pk == group_pk


def test_a_missing_flow_is_a_404_naming_the_slug(client: AuthentikClient) -> None:
    with pytest.raises(ServiceError) as caught:
        client.flow("no-such-flow")
    error = caught.value
    assert error.status == 404
    assert "'no-such-flow'" in error.detail
    assert error.request.startswith("GET http://127.0.0.1:")
    assert "/api/v3/flows/instances/?slug=no-such-flow" in error.request
    assert error.hint and "no-such-flow" in error.hint


def test_a_missing_group_is_a_404_naming_the_group(client: AuthentikClient) -> None:
    with pytest.raises(ServiceError) as caught:
        client.group("artifact-workloads")
    assert caught.value.status == 404
    assert "'artifact-workloads'" in str(caught.value)


def test_wrong_token_is_403_with_authentiks_detail_and_no_token(
    emulator: AuthentikEmulator, http: httpx.Client
) -> None:
    wrong = "wrong-token-abcdef-123456"
    client = AuthentikClient(http, emulator.url, wrong)
    with pytest.raises(ServiceError) as caught:
        client.flow(AUTHZ_FLOW)
    error = caught.value
    assert error.status == 403
    assert error.detail == "Token invalid/expired"
    assert error.hint == "check the API token and its permissions"
    assert wrong not in str(error) and TOKEN not in str(error)


def test_provider_is_created_once_then_left_alone(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    spec = _spec(client)
    provider, changed = client.ensure_oauth2_provider(spec)
    assert changed is True
    assert provider.client_id == "zot"
    assert provider.grant_types == {"authorization_code", "refresh_token"}
    assert provider.signing_key == spec.signing_key
    assert provider.redirect_uris == spec.redirect_uris
    stored = emulator.stored("providers")
    assert len(stored) == 1 and stored[0]["client_secret"] == SECRET

    before = len(emulator.requests)
    again, changed_again = client.ensure_oauth2_provider(spec)
    assert changed_again is False
    assert again == provider
    assert _writes(emulator, before) == []


def test_only_drifted_provider_fields_are_patched(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    provider, _ = client.ensure_oauth2_provider(_spec(client))
    reordered = _spec(client)
    reordered = dataclasses.replace(
        reordered, property_mappings=tuple(reversed(reordered.property_mappings))
    )
    before = len(emulator.requests)
    assert client.ensure_oauth2_provider(reordered)[1] is False
    assert _writes(emulator, before) == []

    drifted = dataclasses.replace(
        reordered,
        redirect_uris=(*reordered.redirect_uris, RedirectURI("https://other/cb", "regex")),
        client_secret="rotated-" + SECRET,
    )
    assert client.plan_oauth2_provider(drifted).fields == ("client_secret", "redirect_uris")
    before = len(emulator.requests)
    updated, changed = client.ensure_oauth2_provider(drifted)
    assert changed is True
    assert _writes(emulator, before) == [("PATCH", f"/api/v3/providers/oauth2/{provider.pk}/")]
    patch = emulator.requests[-1].json
    assert set(patch) == {"client_secret", "redirect_uris"}
    assert len(updated.redirect_uris) == 2


def test_plans_describe_without_writing_or_showing_the_secret(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    spec = _spec(client)
    group_pk = emulator.add_group("admins")
    plans = [
        client.plan_oauth2_provider(spec),
        client.plan_application("zot", "zot", None),
        client.plan_group_binding(None, group_pk),
    ]
    assert [plan.action for plan in plans] == ["create", "create", "create"]
    assert plans[0].describe() == "create oauth2 provider zot"
    assert _writes(emulator) == []

    provider, _ = client.ensure_oauth2_provider(spec)
    application, _ = client.ensure_application("zot", "zot", provider.pk)
    client.ensure_group_binding(application.pbm_uuid, group_pk)
    assert not client.plan_oauth2_provider(spec).changes
    assert not client.plan_application("zot", "zot", provider.pk).changes
    assert not client.plan_group_binding(application.pbm_uuid, group_pk).changes

    rotated = dataclasses.replace(spec, client_secret="new-" + SECRET)
    plan = client.plan_oauth2_provider(rotated)
    assert plan.describe() == "update oauth2 provider zot: client_secret"
    assert SECRET not in repr(plan) + repr(rotated) + plan.describe()


def test_application_and_binding_are_idempotent(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    provider, _ = client.ensure_oauth2_provider(_spec(client))
    admins = emulator.add_group("admins")
    other = emulator.add_group("other")

    application, created = client.ensure_application("zot", "zot", provider.pk)
    assert created is True and application.provider == provider.pk
    # A binding for another group on the same target must not count as ours.
    other_binding, _ = client.ensure_group_binding(application.pbm_uuid, other)
    binding, created = client.ensure_group_binding(application.pbm_uuid, admins)
    assert created is True
    assert binding.group == admins and binding.pk != other_binding.pk

    before = len(emulator.requests)
    assert client.ensure_application("zot", "zot", provider.pk) == (application, False)
    assert client.ensure_group_binding(application.pbm_uuid, admins) == (binding, False)
    assert _writes(emulator, before) == []
    assert len(emulator.stored("bindings")) == 2


def test_application_name_drift_is_patched(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    provider, _ = client.ensure_oauth2_provider(_spec(client))
    client.ensure_application("zot", "zot", provider.pk)
    before = len(emulator.requests)
    renamed, changed = client.ensure_application("zot", "Zot registry", provider.pk)
    assert changed is True and renamed.name == "Zot registry"
    assert _writes(emulator, before) == [("PATCH", "/api/v3/core/applications/zot/")]
    assert emulator.requests[-1].json == {"name": "Zot registry"}


def test_field_errors_are_reported_in_authentiks_words_without_the_secret(
    client: AuthentikClient,
) -> None:
    spec = _spec(client, authorization_flow=str(uuid.uuid4()))
    with pytest.raises(ServiceError) as caught:
        client.ensure_oauth2_provider(spec)
    error = caught.value
    assert error.status == 400
    assert error.request.endswith("/api/v3/providers/oauth2/")
    assert error.request.startswith("POST ")
    assert "authorization_flow: " in error.detail
    assert SECRET not in str(error)


def test_discovery_returns_the_document_and_insists_on_the_exact_issuer(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    provider, _ = client.ensure_oauth2_provider(_spec(client))
    issuer = emulator.issuer_for("zot")
    with pytest.raises(ServiceError) as unbound:
        client.discovery(issuer)
    assert unbound.value.status == 404

    client.ensure_application("zot", "zot", provider.pk)
    document = client.discovery(issuer)
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"]
    with pytest.raises(ServiceError) as mismatch:
        client.discovery(issuer.rstrip("/"))
    assert "trailing slash" in (mismatch.value.hint or "")


def test_base_url_may_be_the_server_or_the_api(
    emulator: AuthentikEmulator, http: httpx.Client
) -> None:
    for base in (emulator.url, emulator.url + "/", emulator.url + "/api/v3/"):
        assert AuthentikClient(http, base, TOKEN).flow(AUTHZ_FLOW).slug == AUTHZ_FLOW


class _SecretlessProviderHandler(BaseHTTPRequestHandler):
    """An Authentik whose provider list no longer carries ``client_secret``."""

    def do_GET(self) -> None:
        provider = {
            "pk": 7,
            "name": "zot",
            "client_type": "confidential",
            "client_id": "zot",
            "redirect_uris": [],
            "authorization_flow": str(uuid.uuid4()),
            "invalidation_flow": str(uuid.uuid4()),
            "signing_key": None,
            "property_mappings": [],
            "grant_types": [],
        }
        body = json.dumps({"pagination": {"next": 0}, "results": [provider]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_provider_without_a_field_we_manage_fails_loudly(
    client: AuthentikClient, http: httpx.Client
) -> None:
    spec = _spec(client)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SecretlessProviderHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        odd = AuthentikClient(http, f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
        for attempt in (odd.plan_oauth2_provider, odd.ensure_oauth2_provider):
            with pytest.raises(ServiceError) as caught:
                attempt(spec)
            assert "has no client_secret" in caught.value.detail
            assert SECRET not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["2025.2", "2026.8"])
def release_emulator(request: pytest.FixtureRequest) -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(token=TOKEN, release=request.param) as running:
        yield running


def test_the_application_is_found_by_slug_once_a_binding_hides_it_from_the_list(
    release_emulator: AuthentikEmulator, http: httpx.Client
) -> None:
    """Authentik filters the application list by the token user's policies, superusers
    included: once `admins` is bound, a superuser outside it no longer lists the application,
    and only the look-up by slug still finds it (the next run would otherwise create it
    again and get a 400)."""
    client = AuthentikClient(http, release_emulator.url, TOKEN)
    provider, _ = client.ensure_oauth2_provider(_spec(client))
    application, _ = client.ensure_application("zot", "zot", provider.pk)
    client.ensure_group_binding(application.pbm_uuid, release_emulator.add_group("admins"))
    listed = http.get(
        f"{release_emulator.api_url}/core/applications/",
        params={"slug": "zot"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()["results"]
    assert listed == []
    assert client.find_application("zot") == application
    before = len(release_emulator.requests)
    assert client.ensure_application("zot", "zot", provider.pk) == (application, False)
    assert _writes(release_emulator, before) == []


def test_grant_types_are_set_only_where_the_server_has_them(
    release_emulator: AuthentikEmulator, http: httpx.Client
) -> None:
    """2026.5 added `grant_types` with an empty default, which refuses the code flow; 2025.2
    does not know the field (its emulator refuses unknown fields, the server would drop it)."""
    client = AuthentikClient(http, release_emulator.url, TOKEN)
    provider, changed = client.ensure_oauth2_provider(_spec(client))
    assert changed is True
    sent = [r.json for r in release_emulator.requests if r.method in WRITES]
    stored = release_emulator.stored("providers")[0]
    if release_emulator.release == "2025.2":
        assert all("grant_types" not in body for body in sent)
        assert provider.grant_types == frozenset()
    else:
        assert stored["grant_types"] == ["authorization_code", "refresh_token"]
        assert provider.grant_types == {"authorization_code", "refresh_token"}
    before = len(release_emulator.requests)
    assert client.ensure_oauth2_provider(_spec(client))[1] is False
    assert _writes(release_emulator, before) == []


def test_list_fields_an_admin_extended_are_kept(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    """A PATCH replaces a list field whole: what an admin added must be sent back with ours."""
    spec = _spec(client)
    client.ensure_oauth2_provider(spec)
    theirs = {"matching_mode": "strict", "url": "https://ui.example.test/zot/auth/callback/oidc"}
    emulator.set_provider_field("zot", "redirect_uris", [theirs])
    emulator.set_provider_field("zot", "grant_types", ["authorization_code", "implicit"])
    before = len(emulator.requests)
    client.ensure_oauth2_provider(spec)
    (patch,) = [r.json for r in emulator.requests[before:] if r.method == "PATCH"]
    assert patch["redirect_uris"] == [theirs, spec.redirect_uris[0].to_json()]
    assert patch["grant_types"] == ["authorization_code", "implicit", "refresh_token"]
    stored = emulator.stored("providers")[0]
    assert theirs in stored["redirect_uris"] and "implicit" in stored["grant_types"]
    before = len(emulator.requests)
    assert client.ensure_oauth2_provider(spec)[1] is False
    assert _writes(emulator, before) == []


def test_a_spec_without_a_secret_keeps_the_one_authentik_holds(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    spec = dataclasses.replace(_spec(client), client_secret=None)
    client.ensure_oauth2_provider(spec)
    held = client.provider_secret("zot")
    assert held is not None and held == emulator.stored("providers")[0]["client_secret"]
    assert all("client_secret" not in (r.json or {}) for r in emulator.requests)
    before = len(emulator.requests)
    assert client.ensure_oauth2_provider(spec)[1] is False
    assert _writes(emulator, before) == []
    assert client.provider_secret("nobody") is None


def test_a_user_is_found_by_username_with_its_email(
    client: AuthentikClient, emulator: AuthentikEmulator
) -> None:
    emulator.add_user("ci-bot", email="ci@example.test", groups=["artifact-workloads"])
    user = client.user("ci-bot")
    assert (user.username, user.email) == ("ci-bot", "ci@example.test")
    with pytest.raises(ServiceError, match="no user named 'ghost'"):
        client.user("ghost")
