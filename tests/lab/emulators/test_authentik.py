"""The Authentik emulator answers like Authentik: shapes checked with the official client models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from authentik_client.models import (
    Application,
    OAuth2Provider,
    OAuth2ProviderSetupURLs,
    PaginatedCertificateKeyPairList,
    PaginatedFlowList,
    PaginatedGroupList,
    PaginatedOAuth2ProviderList,
    PaginatedPolicyBindingList,
    PaginatedScopeMappingList,
    PolicyBinding,
)

from mikado.lab.emulators import AuthentikEmulator, Fault

from .conftest import AUTHENTIK_TOKEN

SCOPES = ("openid", "email", "profile")


def _first_pk(client: httpx.Client, path: str, **params: str) -> str:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1, results
    return str(results[0]["pk"])


def _provider_body(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
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
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [
            {"matching_mode": "strict", "url": "https://zot.example/zot/auth/callback/oidc"}
        ],
    }
    body.update(overrides)
    return body


def _register(client: httpx.Client, emulator: AuthentikEmulator) -> tuple[dict[str, Any], ...]:
    provider = client.post("/providers/oauth2/", json=_provider_body(client))
    assert provider.status_code == 201, provider.text
    application = client.post(
        "/core/applications/",
        json={"name": "zot", "slug": "zot", "provider": provider.json()["pk"]},
    )
    assert application.status_code == 201, application.text
    group = emulator.add_group("admins")
    binding = client.post(
        "/policies/bindings/",
        json={
            "target": application.json()["pbm_uuid"],
            "group": group,
            "order": 0,
            "enabled": True,
        },
    )
    assert binding.status_code == 201, binding.text
    return provider.json(), application.json(), binding.json()


def test_seeded_lists_match_the_official_response_models(authentik_api: httpx.Client) -> None:
    flows = PaginatedFlowList.model_validate(
        authentik_api.get(
            "/flows/instances/", params={"slug": "default-provider-invalidation-flow"}
        ).json()
    )
    assert [flow.slug for flow in flows.results] == ["default-provider-invalidation-flow"]
    keys = PaginatedCertificateKeyPairList.model_validate(
        authentik_api.get("/crypto/certificatekeypairs/").json()
    )
    assert [key.name for key in keys.results] == ["authentik Self-signed Certificate"]
    scopes = PaginatedScopeMappingList.model_validate(
        authentik_api.get(
            "/propertymappings/provider/scope/",
            params={"managed": "goauthentik.io/providers/oauth2/scope-profile"},
        ).json()
    )
    assert [mapping.scope_name for mapping in scopes.results] == ["profile"]


def test_registration_round_trip_matches_the_official_models(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    provider, application, binding = _register(authentik_api, authentik)
    assert OAuth2Provider.model_validate(provider).assigned_application_slug is None
    assert Application.model_validate(application).provider == provider["pk"]
    assert PolicyBinding.model_validate(binding).group_obj is not None

    listed = PaginatedOAuth2ProviderList.model_validate(
        authentik_api.get("/providers/oauth2/", params={"client_id": "zot"}).json()
    )
    assert [p.pk for p in listed.results] == [provider["pk"]]
    assert listed.results[0].assigned_application_slug == "zot"
    assert (
        authentik_api.get("/providers/oauth2/", params={"client_id": "other"}).json()["results"]
        == []
    )
    retrieved = authentik_api.get(f"/core/applications/{application['slug']}/")
    assert retrieved.json()["pbm_uuid"] == application["pbm_uuid"]
    groups = PaginatedGroupList.model_validate(
        authentik_api.get("/core/groups/", params={"name": "admins"}).json()
    )
    assert [str(g.pk) for g in groups.results] == [binding["group"]]


def test_setup_urls_and_discovery_appear_once_an_application_is_bound(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    provider = authentik_api.post("/providers/oauth2/", json=_provider_body(authentik_api)).json()
    discovery = f"{authentik.url}/application/o/zot/.well-known/openid-configuration"
    assert authentik_api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").status_code == 404
    assert httpx.get(discovery).status_code == 404

    authentik_api.post(
        "/core/applications/", json={"name": "zot", "slug": "zot", "provider": provider["pk"]}
    )
    urls = OAuth2ProviderSetupURLs.model_validate(
        authentik_api.get(f"/providers/oauth2/{provider['pk']}/setup_urls/").json()
    )
    issuer = f"{authentik.url}/application/o/zot/"
    assert urls.issuer == issuer
    document = httpx.get(discovery).json()  # discovery needs no token
    assert document["issuer"] == issuer
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["scopes_supported"]) == set(SCOPES)


def test_patch_changes_only_the_given_fields(authentik_api: httpx.Client) -> None:
    created = authentik_api.post(
        "/providers/oauth2/", json=_provider_body(authentik_api, grant_types=[])
    ).json()
    patched = authentik_api.patch(
        f"/providers/oauth2/{created['pk']}/", json={"grant_types": ["authorization_code"]}
    )
    assert patched.status_code == 200
    assert patched.json()["grant_types"] == ["authorization_code"]
    assert patched.json()["client_secret"] == created["client_secret"]
    assert patched.json()["redirect_uris"] == created["redirect_uris"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        # Pre-2024.10.3 servers took one string; the current model wants a list of objects.
        ({"redirect_uris": "https://zot.example/cb"}, "redirect_uris", "valid list"),
        ({"name": None}, "name", "valid string"),
        ({"authorization_flow": "not-a-uuid"}, "authorization_flow", "UUID"),
        ({"client_type": "secret-ish"}, "client_type", "confidential"),
    ],
)
def test_request_models_reject_a_bad_provider(
    authentik: AuthentikEmulator,
    authentik_api: httpx.Client,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = authentik_api.post(
        "/providers/oauth2/", json=_provider_body(authentik_api, **change)
    )
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert authentik.objects("providers") == []


def test_missing_required_field_says_so_like_django_rest_framework(
    authentik_api: httpx.Client,
) -> None:
    body = _provider_body(authentik_api)
    del body["invalidation_flow"]
    response = authentik_api.post("/providers/oauth2/", json=body)
    assert response.status_code == 400
    assert response.json() == {"invalidation_flow": ["This field is required."]}


def test_serializer_checks_references_uniqueness_and_binding_subjects(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    response = authentik_api.post(
        "/providers/oauth2/", json=_provider_body(authentik_api, authorization_flow=unknown)
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["authorization_flow"][0]

    provider, application, _ = _register(authentik_api, authentik)
    again = authentik_api.post(
        "/core/applications/", json={"name": "zot 2", "slug": "zot", "provider": provider["pk"]}
    )
    assert again.status_code == 400
    assert set(again.json()) == {"slug", "provider"}

    both = authentik_api.post(
        "/policies/bindings/",
        json={
            "target": application["pbm_uuid"],
            "group": authentik.add_group("admins"),
            "user": 1,
            "order": 1,
        },
    )
    assert both.status_code == 400
    assert "Only one of" in both.json()["non_field_errors"][0]


def test_bindings_filter_by_target_but_ignore_group(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    _, application, binding = _register(authentik_api, authentik)
    other_group = authentik.add_group("artifact-workloads")
    by_group = PaginatedPolicyBindingList.model_validate(
        authentik_api.get("/policies/bindings/", params={"group": other_group}).json()
    )
    assert [str(b.pk) for b in by_group.results] == [binding["pk"]]
    by_other_target = authentik_api.get(
        "/policies/bindings/", params={"target": authentik.add_group("x")}
    ).json()
    assert by_other_target["results"] == []
    delete = authentik_api.delete(f"/policies/bindings/{binding['pk']}/")
    assert delete.status_code == 204
    assert (
        authentik_api.get("/policies/bindings/", params={"target": application["pbm_uuid"]}).json()[
            "results"
        ]
        == []
    )


def test_pagination_pages_through_results(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    for name in ("a", "b", "c"):
        authentik.add_group(name)
    page = authentik_api.get("/core/groups/", params={"page_size": 2, "page": 2}).json()
    assert page["pagination"]["count"] == 3
    assert page["pagination"]["total_pages"] == 2
    assert [g["name"] for g in page["results"]] == ["c"]
    assert authentik_api.get("/core/groups/", params={"page": 9}).status_code == 404


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "not_authenticated"), ({"Authorization": "Bearer wrong"}, "authentication_failed")],
)
def test_wrong_or_missing_token_is_403_and_changes_nothing(
    authentik: AuthentikEmulator, headers: dict[str, str], code: str
) -> None:
    response = httpx.post(
        f"{authentik.api_url}/core/applications/",
        json={"name": "zot", "slug": "zot"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}
    assert authentik.objects("applications") == []


def test_requests_are_recorded_so_a_read_only_run_can_be_proven(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    authentik_api.get("/providers/oauth2/", params={"client_id": "zot"})
    authentik_api.get("/core/applications/", params={"slug": "zot"})
    assert [(r.method, r.path, r.query, r.status) for r in authentik.requests] == [
        ("GET", "/api/v3/providers/oauth2/", {"client_id": ["zot"]}, 200),
        ("GET", "/api/v3/core/applications/", {"slug": ["zot"]}, 200),
    ]
    assert not [r for r in authentik.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "authentik.json"
    headers = {"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
    with (
        AuthentikEmulator(token=AUTHENTIK_TOKEN, state_file=state) as first,
        httpx.Client(base_url=first.api_url, headers=headers) as client,
    ):
        provider, application, binding = _register(client, first)
    with (
        AuthentikEmulator(token=AUTHENTIK_TOKEN, state_file=state) as second,
        httpx.Client(base_url=second.api_url, headers=headers) as client,
    ):
        again = client.get("/providers/oauth2/", params={"client_id": "zot"}).json()
        assert again["results"][0]["client_secret"] == provider["client_secret"]
        assert client.get("/core/applications/zot/").json()["pbm_uuid"] == application["pbm_uuid"]
        assert client.get(f"/policies/bindings/{binding['pk']}/").status_code == 200
        # the pk sequence resumes instead of reusing 1
        second_provider = client.post(
            "/providers/oauth2/", json=_provider_body(client, name="other", client_id="other")
        )
        assert second_provider.json()["pk"] == provider["pk"] + 1


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
    assert authentik.objects("applications") == []
    assert (
        authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"}).status_code
        == 201
    )


def test_a_processed_fault_applies_the_write_before_failing(
    authentik: AuthentikEmulator, authentik_api: httpx.Client
) -> None:
    authentik.inject_fault(Fault.error(502, processed=True), method="POST")
    lost = authentik_api.post("/core/applications/", json={"name": "a", "slug": "a"})
    assert lost.status_code == 502
    assert [app["slug"] for app in authentik.objects("applications")] == ["a"]


def test_without_the_client_package_only_presence_is_checked() -> None:
    with AuthentikEmulator(token="t", validate_requests=False) as emulator:
        assert not emulator.validates_requests
        response = httpx.post(
            f"{emulator.api_url}/core/applications/",
            json={"name": "a"},
            headers={"Authorization": "Bearer t"},
        )
        assert response.status_code == 400
        assert response.json() == {"slug": ["This field is required."]}
