"""The Forgejo emulator: Actions secrets as Forgejo 16 stores them, checked against its swagger."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mikado.lab.emulators import Fault, ForgejoEmulator
from mikado.lab.emulators._swagger import schema_file
from mikado.lab.emulators.forgejo import secret_name_problem

from .conftest import FORGEJO_TOKEN

REPO_SECRETS = "/repos/blumeops/blumeops/actions/secrets"
ORG_SECRETS = "/orgs/blumeops/actions/secrets"


def test_create_then_update_answers_201_then_204(
    forgejo: ForgejoEmulator, forgejo_api: httpx.Client
) -> None:
    first = forgejo_api.put(f"{REPO_SECRETS}/ZOT_CI_KEY", json={"data": "zak_one"})
    second = forgejo_api.put(f"{REPO_SECRETS}/zot_ci_key", json={"data": "zak_two\r\nline"})
    assert (first.status_code, second.status_code) == (201, 204)
    # names are case-insensitive and stored upper-case; CRLF becomes LF
    assert forgejo.secret_value("ZOT_CI_KEY", repo="blumeops/blumeops") == "zak_two\nline"
    assert forgejo.secret_names(repo="blumeops/blumeops") == ["ZOT_CI_KEY"]


def test_org_secrets_are_separate_from_repo_secrets(
    forgejo: ForgejoEmulator, forgejo_api: httpx.Client
) -> None:
    assert forgejo_api.put(f"{ORG_SECRETS}/REGISTRY_USER", json={"data": "ci"}).status_code == 201
    assert forgejo.secret_value("REGISTRY_USER", org="blumeops") == "ci"
    assert forgejo.secret_value("REGISTRY_USER", repo="blumeops/blumeops") is None
    assert forgejo_api.put("/orgs/nobody/actions/secrets/X", json={"data": "v"}).status_code == 404


def test_listing_gives_names_and_dates_never_values(forgejo_api: httpx.Client) -> None:
    forgejo_api.put(f"{REPO_SECRETS}/B_SECRET", json={"data": "value-b"})
    forgejo_api.put(f"{REPO_SECRETS}/A_SECRET", json={"data": "value-a"})
    listing = forgejo_api.get(REPO_SECRETS)
    assert listing.status_code == 200
    assert [entry["name"] for entry in listing.json()] == ["A_SECRET", "B_SECRET"]
    assert all(set(entry) == {"name", "created_at"} for entry in listing.json())
    assert "value-" not in listing.text
    paged = forgejo_api.get(REPO_SECRETS, params={"limit": 1, "page": 2})
    assert [entry["name"] for entry in paged.json()] == ["B_SECRET"]
    assert paged.headers["X-Total-Count"] == "2"


def test_delete_removes_and_a_second_delete_is_404(
    forgejo: ForgejoEmulator, forgejo_api: httpx.Client
) -> None:
    forgejo_api.put(f"{REPO_SECRETS}/GONE", json={"data": "x"})
    assert forgejo_api.delete(f"{REPO_SECRETS}/GONE").status_code == 204
    assert forgejo_api.delete(f"{REPO_SECRETS}/GONE").status_code == 404
    assert forgejo.secret_value("GONE", repo="blumeops/blumeops") is None


@pytest.mark.parametrize("name", ["1ABC", "HAS-DASH", "GITHUB_TOKEN", "forgejo_x", "Gitea_Y"])
def test_bad_secret_names_are_refused(
    forgejo: ForgejoEmulator, forgejo_api: httpx.Client, name: str
) -> None:
    assert secret_name_problem(name) is not None
    response = forgejo_api.put(f"{REPO_SECRETS}/{name}", json={"data": "v"})
    assert response.status_code == 400
    assert forgejo.secret_names(repo="blumeops/blumeops") == []


def test_swagger_validation_rejects_a_body_without_data(
    forgejo: ForgejoEmulator, forgejo_api: httpx.Client
) -> None:
    assert forgejo.validates_requests
    wrong_type = forgejo_api.put(f"{REPO_SECRETS}/X", json={"data": 42})
    assert wrong_type.status_code == 422
    assert "is not of type 'string'" in wrong_type.json()["message"]
    missing = forgejo_api.put(f"{REPO_SECRETS}/X", json={"value": "v"})
    assert missing.status_code == 422
    assert "'data' is a required property" in missing.json()["message"]
    bad_query = forgejo_api.get(REPO_SECRETS, params={"limit": "many"})
    assert bad_query.status_code == 422
    assert forgejo.secret_names(repo="blumeops/blumeops") == []


def test_paths_outside_the_api_are_404_and_wrong_methods_405(forgejo_api: httpx.Client) -> None:
    assert forgejo_api.get("/repos/blumeops/blumeops/actions/nonsense").status_code == 404
    assert forgejo_api.post(f"{REPO_SECRETS}/X", json={"data": "v"}).status_code == 405


def test_repository_and_version(forgejo: ForgejoEmulator, forgejo_api: httpx.Client) -> None:
    repo = forgejo_api.get("/repos/blumeops/blumeops")
    assert repo.json()["full_name"] == "blumeops/blumeops"
    assert forgejo_api.get("/repos/blumeops/missing").status_code == 404
    # the version needs no token
    assert httpx.get(f"{forgejo.api_url}/version").json() == {"version": "16.0.1+gitea-1.22.0"}


@pytest.mark.parametrize("header", [None, "token wrong", f"Basic {FORGEJO_TOKEN}"])
def test_missing_or_wrong_token_is_401_before_the_body_is_looked_at(
    forgejo: ForgejoEmulator, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.put(f"{forgejo.api_url}{REPO_SECRETS}/X", json={"data": 42}, headers=headers)
    assert response.status_code == 401
    assert forgejo.secret_names(repo="blumeops/blumeops") == []


def test_bearer_is_accepted_like_token(forgejo: ForgejoEmulator) -> None:
    response = httpx.get(
        f"{forgejo.api_url}{REPO_SECRETS}", headers={"Authorization": f"Bearer {FORGEJO_TOKEN}"}
    )
    assert response.status_code == 200


def test_values_are_persisted_but_never_served(tmp_path: Path) -> None:
    state = tmp_path / "forgejo.json"
    headers = {"Authorization": f"token {FORGEJO_TOKEN}"}
    with ForgejoEmulator(token=FORGEJO_TOKEN, repos=["o/r"], state_file=state) as first:
        httpx.put(
            f"{first.api_url}/repos/o/r/actions/secrets/KEY", json={"data": "s3"}, headers=headers
        )
        created = httpx.get(f"{first.api_url}/repos/o/r/actions/secrets", headers=headers).json()
    assert json.loads(state.read_text())["state"]["secrets"]["repo:o/r"]["KEY"]["data"] == "s3"
    with ForgejoEmulator(token=FORGEJO_TOKEN, state_file=state) as second:
        assert second.secret_value("KEY", repo="o/r") == "s3"
        update = httpx.put(
            f"{second.api_url}/repos/o/r/actions/secrets/KEY", json={"data": "s4"}, headers=headers
        )
        assert update.status_code == 204
        again = httpx.get(f"{second.api_url}/repos/o/r/actions/secrets", headers=headers).json()
        assert again == created  # created_at kept across the update and the restart


def test_fault_then_recovery(forgejo: ForgejoEmulator, forgejo_api: httpx.Client) -> None:
    forgejo.inject_fault(Fault.error(502), method="PUT", path_prefix="/api/v1/repos/", times=2)
    statuses = [
        forgejo_api.put(f"{REPO_SECRETS}/KEY", json={"data": "v"}).status_code for _ in range(3)
    ]
    assert statuses == [502, 502, 201]
    assert [r.json for r in forgejo.requests] == [{"data": "v"}] * 3


def test_requests_are_validated_by_default_against_the_schema_mikado_ships(
    tmp_path: Path,
) -> None:
    import mikado

    emulator = ForgejoEmulator(token="t")
    assert emulator.validates_requests
    assert schema_file("forgejo-16", "swagger.v1.json").is_relative_to(Path(mikado.__file__).parent)
    with pytest.raises(OSError):
        ForgejoEmulator(token="t", schema=tmp_path / "none.json")
