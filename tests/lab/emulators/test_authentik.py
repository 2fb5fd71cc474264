"""The Authentik emulator answers like the release it imitates: every object it returns is held
to that release's response model (closed to other fields), request bodies to its request models,
and the application list, the API tokens and the OIDC login behave as authentik's source does
(the places are cited in mikado.lab.emulators.authentik and .authentik_oidc)."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema
import pytest

from mikado.lab.emulators import AuthentikEmulator, EmulatorError, Fault
from mikado.lab.emulators._swagger import SCHEMAS
from mikado.lab.emulators.releases import RELEASES, version_tuple

from .conftest import AUTHENTIK_TOKEN

ALL_RELEASES = RELEASES["authentik"]
SCOPES = ("openid", "email", "profile")
CALLBACK = "https://zot.example/zot/auth/callback/oidc"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
# Where a release's server breaks its own schema, so the emulator must too: 2025.2's schema
# calls a binding's `policy_obj`, `group_obj` and `user_obj` non-null, yet DRF renders the
# nested serializer of an unset subject as null (2026.x's schema says so).
NULL_DESPITE_SCHEMA: dict[str, set[tuple[str, str]]] = {
    "2025.2": {
        ("PolicyBinding", "policy_obj"),
        ("PolicyBinding", "group_obj"),
        ("PolicyBinding", "user_obj"),
    },
}


# response models ---------------------------------------------------------------------------


def _close(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {
        key: {name: _close(sub) for name, sub in value.items()}
        if key == "properties" and isinstance(value, dict)
        else _close(value)
        for key, value in schema.items()
    }
    if "properties" in schema:
        closed["additionalProperties"] = False
    return closed


@functools.cache
def _response_definitions(release: str) -> dict[str, Any]:
    """The release's models with every object closed, nested ones included, so a field the
    release does not have fails the check wherever it appears."""
    document = json.loads((SCHEMAS / f"authentik-{release}" / "models.json").read_text())
    definitions = {name: _close(schema) for name, schema in document["definitions"].items()}
    for model, field in NULL_DESPITE_SCHEMA.get(release, set()):
        properties = definitions[model]["properties"]
        properties[field] = {"anyOf": [properties[field], {"type": "null"}]}
    return definitions


def _problems(release: str, model: str, document: Any) -> list[str]:
    definitions = _response_definitions(release)
    validator = jsonschema.Draft7Validator(
        {**definitions[model], "definitions": definitions},
        format_checker=jsonschema.FormatChecker(),
    )
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def _assert_model(release: str, model: str, document: Any) -> None:
    assert _problems(release, model, document) == [], document


def _assert_page(release: str, model: str, response: httpx.Response) -> list[dict[str, Any]]:
    """A list response: the release's envelope, its Pagination model, each result its model."""
    assert response.status_code == 200, response.text
    body = response.json()
    autocomplete = version_tuple(release) >= (2025, 8)
    envelope = {"pagination", "results"} | ({"autocomplete"} if autocomplete else set())
    assert set(body) == envelope
    if "autocomplete" in body:
        assert body["autocomplete"] == {}
    _assert_model(release, "Pagination", body["pagination"])
    for item in body["results"]:
        _assert_model(release, model, item)
    results: list[dict[str, Any]] = body["results"]
    return results


# fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(params=ALL_RELEASES)
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(release: str, tmp_path: Path) -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(
        token=AUTHENTIK_TOKEN, release=release, state_file=tmp_path / "authentik.json"
    ) as started:
        yield started


@pytest.fixture
def api(emulator: AuthentikEmulator) -> Iterator[httpx.Client]:
    with _client(emulator, AUTHENTIK_TOKEN) as client:
        yield client


def _client(emulator: AuthentikEmulator, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )


def _knows_grant_types(emulator: AuthentikEmulator) -> bool:
    return version_tuple(emulator.release) >= (2026, 5)


def _first_pk(client: httpx.Client, path: str, **params: str) -> str:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1, results
    return str(results[0]["pk"])


def _provider_body(
    client: httpx.Client, emulator: AuthentikEmulator, **overrides: Any
) -> dict[str, Any]:
    """What the zot chain posts: references looked up the way it looks them up."""
    mappings = client.get(
        "/propertymappings/provider/scope/",
        params=[("managed", f"goauthentik.io/providers/oauth2/scope-{s}") for s in SCOPES],
    ).json()["results"]
    body: dict[str, Any] = {
        "name": "zot",
        "authorization_flow": _first_pk(
            client, "/flows/instances/", slug="default-provider-authorization-implicit-consent"
        ),
        "invalidation_flow": _first_pk(
            client, "/flows/instances/", slug="default-provider-invalidation-flow"
        ),
        "client_type": "confidential",
        "client_id": "zot",
        "signing_key": _first_pk(
            client, "/crypto/certificatekeypairs/", name="authentik Self-signed Certificate"
        ),
        "property_mappings": [m["pk"] for m in mappings],
        "redirect_uris": [{"matching_mode": "strict", "url": CALLBACK}],
    }
    if _knows_grant_types(emulator):
        body["grant_types"] = ["authorization_code", "refresh_token"]
    body.update(overrides)
    return body


def _create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _register(
    client: httpx.Client, emulator: AuthentikEmulator, *, bind: str | None = "admins"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Provider, application "zot" and (unless `bind` is None) a binding of that group."""
    provider = _create(client, "/providers/oauth2/", _provider_body(client, emulator))
    application = _create(
        client, "/core/applications/", {"name": "zot", "slug": "zot", "provider": provider["pk"]}
    )
    binding = None
    if bind is not None:
        binding = _create(
            client,
            "/policies/bindings/",
            {"target": application["pk"], "group": emulator.add_group(bind), "order": 0},
        )
    return provider, application, binding


def _update(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.patch(path, json=body)
    assert response.status_code == 200, response.text
    updated: dict[str, Any] = response.json()
    return updated


def _slugs(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [app["slug"] for app in response.json()["results"]]


# 1. every object matches the release's response model ------------------------------------


def test_seeded_objects_match_the_release_response_models(release: str, api: httpx.Client) -> None:
    flows = _assert_page(release, "Flow", api.get("/flows/instances/"))
    assert {flow["slug"] for flow in flows} == {
        "default-provider-authorization-implicit-consent",
        "default-provider-invalidation-flow",
        "default-authentication-flow",
    }
    flow = api.get("/flows/instances/default-provider-invalidation-flow/")
    _assert_model(release, "Flow", flow.json())
    assert flow.json()["designation"] == "invalidation"

    keys = _assert_page(release, "CertificateKeyPair", api.get("/crypto/certificatekeypairs/"))
    assert [key["name"] for key in keys] == ["authentik Self-signed Certificate"]

    scopes = _assert_page(
        release,
        "ScopeMapping",
        api.get(
            "/propertymappings/provider/scope/",
            params={"managed": "goauthentik.io/providers/oauth2/scope-profile"},
        ),
    )
    assert [mapping["scope_name"] for mapping in scopes] == ["profile"]

    groups = _assert_page(release, "Group", api.get("/core/groups/"))
    users = _assert_page(release, "User", api.get("/core/users/"))
    assert [(g["name"], g["is_superuser"]) for g in groups] == [("authentik Admins", True)]
    assert [(u["username"], u["is_superuser"], u["groups"]) for u in users] == [
        ("akadmin", True, [groups[0]["pk"]])
    ]
    assert groups[0]["users"] == [users[0]["pk"]]
    _assert_model(release, "User", api.get(f"/core/users/{users[0]['pk']}/").json())
    _assert_model(release, "Group", api.get(f"/core/groups/{groups[0]['pk']}/").json())


def test_registered_objects_match_the_release_response_models(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    provider, application, group_binding = _register(api, emulator)
    assert group_binding is not None
    bob = emulator.add_user("bob", groups=["admins"])
    user_binding = _create(
        api, "/policies/bindings/", {"target": application["pk"], "user": bob, "order": 1}
    )
    _assert_model(release, "OAuth2Provider", provider)
    _assert_model(release, "Application", application)
    _assert_model(release, "PolicyBinding", group_binding)
    _assert_model(release, "PolicyBinding", user_binding)
    assert group_binding["group_obj"]["name"] == "admins"
    assert user_binding["user_obj"]["username"] == "bob"
    assert user_binding["group_obj"] is None

    shown = api.get(f"/providers/oauth2/{provider['pk']}/").json()
    _assert_model(release, "OAuth2Provider", shown)
    assert shown["assigned_application_slug"] == "zot"
    assert shown["client_secret"] == provider["client_secret"]
    app = api.get("/core/applications/zot/").json()
    _assert_model(release, "Application", app)
    assert app["provider_obj"]["pk"] == provider["pk"]
    _assert_model(
        release, "PolicyBinding", api.get(f"/policies/bindings/{user_binding['pk']}/").json()
    )
    _assert_model(
        release,
        "OAuth2ProviderSetupURLs",
        api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json(),
    )

    listed = _assert_page(
        release, "OAuth2Provider", api.get("/providers/oauth2/", params={"client_id": "zot"})
    )
    assert [p["pk"] for p in listed] == [provider["pk"]]
    apps = _assert_page(
        release,
        "Application",
        api.get("/core/applications/", params={"superuser_full_list": "true"}),
    )
    assert [a["slug"] for a in apps] == ["zot"]
    bindings = _assert_page(
        release, "PolicyBinding", api.get("/policies/bindings/", params={"target": app["pk"]})
    )
    assert [b["pk"] for b in bindings] == [group_binding["pk"], user_binding["pk"]]
    groups = _assert_page(release, "Group", api.get("/core/groups/", params={"name": "admins"}))
    assert [(g["pk"], g["users"]) for g in groups] == [(group_binding["group"], [bob])]
    users = _assert_page(release, "User", api.get("/core/users/", params={"username": "bob"}))
    assert [g["name"] for g in users[0]["groups_obj"]] == ["admins"]


def test_the_response_check_refuses_a_field_the_release_lacks(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """Guards the guarantee above: the check is closed, nested objects included, so it would
    catch the emulator showing a field of the other release."""
    provider, application, binding = _register(api, emulator)
    assert binding is not None
    foreign = "pbm_uuid" if release == "2025.2" else "made_up"
    assert _problems(release, "Application", {**application, foreign: application["pk"]})
    provider_obj = {**application["provider_obj"], "made_up": 1}
    assert _problems(release, "Application", {**application, "provider_obj": provider_obj})
    redirect = {**provider["redirect_uris"][0], "made_up": "x"}
    assert _problems(release, "OAuth2Provider", {**provider, "redirect_uris": [redirect]})
    group_obj = {**binding["group_obj"], "made_up": 1}
    assert _problems(release, "PolicyBinding", {**binding, "group_obj": group_obj})


# Fields only one of the releases shows (research notes §11-12), by kind of object.
RELEASE_ONLY_FIELDS: dict[str, dict[str, set[str]]] = {
    "2025.2": {"group": {"parent", "parent_name"}, "keypair": {"private_key_type"}},
    "2026.8": {
        "application": {"pbm_uuid", "meta_hide", "meta_icon_url", "meta_icon_themed_urls"},
        "provider": {"grant_types", "logout_uri", "logout_method", "refresh_token_threshold"},
        "redirect": {"redirect_uri_type"},
        "group": {"parents", "parents_obj", "children", "children_obj"},
        "binding": {"expires", "expiring"},
        "setup_urls": {"dcr_registration"},
        "keypair": {"key_type"},
    },
}


def test_each_release_shows_its_own_fields_and_not_the_others(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """The differences the zot chain can see between the releases, spelt out besides the
    model check so a schema file swapped for the other release's would not pass."""
    provider, application, binding = _register(api, emulator)
    assert binding is not None
    shown = {
        "application": application,
        "provider": provider,
        "redirect": provider["redirect_uris"][0],
        "group": api.get(f"/core/groups/{binding['group']}/").json(),
        "binding": binding,
        "setup_urls": api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json(),
        "keypair": api.get("/crypto/certificatekeypairs/").json()["results"][0],
    }
    (other,) = (r for r in ALL_RELEASES if r != release)
    for kind, fields in RELEASE_ONLY_FIELDS[release].items():
        assert fields <= set(shown[kind]), kind
    for kind, fields in RELEASE_ONLY_FIELDS[other].items():
        assert not fields & set(shown[kind]), kind


@pytest.mark.parametrize(("release", "unassigned"), [("2025.2", ""), ("2026.8", None)])
def test_an_unassigned_provider_shows_its_application_as_the_release_does(
    emulator: AuthentikEmulator, api: httpx.Client, unassigned: str | None
) -> None:
    provider = _create(api, "/providers/oauth2/", _provider_body(api, emulator))
    _assert_model(emulator.release, "OAuth2Provider", provider)
    assert provider["assigned_application_slug"] == unassigned
    assert provider["assigned_application_name"] == unassigned


# 2. request bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "change", "field"),
    [
        ("2025.2", {"grant_types": ["authorization_code"]}, "grant_types"),
        ("2025.2", {"logout_uri": "https://zot.example/logout"}, "logout_uri"),
        ("2025.2", {"refresh_token_threshold": "seconds=0"}, "refresh_token_threshold"),
        ("2025.2", {"clientid": "zot"}, "clientid"),
        ("2026.8", {"clientid": "zot"}, "clientid"),
        ("2026.8", {"grant_type": ["authorization_code"]}, "grant_type"),
    ],
)
def test_a_provider_field_the_release_does_not_know_is_refused_by_name(
    emulator: AuthentikEmulator, api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    """The real server drops an unknown field silently; the emulator refuses it, so a setting
    that would never arrive fails a test instead."""
    response = api.post("/providers/oauth2/", json=_provider_body(api, emulator, **change))
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert f"`{field}`" in response.json()[field][0]
    assert emulator.release in response.json()[field][0]
    assert emulator.stored("providers") == []


def test_a_redirect_uri_type_is_refused_by_2025_2_and_kept_by_2026_8(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """Nested request objects are closed too: 2025.2 redirect URIs have no type."""
    entry = {"matching_mode": "strict", "url": CALLBACK, "redirect_uri_type": "authorization"}
    response = api.post(
        "/providers/oauth2/", json=_provider_body(api, emulator, redirect_uris=[entry])
    )
    if release == "2025.2":
        assert response.status_code == 400
        assert list(response.json()) == ["redirect_uris"]
        assert response.json()["redirect_uris"][0].startswith("0.redirect_uri_type: Unknown")
        assert emulator.stored("providers") == []
    else:
        assert response.status_code == 201, response.text
        assert response.json()["redirect_uris"] == [entry]


@pytest.mark.parametrize("release", ["2026.8"])
def test_grant_types_are_kept_on_2026_8_and_default_to_none(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """Migration 0033 made the default an empty list, which the zot chain has to fill."""
    body = _provider_body(api, emulator, grant_types=["authorization_code"])
    assert _create(api, "/providers/oauth2/", body)["grant_types"] == ["authorization_code"]
    without = _provider_body(api, emulator, name="other", client_id="other")
    del without["grant_types"]
    assert _create(api, "/providers/oauth2/", without)["grant_types"] == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        # Before 2024.10.3 a string; now a list of objects.
        ({"redirect_uris": "https://zot.example/cb"}, "redirect_uris", "is not of type 'array'"),
        ({"name": None}, "name", "None is not of type 'string'"),
        ({"authorization_flow": "not-a-uuid"}, "authorization_flow", "is not a 'uuid'"),
        ({"client_type": "secret-ish"}, "client_type", "secret-ish"),
        ({"property_mappings": "openid"}, "property_mappings", "'openid' is not valid"),
        ({"redirect_uris": [{"matching_mode": "strict"}]}, "redirect_uris", "0.url: This field"),
    ],
)
def test_a_provider_of_the_wrong_shape_is_refused_on_that_field(
    emulator: AuthentikEmulator,
    api: httpx.Client,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = api.post("/providers/oauth2/", json=_provider_body(api, emulator, **change))
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in " ".join(response.json()[field])
    assert emulator.stored("providers") == []


@pytest.mark.parametrize(
    ("path", "body", "errors"),
    [
        (
            "/providers/oauth2/",
            {"name": "zot", "redirect_uris": []},
            {
                "authorization_flow": ["This field is required."],
                "invalidation_flow": ["This field is required."],
            },
        ),
        ("/core/applications/", {"name": "zot"}, {"slug": ["This field is required."]}),
        (
            "/policies/bindings/",
            {"group": None},
            {"target": ["This field is required."], "order": ["This field is required."]},
        ),
    ],
)
def test_a_missing_required_field_is_named_once_like_django_rest_framework(
    api: httpx.Client, path: str, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "zot", "slug": "zot", "pk": "00000000-0000-4000-8000-000000000000"}, "pk"),
        (
            {"name": "zot", "slug": "zot", "pbm_uuid": "00000000-0000-4000-8000-000000000000"},
            "pbm_uuid",
        ),
        ({"name": "zot", "slug": "zot", "meta_hidden": True}, "meta_hidden"),
        ({"name": "zot", "slug": 7}, "slug"),
        ({"name": "zot", "slug": "zot", "provider": "one"}, "provider"),
    ],
)
def test_an_application_body_is_held_to_the_request_model(
    emulator: AuthentikEmulator,
    api: httpx.Client,
    body: dict[str, Any],
    field: str,
) -> None:
    """`pk` and `pbm_uuid` are read-only: no release accepts them in a request."""
    response = api.post("/core/applications/", json=body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert emulator.stored("applications") == []


def test_a_body_that_is_not_a_json_object_is_refused(api: httpx.Client) -> None:
    not_an_object = api.post("/core/applications/", json=["zot"])
    assert not_an_object.status_code == 400
    assert not_an_object.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    broken = api.post(
        "/core/applications/", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("JSON parse error")


def test_a_binding_targets_the_application_pk(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """The binding's target is the application's pk, in 2026.8 also shown as `pbm_uuid`
    (multi-table inheritance: the pk *is* the policy-binding model's uuid)."""
    _, application, binding = _register(api, emulator)
    assert binding is not None
    assert binding["target"] == application["pk"]
    if release == "2026.8":
        assert application["pbm_uuid"] == application["pk"]
    else:
        assert "pbm_uuid" not in application
    assert api.get("/core/applications/zot/").json()["pk"] == binding["target"]
    found = api.get("/policies/bindings/", params={"target": application["pk"]}).json()
    assert [b["pk"] for b in found["results"]] == [binding["pk"]]
    nothing = api.post(
        "/policies/bindings/",
        json={"target": binding["group"], "group": binding["group"], "order": 1},
    )
    assert nothing.status_code == 400
    assert list(nothing.json()) == ["target"]


def test_serializer_checks_references_uniqueness_and_binding_subjects(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    response = api.post(
        "/providers/oauth2/", json=_provider_body(api, emulator, authorization_flow=unknown)
    )
    assert response.status_code == 400
    assert response.json() == {
        "authorization_flow": [f'Invalid pk "{unknown}" - object does not exist.']
    }

    provider, application, _ = _register(api, emulator)
    duplicate_provider = api.post("/providers/oauth2/", json=_provider_body(api, emulator))
    assert duplicate_provider.status_code == 400
    assert set(duplicate_provider.json()) == {"name", "client_id"}
    again = api.post(
        "/core/applications/", json={"name": "zot 2", "slug": "zot", "provider": provider["pk"]}
    )
    assert again.status_code == 400
    assert again.json() == {
        "slug": ["Application with this slug already exists."],
        "provider": ["Application with this provider already exists."],
    }
    bad_slug = api.post("/core/applications/", json={"name": "x", "slug": "no spaces"})
    assert bad_slug.status_code == 400
    assert list(bad_slug.json()) == ["slug"]

    target = application["pk"]
    both = api.post(
        "/policies/bindings/",
        json={"target": target, "group": emulator.add_group("admins"), "user": 1, "order": 1},
    )
    assert both.json() == {
        "non_field_errors": ["Only one of 'policy', 'user', 'group' can be set."]
    }
    neither = api.post("/policies/bindings/", json={"target": target, "order": 1})
    assert neither.json() == {"non_field_errors": ["One of 'policy', 'user', 'group' must be set."]}
    assert len(emulator.stored("bindings")) == 1


def test_two_group_bindings_with_the_same_target_and_order_are_both_kept(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """`unique_together` includes `policy`, which is NULL for group bindings, so PostgreSQL
    lets the duplicate in: a client must look before it binds."""
    _, application, binding = _register(api, emulator)
    assert binding is not None
    again = {"target": application["pk"], "group": binding["group"], "order": 0}
    second = _create(api, "/policies/bindings/", again)
    assert second["pk"] != binding["pk"]
    listed = api.get("/policies/bindings/", params={"target": application["pk"]}).json()
    assert len(listed["results"]) == 2


def test_patch_changes_only_the_given_fields_and_replaces_lists(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    created = _create(api, "/providers/oauth2/", _provider_body(api, emulator))
    redirect = {"matching_mode": "regex", "url": "https://zot\\.example/.*"}
    patched = api.patch(f"/providers/oauth2/{created['pk']}/", json={"redirect_uris": [redirect]})
    assert patched.status_code == 200, patched.text
    shown_redirect = patched.json()["redirect_uris"]
    assert [{k: v for k, v in r.items() if k != "redirect_uri_type"} for r in shown_redirect] == [
        redirect
    ]
    unchanged = {k: v for k, v in created.items() if k != "redirect_uris"}
    assert {k: v for k, v in patched.json().items() if k != "redirect_uris"} == unchanged
    refused = api.patch(f"/providers/oauth2/{created['pk']}/", json={"clientid": "x"})
    assert refused.status_code == 400
    assert list(refused.json()) == ["clientid"]
    bad_regex = api.patch(
        f"/providers/oauth2/{created['pk']}/",
        json={"redirect_uris": [{"matching_mode": "regex", "url": "("}]},
    )
    assert bad_regex.json() == {"redirect_uris": ["Invalid Regex Pattern"]}


def test_a_repeated_write_and_the_admin_helpers_are_idempotent(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator, bind=None)
    change = {"access_token_validity": "minutes=5"}
    first = _update(api, f"/providers/oauth2/{provider['pk']}/", change)
    second = _update(api, f"/providers/oauth2/{provider['pk']}/", change)
    assert first == second
    assert emulator.add_group("admins") == emulator.add_group("admins")
    assert emulator.add_user("bob", groups=["admins"]) == emulator.add_user("bob")
    assert [g["name"] for g in emulator.stored("groups")] == ["authentik Admins", "admins"]
    assert [u["username"] for u in emulator.stored("users")] == ["akadmin", "bob"]


def test_with_request_checks_off_only_required_fields_are_checked() -> None:
    with (
        AuthentikEmulator(token="t", validate_requests=False) as emulator,
        _client(emulator, "t") as client,
    ):
        assert not emulator.validates_requests
        missing = client.post("/core/applications/", json={"name": "a"})
        assert missing.status_code == 400
        assert missing.json() == {"slug": ["This field is required."]}
        extra = client.post("/core/applications/", json={"name": "a", "slug": "a", "made_up": 1})
        assert extra.status_code == 201
        assert "made_up" not in extra.json()
        assert "made_up" not in emulator.stored("applications")[0]


# 3. the application list is policy-filtered ----------------------------------------------


def test_a_group_binding_filters_the_application_list_even_for_a_superuser(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    _, application, _ = _register(api, emulator, bind=None)
    assert _slugs(api.get("/core/applications/", params={"slug": "zot"})) == ["zot"]
    _create(
        api,
        "/policies/bindings/",
        {"target": application["pk"], "group": emulator.add_group("admins"), "order": 0},
    )

    hidden = api.get("/core/applications/", params={"slug": "zot"})
    assert _slugs(hidden) == []
    assert hidden.json()["pagination"]["count"] == 1
    full = api.get("/core/applications/", params={"slug": "zot", "superuser_full_list": "true"})
    assert _slugs(full) == ["zot"]
    retrieved = api.get("/core/applications/zot/")
    assert retrieved.status_code == 200
    assert retrieved.json()["pk"] == application["pk"]
    assert api.get("/core/applications/other/").status_code == 404

    emulator.add_user("bob", groups=["admins"])
    emulator.add_token("bob", "bob-token")
    emulator.add_user("eve")
    emulator.add_token("eve", "eve-token")
    with _client(emulator, "bob-token") as bob, _client(emulator, "eve-token") as eve:
        assert _slugs(bob.get("/core/applications/", params={"slug": "zot"})) == ["zot"]
        everything = eve.get(
            "/core/applications/", params={"slug": "zot", "superuser_full_list": "true"}
        )
        assert _slugs(everything) == []
        assert eve.get("/core/applications/zot/").json() == FORBIDDEN


def test_a_negated_or_disabled_binding_and_a_user_binding_decide_as_the_engine_does(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    _, application, binding = _register(api, emulator)
    assert binding is not None
    emulator.add_user("bob", groups=["admins"])
    admin = emulator.user_named("akadmin")
    assert admin is not None
    emulator.add_token("bob", "bob-token")
    with _client(emulator, "bob-token") as client:
        assert _slugs(client.get("/core/applications/")) == ["zot"]
        _update(api, f"/policies/bindings/{binding['pk']}/", {"negate": True})
        assert _slugs(client.get("/core/applications/")) == []
        assert _slugs(api.get("/core/applications/")) == ["zot"]
        _update(api, f"/policies/bindings/{binding['pk']}/", {"enabled": False})
        assert _slugs(client.get("/core/applications/")) == ["zot"]
        _create(
            api,
            "/policies/bindings/",
            {"target": application["pk"], "user": admin["pk"], "order": 1},
        )
        assert _slugs(client.get("/core/applications/")) == []
        assert _slugs(api.get("/core/applications/")) == ["zot"]


def test_the_list_cache_ignores_filters_until_a_write_flushes_it(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """authentik caches a user's filtered page by (user, page number) only: `?slug=b` right
    after `?slug=a` answers a's page until a binding, group, user or application is written."""
    for slug in ("a", "b"):
        _create(api, "/core/applications/", {"name": slug, "slug": slug})
    emulator.add_user("bob")
    emulator.add_token("bob", "bob-token")

    assert _slugs(api.get("/core/applications/", params={"slug": "a"})) == ["a"]
    assert _slugs(api.get("/core/applications/", params={"slug": "b"})) == ["a"]
    bypass = api.get("/core/applications/", params={"slug": "b", "superuser_full_list": "true"})
    assert _slugs(bypass) == ["b"]
    with _client(emulator, "bob-token") as bob:
        assert _slugs(bob.get("/core/applications/", params={"slug": "b"})) == ["b"]
        assert _slugs(bob.get("/core/applications/", params={"slug": "a"})) == ["b"]
    assert _slugs(api.get("/core/applications/", params={"slug": "b"})) == ["a"]

    _update(api, "/core/applications/b/", {"meta_description": "the registry"})
    assert _slugs(api.get("/core/applications/", params={"slug": "b"})) == ["b"]
    assert _slugs(api.get("/core/applications/", params={"slug": "a"})) == ["b"]
    emulator.add_group("anyone")
    assert _slugs(api.get("/core/applications/", params={"slug": "a"})) == ["a"]


def test_an_empty_page_is_not_cached(emulator: AuthentikEmulator, api: httpx.Client) -> None:
    _create(api, "/core/applications/", {"name": "zot", "slug": "zot"})
    assert _slugs(api.get("/core/applications/", params={"slug": "missing"})) == []
    assert _slugs(api.get("/core/applications/", params={"slug": "zot"})) == ["zot"]


# 4. authentication and permissions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Bearer wrong"}, "Token invalid/expired"),
        ({"Authorization": f"Token {AUTHENTIK_TOKEN}"}, "Unsupported authentication type"),
    ],
)
def test_a_wrong_or_missing_token_is_403_with_only_a_detail(
    emulator: AuthentikEmulator, headers: dict[str, str], detail: str
) -> None:
    """DRF's plain error body: authentik sets no exception handler, so there is no `code`."""
    response = httpx.post(
        f"{emulator.api_url}/core/applications/",
        json={"name": "zot", "slug": "zot"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json() == {"detail": detail}
    assert emulator.stored("applications") == []


def test_a_token_of_an_ordinary_user_may_only_list_applications(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    _register(api, emulator, bind=None)
    emulator.add_user("eve")
    emulator.add_token("eve", "eve-token")
    with _client(emulator, "eve-token") as eve:
        for path in ("/providers/oauth2/", "/core/groups/", "/flows/instances/"):
            refused = eve.get(path)
            assert refused.status_code == 403
            assert refused.json() == FORBIDDEN
        created = eve.post("/core/applications/", json={"name": "mine", "slug": "mine"})
        assert created.status_code == 403
        assert _slugs(eve.get("/core/applications/")) == ["zot"]
    assert [app["slug"] for app in emulator.stored("applications")] == ["zot"]


def test_a_member_of_the_superuser_group_passes_every_permission_check(
    emulator: AuthentikEmulator,
) -> None:
    """User.is_superuser is membership of a superuser group."""
    emulator.add_user("root", groups=["authentik Admins"])
    emulator.add_token("root", "root-token")
    with _client(emulator, "root-token") as root:
        assert root.get("/providers/oauth2/").status_code == 200
        assert root.get("/core/users/", params={"username": "root"}).json()["results"][0][
            "is_superuser"
        ]


def test_unknown_paths_and_methods(api: httpx.Client) -> None:
    assert api.get("/core/nothing/").json() == {"detail": "Not found."}
    assert api.get("/core/groups").status_code == 404  # authentik's URLs end with a slash
    assert api.get("/providers/oauth2/99/").status_code == 404
    deleted = api.delete("/flows/instances/default-authentication-flow/")
    assert deleted.status_code == 405
    assert deleted.json() == {"detail": 'Method "DELETE" not allowed.'}


# 5. setup_urls -----------------------------------------------------------------------------


def test_setup_urls_name_no_issuer_until_an_application_is_bound(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """providers.py `setup_urls` catches the missing application and answers 200 with null
    per-application URLs and no `jwks` (the schema's 404 text does not match the code)."""
    provider = _create(api, "/providers/oauth2/", _provider_body(api, emulator))
    before = api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/")
    assert before.status_code == 200
    base = f"{emulator.url}/application/o"
    expected: dict[str, Any] = {
        "issuer": None,
        "authorize": f"{base}/authorize/",
        "token": f"{base}/token/",
        "user_info": f"{base}/userinfo/",
        "provider_info": None,
        "logout": None,
    }
    if release == "2026.8":
        expected["dcr_registration"] = None
    assert before.json() == expected

    _create(api, "/core/applications/", {"name": "zot", "slug": "zot", "provider": provider["pk"]})
    after = api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json()
    _assert_model(release, "OAuth2ProviderSetupURLs", after)
    assert after["issuer"] == f"{base}/zot/"
    assert after["provider_info"] == f"{base}/zot/.well-known/openid-configuration"
    assert after["jwks"] == f"{base}/zot/jwks/"
    assert after["logout"] == f"{base}/zot/end-session/"

    assert api.delete("/core/applications/zot/").status_code == 204
    assert api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json() == expected


def test_setup_urls_of_an_unknown_provider_is_404(api: httpx.Client) -> None:
    response = api.get("/providers/oauth2/99/setup_urls/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


# 6. the OIDC code flow ---------------------------------------------------------------------


def _authorize_params(client_id: str, scope: str = "openid email profile") -> dict[str, str]:
    return {
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": scope,
        "state": "st4te",
    }


def _login_and_authorize(
    emulator: AuthentikEmulator,
    browser: httpx.Client,
    username: str,
    password: str,
    params: dict[str, str],
) -> httpx.Response:
    """A browser: authorize, get sent to the login flow, log in, come back to authorize."""
    first = browser.get("/application/o/authorize/", params=params)
    assert first.status_code == 302, first.text
    login = first.headers["Location"]
    assert login.startswith(f"{emulator.url}/if/flow/default-authentication-flow/?next=")
    assert browser.get(login).status_code == 200
    logged_in = browser.post(login, data={"username": username, "password": password})
    assert logged_in.status_code == 302, logged_in.text
    assert "authentik_session=" in logged_in.headers["Set-Cookie"]
    back = logged_in.headers["Location"]
    assert back == parse_qs(urlsplit(login).query)["next"][0]
    assert urlsplit(back).path == "/application/o/authorize/"
    return browser.get(back)


def _code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


@pytest.fixture
def browser(emulator: AuthentikEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, follow_redirects=False, timeout=5) as client:
        yield client


def test_the_code_flow_end_to_end(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator)
    emulator.add_user("bob", email="bob@example.org", groups=["admins", "devs"], password="pw")
    params = _authorize_params(provider["client_id"])

    first = browser.get("/application/o/authorize/", params=params)
    login = first.headers["Location"]
    wrong = browser.post(login, data={"username": "bob", "password": "nope"})
    assert wrong.status_code == 403
    assert "set-cookie" not in wrong.headers
    code = _code_of(_login_and_authorize(emulator, browser, "bob", "pw", params))

    token_url = f"{emulator.url}/application/o/token/"
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    wrong_secret = httpx.post(token_url, data=exchange, auth=(provider["client_id"], "wrong"))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {"error": "invalid_client"}
    auth = (provider["client_id"], provider["client_secret"])
    tokens = httpx.post(token_url, data=exchange, auth=auth)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "Bearer"
    id_token = _claims(tokens.json()["id_token"])
    assert id_token["iss"] == f"{emulator.url}/application/o/zot/"
    assert id_token["aud"] == provider["client_id"]
    reused = httpx.post(token_url, data=exchange, auth=auth)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant"}

    userinfo = httpx.get(
        f"{emulator.url}/application/o/userinfo/",
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
    )
    assert userinfo.status_code == 200
    claims = userinfo.json()
    assert claims["sub"] == id_token["sub"]
    assert claims["preferred_username"] == "bob"
    assert claims["email"] == "bob@example.org"
    assert claims["groups"] == ["admins", "devs"]
    refused = httpx.get(
        f"{emulator.url}/application/o/userinfo/", headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401


def test_the_token_endpoint_takes_client_secret_post_and_checks_the_redirect_uri(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator, bind=None)
    emulator.add_user("bob", password="pw")
    token_url = f"{emulator.url}/application/o/token/"
    params = _authorize_params(provider["client_id"])
    code = _code_of(_login_and_authorize(emulator, browser, "bob", "pw", params))
    credentials = {"client_id": provider["client_id"], "client_secret": provider["client_secret"]}
    elsewhere = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK + "x"}
    assert httpx.post(token_url, data={**elsewhere, **credentials}).json() == {
        "error": "invalid_grant"
    }
    second = _code_of(browser.get("/application/o/authorize/", params=params))
    exchange = {"grant_type": "authorization_code", "code": second, "redirect_uri": CALLBACK}
    assert httpx.post(token_url, data={**exchange, **credentials}).status_code == 200


def test_the_scopes_asked_for_decide_the_userinfo_claims(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator, bind=None)
    emulator.add_user("bob", groups=["admins"], password="pw")
    params = _authorize_params(provider["client_id"], scope="openid")
    code = _code_of(_login_and_authorize(emulator, browser, "bob", "pw", params))
    tokens = httpx.post(
        f"{emulator.url}/application/o/token/",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=(provider["client_id"], provider["client_secret"]),
    ).json()
    claims = httpx.get(
        f"{emulator.url}/application/o/userinfo/",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert set(claims) == {"sub"}


def test_authorize_admits_only_users_who_pass_the_bindings(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """A PolicyAccessView: outsiders are refused, superusers included."""
    provider, _, _ = _register(api, emulator)
    emulator.add_user("bob", groups=["admins"], password="pw")
    emulator.add_user("eve", groups=["devs"], password="pw")
    emulator.add_user("root", groups=["authentik Admins"], password="pw")
    root = emulator.user_named("root")
    assert root is not None
    assert root["is_superuser"]
    params = _authorize_params(provider["client_id"])
    outcomes = {}
    for username in ("bob", "eve", "root"):
        with httpx.Client(base_url=emulator.url, follow_redirects=False, timeout=5) as browser:
            outcomes[username] = _login_and_authorize(emulator, browser, username, "pw", params)
    assert _code_of(outcomes["bob"])
    for outsider in ("eve", "root"):
        assert outcomes[outsider].status_code == 403
        assert "location" not in outcomes[outsider].headers


def test_without_bindings_every_user_may_authorize(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator, bind=None)
    emulator.add_user("eve", password="pw")
    params = _authorize_params(provider["client_id"])
    assert _code_of(_login_and_authorize(emulator, browser, "eve", "pw", params))


def test_authorize_refuses_an_unknown_client_a_foreign_redirect_and_an_unbound_provider(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator, bind=None)
    unknown = browser.get("/application/o/authorize/", params=_authorize_params("nobody"))
    assert unknown.status_code == 400
    assert unknown.headers["Content-Type"].startswith("text/html")
    foreign = {**_authorize_params(provider["client_id"]), "redirect_uri": "https://evil.example/"}
    assert browser.get("/application/o/authorize/", params=foreign).status_code == 400

    regex = [{"matching_mode": "regex", "url": r"https://zot\.example/zot/.*"}]
    _update(api, f"/providers/oauth2/{provider['pk']}/", {"redirect_uris": regex})
    matched = browser.get(
        "/application/o/authorize/", params=_authorize_params(provider["client_id"])
    )
    assert matched.status_code == 302
    prefix_only = {**foreign, "redirect_uri": "https://zot.example/zot"}
    assert browser.get("/application/o/authorize/", params=prefix_only).status_code == 400

    lonely = _create(
        api, "/providers/oauth2/", _provider_body(api, emulator, name="lonely", client_id="lonely")
    )
    unbound = browser.get(
        "/application/o/authorize/", params=_authorize_params(lonely["client_id"])
    )
    assert unbound.status_code == 403


@pytest.mark.parametrize(("release", "refused"), [("2025.2", False), ("2026.8", True)])
def test_a_provider_without_the_authorization_code_grant_is_refused_only_on_2026(
    emulator: AuthentikEmulator, api: httpx.Client, browser: httpx.Client, refused: bool
) -> None:
    """2026.5 gave providers `grant_types` with an empty default; 2025.2 has no such check."""
    provider, _, _ = _register(api, emulator, bind=None)
    if _knows_grant_types(emulator):
        _update(api, f"/providers/oauth2/{provider['pk']}/", {"grant_types": ["refresh_token"]})
    params = _authorize_params(provider["client_id"])
    response = browser.get("/application/o/authorize/", params=params)
    if refused:
        assert response.status_code == 400
        assert "grant_type" in response.text
        _update(
            api, f"/providers/oauth2/{provider['pk']}/", {"grant_types": ["authorization_code"]}
        )
        response = browser.get("/application/o/authorize/", params=params)
    assert response.status_code == 302
    assert "/if/flow/default-authentication-flow/" in response.headers["Location"]


def test_the_login_flow_never_redirects_off_site(
    emulator: AuthentikEmulator, browser: httpx.Client
) -> None:
    emulator.add_user("bob", password="pw")
    response = browser.post(
        "/if/flow/default-authentication-flow/",
        params={"next": "https://evil.example/"},
        data={"username": "bob", "password": "pw"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{emulator.url}/"
    emulator.add_user("nopass")
    refused = browser.post(
        "/if/flow/default-authentication-flow/", data={"username": "nopass", "password": ""}
    )
    assert refused.status_code == 403


# 7. discovery --------------------------------------------------------------------------------


def test_discovery_names_the_issuer_with_its_trailing_slash(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    provider, _, _ = _register(api, emulator)
    issuer = api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json()["issuer"]
    assert issuer == f"{emulator.url}/application/o/zot/"
    discovery = httpx.get(f"{issuer}.well-known/openid-configuration")  # needs no token
    assert discovery.status_code == 200
    document = discovery.json()
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{emulator.url}/application/o/authorize/"
    assert document["token_endpoint"] == f"{emulator.url}/application/o/token/"
    assert document["userinfo_endpoint"] == f"{emulator.url}/application/o/userinfo/"
    assert document["jwks_uri"] == f"{issuer}jwks/"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["scopes_supported"]) == set(SCOPES)
    assert document["scopes_supported"][0] == "openid"

    _update(api, f"/providers/oauth2/{provider['pk']}/", {"signing_key": None})
    again = httpx.get(f"{issuer}.well-known/openid-configuration").json()
    assert again["id_token_signing_alg_values_supported"] == ["HS256"]


def test_discovery_is_404_for_an_unknown_slug_or_an_application_without_provider(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    _create(api, "/core/applications/", {"name": "bare", "slug": "bare"})
    for slug in ("zot", "bare"):
        response = httpx.get(
            f"{emulator.url}/application/o/{slug}/.well-known/openid-configuration"
        )
        assert response.status_code == 404


# lists, deletes, faults and state ----------------------------------------------------------


def test_pagination_pages_through_results(
    release: str, emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    for name in ("a", "b", "c"):
        emulator.add_group(name)
    page = api.get("/core/groups/", params={"page_size": 3, "page": 2})
    groups = _assert_page(release, "Group", page)
    assert [g["name"] for g in groups] == ["c"]
    assert page.json()["pagination"] == {
        "next": 0,
        "previous": 1,
        "count": 4,
        "current": 2,
        "total_pages": 2,
        "start_index": 4,
        "end_index": 4,
    }
    first = api.get("/core/groups/", params={"page_size": 3}).json()["pagination"]
    assert (first["next"], first["previous"], first["start_index"], first["end_index"]) == (
        2,
        0,
        1,
        3,
    )
    assert api.get("/core/groups/", params={"page": 9}).status_code == 404
    assert api.get("/core/groups/", params={"page": "x"}).status_code == 404
    empty = api.get("/core/groups/", params={"name": "nobody"}).json()["pagination"]
    assert (empty["count"], empty["total_pages"], empty["start_index"]) == (0, 1, 0)


def test_bindings_filter_by_target_but_ignore_group(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """PolicyBindingFilter has no `group`: django-filter ignores it and lists every binding."""
    _, application, binding = _register(api, emulator)
    assert binding is not None
    other_group = emulator.add_group("artifact-workloads")
    by_group = api.get("/policies/bindings/", params={"group": other_group}).json()
    assert [b["pk"] for b in by_group["results"]] == [binding["pk"]]
    by_other_target = api.get("/policies/bindings/", params={"target": other_group}).json()
    assert by_other_target["results"] == []
    assert api.delete(f"/policies/bindings/{binding['pk']}/").status_code == 204
    listed = api.get("/policies/bindings/", params={"target": application["pk"]}).json()
    assert listed["results"] == []


def test_deletes_cascade_as_the_database_does(
    emulator: AuthentikEmulator, api: httpx.Client
) -> None:
    """A binding goes with its application; an application outlives its provider."""
    provider, application, binding = _register(api, emulator)
    assert binding is not None
    assert api.delete(f"/providers/oauth2/{provider['pk']}/").status_code == 204
    assert api.get("/core/applications/zot/").json()["provider"] is None
    assert api.get(f"/policies/bindings/{binding['pk']}/").status_code == 200
    assert api.delete("/core/applications/zot/").status_code == 204
    assert api.get(f"/policies/bindings/{binding['pk']}/").status_code == 404
    assert emulator.stored("bindings") == []
    assert application["pk"] not in {a["pk"] for a in emulator.stored("applications")}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, 403), ({"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}, 200)],
)
def test_requests_are_recorded_so_a_read_only_run_can_be_proven(
    authentik: AuthentikEmulator, headers: dict[str, str], expected: int
) -> None:
    with httpx.Client(base_url=authentik.api_url, headers=headers) as client:
        client.get("/providers/oauth2/", params={"client_id": "zot"})
        client.get("/core/applications/", params={"slug": "zot"})
    assert [(r.method, r.path, r.query, r.status) for r in authentik.requests] == [
        ("GET", "/api/v3/providers/oauth2/", {"client_id": ["zot"]}, expected),
        ("GET", "/api/v3/core/applications/", {"slug": ["zot"]}, expected),
    ]


def test_state_survives_a_restart(release: str, tmp_path: Path) -> None:
    state = tmp_path / "authentik.json"
    with AuthentikEmulator(token=AUTHENTIK_TOKEN, release=release, state_file=state) as first:
        with _client(first, AUTHENTIK_TOKEN) as client:
            provider, application, binding = _register(client, first)
        first.add_user("bob", groups=["admins"], password="pw")
        first.add_token("bob", "bob-token")
    assert binding is not None
    with AuthentikEmulator(token=AUTHENTIK_TOKEN, release=release, state_file=state) as second:
        with _client(second, AUTHENTIK_TOKEN) as client:
            again = client.get("/providers/oauth2/", params={"client_id": "zot"}).json()
            assert again["results"][0]["client_secret"] == provider["client_secret"]
            assert client.get("/core/applications/zot/").json()["pk"] == application["pk"]
            assert client.get(f"/policies/bindings/{binding['pk']}/").status_code == 200
            second_provider = _create(
                client,
                "/providers/oauth2/",
                _provider_body(client, second, name="other", client_id="other"),
            )
            assert second_provider["pk"] == provider["pk"] + 1
        with _client(second, "bob-token") as bob:
            assert _slugs(bob.get("/core/applications/")) == ["zot"]
    other = next(r for r in ALL_RELEASES if r != release)
    with pytest.raises(EmulatorError, match=release):
        AuthentikEmulator(token=AUTHENTIK_TOKEN, release=other, state_file=state).start()


def test_an_unknown_release_is_refused() -> None:
    with pytest.raises(EmulatorError, match=r"not 2024\.12"):
        AuthentikEmulator(token="t", release="2024.12")


def test_faults_hit_only_matching_requests(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    authentik.inject_fault(
        Fault.rate_limited(retry_after=3), method="POST", path_prefix="/api/v3/core/"
    )
    assert authentik_api.get("/core/applications/").status_code == 200
    limited = authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert authentik.stored("applications") == []
    retried = authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"})
    assert retried.status_code == 201


def test_a_processed_fault_applies_the_write_before_failing(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    authentik.inject_fault(Fault.error(502, processed=True), method="POST")
    lost = authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"})
    assert lost.status_code == 502
    assert [app["slug"] for app in authentik.stored("applications")] == ["a"]
    retried = authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"})
    assert retried.json() == {"slug": ["Application with this slug already exists."]}
