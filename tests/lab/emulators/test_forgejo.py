"""The Forgejo emulator: Actions secrets as Forgejo 11 and 16 store them, each release checked
against its own swagger (/work/research/forgejo.md, "What an emulator of Forgejo 11 vs 16 must do
differently")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import mikado
from mikado.lab.emulators import Fault, ForgejoEmulator
from mikado.lab.emulators._server import EmulatorError
from mikado.lab.emulators._swagger import schema_file
from mikado.lab.emulators.forgejo import secret_name_problem

from .conftest import FORGEJO_TOKEN

REPO_SECRETS = "/repos/blumeops/blumeops/actions/secrets"
ORG_SECRETS = "/orgs/blumeops/actions/secrets"
REPO = "blumeops/blumeops"
FORGEJO_RELEASES = ("11", "16")
# A path only the Forgejo 16 swagger has (the Actions runs API).
RUNS_16_ONLY = "/repos/blumeops/blumeops/actions/runs"


@pytest.fixture(params=FORGEJO_RELEASES, ids=lambda release: f"forgejo-{release}")
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(release: str, tmp_path: Path) -> Iterator[ForgejoEmulator]:
    """The emulator as Forgejo ``release``, validating against its own swagger."""
    with ForgejoEmulator(
        token=FORGEJO_TOKEN,
        repos=[REPO],
        state_file=tmp_path / "forgejo.json",
        release=release,
    ) as started:
        yield started


@pytest.fixture
def api(emulator: ForgejoEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}, timeout=5
    ) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# What both releases do alike


def test_create_then_update_answers_201_then_204(
    emulator: ForgejoEmulator, api: httpx.Client
) -> None:
    first = api.put(f"{REPO_SECRETS}/ZOT_CI_KEY", json={"data": "zak_one"})
    second = api.put(f"{REPO_SECRETS}/zot_ci_key", json={"data": "zak_two"})
    assert (first.status_code, second.status_code) == (201, 204)
    assert (first.content, second.content) == (b"", b"")
    # names are case-insensitive and stored upper-case
    assert emulator.secret_value("ZOT_CI_KEY", repo=REPO) == "zak_two"
    assert emulator.secret_names(repo=REPO) == ["ZOT_CI_KEY"]


def test_org_secrets_are_separate_from_repo_secrets(
    emulator: ForgejoEmulator, api: httpx.Client
) -> None:
    assert api.put(f"{ORG_SECRETS}/REGISTRY_USER", json={"data": "ci"}).status_code == 201
    assert emulator.secret_value("REGISTRY_USER", org="blumeops") == "ci"
    assert emulator.secret_value("REGISTRY_USER", repo=REPO) is None
    assert api.put("/orgs/nobody/actions/secrets/X", json={"data": "v"}).status_code == 404


def test_listing_gives_names_and_dates_never_values(api: httpx.Client) -> None:
    api.put(f"{REPO_SECRETS}/B_SECRET", json={"data": "value-b"})
    api.put(f"{REPO_SECRETS}/A_SECRET", json={"data": "value-a"})
    listing = api.get(REPO_SECRETS)
    assert listing.status_code == 200
    assert [entry["name"] for entry in listing.json()] == ["A_SECRET", "B_SECRET"]
    assert all(set(entry) == {"name", "created_at"} for entry in listing.json())
    assert "value-" not in listing.text
    paged = api.get(REPO_SECRETS, params={"limit": 1, "page": 2})
    assert [entry["name"] for entry in paged.json()] == ["B_SECRET"]
    assert paged.headers["X-Total-Count"] == "2"


def test_delete_removes_and_a_second_delete_is_404(
    emulator: ForgejoEmulator, api: httpx.Client
) -> None:
    api.put(f"{REPO_SECRETS}/GONE", json={"data": "x"})
    assert api.delete(f"{REPO_SECRETS}/gone").status_code == 204
    assert api.delete(f"{REPO_SECRETS}/GONE").status_code == 404
    assert emulator.secret_value("GONE", repo=REPO) is None


BAD_EVERYWHERE = ("1ABC", "HAS-DASH", "GITHUB_TOKEN", "github_x", "Gitea_Y", "")
# FORGE_ is not FORGEJO_, and a reserved prefix only counts at the start of the name.
GOOD_EVERYWHERE = ("FORGE_TOKEN", "ZOT_CI_API_KEY", "_X", "a1_b2", "MY_FORGEJO_X")


def test_names_both_releases_refuse(
    emulator: ForgejoEmulator, api: httpx.Client, release: str
) -> None:
    for name in BAD_EVERYWHERE:
        assert secret_name_problem(name, release) == "invalid secret name", name
        if not name:
            continue  # an empty name is another path: the listing, which has no PUT
        response = api.put(f"{REPO_SECRETS}/{name}", json={"data": "v"})
        assert response.status_code == 400, name
        assert response.json()["message"] == "invalid secret name"
    assert emulator.secret_names(repo=REPO) == []


def test_names_both_releases_accept(
    emulator: ForgejoEmulator, api: httpx.Client, release: str
) -> None:
    for name in GOOD_EVERYWHERE:
        assert secret_name_problem(name, release) is None, name
        assert api.put(f"{REPO_SECRETS}/{name}", json={"data": "v"}).status_code == 201, name
    assert emulator.secret_names(repo=REPO) == sorted(name.upper() for name in GOOD_EVERYWHERE)


def test_swagger_validation_rejects_a_body_without_data(
    emulator: ForgejoEmulator, api: httpx.Client
) -> None:
    assert emulator.validates_requests
    wrong_type = api.put(f"{REPO_SECRETS}/X", json={"data": 42})
    assert wrong_type.status_code == 422
    assert "is not of type 'string'" in wrong_type.json()["message"]
    missing = api.put(f"{REPO_SECRETS}/X", json={"value": "v"})
    assert missing.status_code == 422
    assert "'data' is a required property" in missing.json()["message"]
    bad_query = api.get(REPO_SECRETS, params={"limit": "many"})
    assert bad_query.status_code == 422
    assert emulator.secret_names(repo=REPO) == []


def test_an_empty_value_is_refused_and_whitespace_is_kept(
    emulator: ForgejoEmulator, api: httpx.Client
) -> None:
    empty = api.put(f"{REPO_SECRETS}/X", json={"data": ""})
    assert empty.status_code == 422
    assert empty.json()["message"] == "[Data]: Required"
    assert api.put(f"{REPO_SECRETS}/X", json={"data": "  padded \n"}).status_code == 201
    assert emulator.secret_value("X", repo=REPO) == "  padded \n"


def test_paths_outside_the_api_are_404_and_wrong_methods_405(api: httpx.Client) -> None:
    assert api.get("/repos/blumeops/blumeops/actions/nonsense").status_code == 404
    assert api.post(f"{REPO_SECRETS}/X", json={"data": "v"}).status_code == 405


def test_repository_lookup(api: httpx.Client) -> None:
    repo = api.get("/repos/blumeops/blumeops")
    assert repo.json()["full_name"] == REPO
    assert api.get("/repos/blumeops/missing").status_code == 404


@pytest.mark.parametrize("header", [None, "token wrong", f"Basic {FORGEJO_TOKEN}"])
def test_missing_or_wrong_token_is_401_before_the_body_is_looked_at(
    emulator: ForgejoEmulator, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.put(f"{emulator.api_url}{REPO_SECRETS}/X", json={"data": 42}, headers=headers)
    assert response.status_code == 401
    assert emulator.secret_names(repo=REPO) == []


# ---------------------------------------------------------------------------------------------
# Where Forgejo 11 and 16 differ


@pytest.mark.parametrize(
    ("release", "problem", "status"),
    [("11", None, 201), ("16", "invalid secret name", 400)],
    ids=["forgejo-11", "forgejo-16"],
)
def test_only_16_reserves_the_forgejo_prefix(
    release: str, problem: str | None, status: int
) -> None:
    for name in ("FORGEJO_TOKEN", "forgejo_x", "Forgejo_Y"):
        assert secret_name_problem(name, release) == problem
    with (
        ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPO], release=release) as emulator,
        httpx.Client(
            base_url=emulator.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}
        ) as api,
    ):
        response = api.put(f"{REPO_SECRETS}/forgejo_x", json={"data": "v"})
        assert response.status_code == status
        stored = ["FORGEJO_X"] if status == 201 else []
        assert emulator.secret_names(repo=REPO) == stored
        if problem is not None:
            assert response.json()["message"] == problem


def test_secret_name_problem_follows_16_by_default() -> None:
    assert secret_name_problem("FORGEJO_X") == "invalid secret name"
    assert secret_name_problem("FORGEJO_X", "11") is None
    assert secret_name_problem("GITEA_X", "11") == "invalid secret name"


@pytest.mark.parametrize(
    ("release", "stored"),
    [("11", " a\r\nb\rc\r\n "), ("16", " a\nb\rc\n ")],
    ids=["forgejo-11-verbatim", "forgejo-16-lf"],
)
def test_16_turns_crlf_into_lf_and_11_stores_api_values_verbatim(release: str, stored: str) -> None:
    sent = " a\r\nb\rc\r\n "  # a lone CR stays in both; nothing is trimmed
    with (
        ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPO], release=release) as emulator,
        httpx.Client(
            base_url=emulator.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}
        ) as api,
    ):
        assert api.put(f"{REPO_SECRETS}/CREATED", json={"data": sent}).status_code == 201
        api.put(f"{REPO_SECRETS}/UPDATED", json={"data": "first"})
        assert api.put(f"{REPO_SECRETS}/UPDATED", json={"data": sent}).status_code == 204
        assert api.put(f"{ORG_SECRETS}/ORG_LEVEL", json={"data": sent}).status_code == 201
        assert emulator.secret_value("CREATED", repo=REPO) == stored
        assert emulator.secret_value("UPDATED", repo=REPO) == stored
        assert emulator.secret_value("ORG_LEVEL", org="blumeops") == stored


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        # FORGEJO_X is a valid name in 11, just absent
        ("11", {"1BAD": 400, "GITEA_X": 400, "HAS-DASH": 400, "FORGEJO_X": 404}),
        ("16", {"1BAD": 404, "GITEA_X": 404, "HAS-DASH": 404, "FORGEJO_X": 404}),
    ],
    ids=["forgejo-11", "forgejo-16"],
)
def test_delete_with_an_invalid_name_is_400_in_11_and_404_in_16(
    release: str, expected: dict[str, int]
) -> None:
    with (
        ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPO], release=release) as emulator,
        httpx.Client(
            base_url=emulator.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}
        ) as api,
    ):
        for name, status in expected.items():
            for secrets in (REPO_SECRETS, ORG_SECRETS):
                response = api.delete(f"{secrets}/{name}")
                assert response.status_code == status, (secrets, name)
                if status == 400:
                    assert response.json()["message"] == "invalid secret name"


def test_a_forgejo_prefixed_secret_made_in_11_can_be_deleted_in_11() -> None:
    with (
        ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPO], release="11") as emulator,
        httpx.Client(
            base_url=emulator.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}
        ) as api,
    ):
        assert api.put(f"{REPO_SECRETS}/FORGEJO_X", json={"data": "v"}).status_code == 201
        assert api.delete(f"{REPO_SECRETS}/forgejo_x").status_code == 204
        assert emulator.secret_names(repo=REPO) == []


@pytest.mark.parametrize(
    ("release", "version"),
    [("11", "11.0.3+gitea-1.22.0"), ("16", "16.0.1+gitea-1.22.0")],
    ids=["forgejo-11", "forgejo-16"],
)
def test_version_per_release_needs_no_token_and_matches_the_swagger(
    release: str, version: str
) -> None:
    document = json.loads(schema_file(f"forgejo-{release}", "swagger.v1.json").read_text())
    assert document["info"]["version"] == version
    with ForgejoEmulator(token=FORGEJO_TOKEN, release=release) as emulator:
        answer = httpx.get(f"{emulator.api_url}/version")
    assert answer.status_code == 200
    assert answer.json() == {"version": version}


def test_the_default_release_is_16(forgejo: ForgejoEmulator) -> None:
    assert forgejo.release == "16"
    assert httpx.get(f"{forgejo.api_url}/version").json() == {"version": "16.0.1+gitea-1.22.0"}


def test_an_unknown_release_is_refused() -> None:
    with pytest.raises(EmulatorError, match="imitates Forgejo 11, 16, not 15"):
        ForgejoEmulator(token="t", release="15")


# ---------------------------------------------------------------------------------------------
# Each release is checked against its own swagger


@pytest.mark.parametrize(
    ("release", "status"), [("11", 404), ("16", 501)], ids=["forgejo-11", "forgejo-16"]
)
def test_requests_are_validated_against_the_releases_own_swagger_by_default(
    release: str, status: int
) -> None:
    # The runs API is only in the 16 document: 11 refuses the path itself, 16 routes it to
    # the emulator, which does not implement it.
    with ForgejoEmulator(token=FORGEJO_TOKEN, repos=[REPO], release=release) as emulator:
        assert emulator.validates_requests
        answer = httpx.get(
            f"{emulator.api_url}{RUNS_16_ONLY}",
            headers={"Authorization": f"token {FORGEJO_TOKEN}"},
        )
    assert answer.status_code == status
    if status == 404:
        assert answer.json()["message"] == f"{RUNS_16_ONLY} is not in the API"


def test_without_validation_11_no_longer_refuses_a_16_only_path() -> None:
    with ForgejoEmulator(
        token=FORGEJO_TOKEN, repos=[REPO], release="11", validate_requests=False
    ) as emulator:
        assert not emulator.validates_requests
        answer = httpx.get(
            f"{emulator.api_url}{RUNS_16_ONLY}",
            headers={"Authorization": f"token {FORGEJO_TOKEN}"},
        )
        # the same bad body the swagger would refuse with 422 reaches the handler
        loose = httpx.put(
            f"{emulator.api_url}{REPO_SECRETS}/X",
            json={"data": 42},
            headers={"Authorization": f"token {FORGEJO_TOKEN}"},
        )
    assert answer.status_code == 501
    assert loose.json()["message"] == "[Data]: Required"


def test_an_explicit_schema_replaces_the_releases_own() -> None:
    with ForgejoEmulator(
        token=FORGEJO_TOKEN,
        repos=[REPO],
        release="16",
        schema=schema_file("forgejo-11", "swagger.v1.json"),
    ) as emulator:
        answer = httpx.get(
            f"{emulator.api_url}{RUNS_16_ONLY}",
            headers={"Authorization": f"token {FORGEJO_TOKEN}"},
        )
    assert answer.status_code == 404


@pytest.mark.parametrize("release", FORGEJO_RELEASES)
def test_each_releases_schema_ships_with_mikado(tmp_path: Path, release: str) -> None:
    shipped = schema_file(f"forgejo-{release}", "swagger.v1.json")
    assert shipped.is_file()
    assert shipped.is_relative_to(Path(mikado.__file__).parent)
    assert (shipped.parent / "SOURCE.md").is_file()
    assert ForgejoEmulator(token="t", release=release).validates_requests
    with pytest.raises(OSError):
        ForgejoEmulator(token="t", release=release, schema=tmp_path / "none.json")


# ---------------------------------------------------------------------------------------------
# Release-independent machinery, on the default release


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
