"""The Forgejo client against the Forgejo emulator (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mikado.errors import ConfigError, ServiceError
from mikado.lab.emulators import ForgejoEmulator
from mikado.services.forgejo import ForgejoClient, check_secret_name

TOKEN = "forgejo-pat-0123456789abcdef"
VALUE = "zak_registry-api-key-never-shown"


@pytest.fixture
def emulator() -> Iterator[ForgejoEmulator]:
    with ForgejoEmulator(token=TOKEN, repos=["blumeops/infra"]) as running:
        yield running


@pytest.fixture
def client(emulator: ForgejoEmulator, http: httpx.Client) -> ForgejoClient:
    return ForgejoClient(http, emulator.url, TOKEN)


def test_repo_secret_is_created_then_updated(
    client: ForgejoClient, emulator: ForgejoEmulator
) -> None:
    assert client.set_actions_secret("blumeops", "infra", "REGISTRY_PASSWORD", VALUE) == "created"
    assert emulator.secret_value("REGISTRY_PASSWORD", repo="blumeops/infra") == VALUE
    assert client.set_actions_secret("blumeops", "infra", "REGISTRY_PASSWORD", "v2") == "updated"
    assert emulator.secret_value("REGISTRY_PASSWORD", repo="blumeops/infra") == "v2"
    put = [request for request in emulator.requests if request.method == "PUT"]
    assert [request.path for request in put] == [
        "/api/v1/repos/blumeops/infra/actions/secrets/REGISTRY_PASSWORD"
    ] * 2
    assert put[0].json == {"data": VALUE}


def test_org_secret_is_created_then_updated(
    client: ForgejoClient, emulator: ForgejoEmulator
) -> None:
    assert client.set_org_actions_secret("blumeops", "REGISTRY_USER", "ci-bot") == "created"
    assert client.set_org_actions_secret("blumeops", "REGISTRY_USER", "ci-bot") == "updated"
    assert client.list_org_actions_secrets("blumeops") == ["REGISTRY_USER"]
    assert client.list_actions_secrets("blumeops", "infra") == []


def test_listing_follows_pages(client: ForgejoClient, emulator: ForgejoEmulator) -> None:
    names = [f"SECRET_{index:03d}" for index in range(120)]
    for name in names:
        client.set_actions_secret("blumeops", "infra", name, "x")
    assert sorted(client.list_actions_secrets("blumeops", "infra")) == names
    pages = [
        request.query.get("page")
        for request in emulator.requests
        if request.method == "GET" and request.path.endswith("/actions/secrets")
    ]
    assert pages == [["1"], ["2"], ["3"]]


def test_lower_case_names_are_stored_upper_case(client: ForgejoClient) -> None:
    client.set_actions_secret("blumeops", "infra", "registry_token", "x")
    assert client.list_actions_secrets("blumeops", "infra") == ["REGISTRY_TOKEN"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1ST", "not starting with a digit"),
        ("HAS-DASH", "letters, digits and underscores"),
        ("", "letters, digits and underscores"),
        ("GITHUB_TOKEN", "may not start with GITHUB_"),
        ("forgejo_x", "may not start with FORGEJO_"),
        ("Gitea_Y", "may not start with GITEA_"),
    ],
)
def test_bad_names_are_refused_before_sending(
    client: ForgejoClient, emulator: ForgejoEmulator, name: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        client.set_actions_secret("blumeops", "infra", name, VALUE)
    assert emulator.requests == []


def test_an_empty_value_is_refused_before_sending(
    client: ForgejoClient, emulator: ForgejoEmulator
) -> None:
    with pytest.raises(ConfigError, match="empty"):
        client.set_org_actions_secret("blumeops", "REGISTRY_USER", "")
    assert emulator.requests == []


def test_good_names_pass() -> None:
    for name in ("A", "_X", "REGISTRY_PASSWORD_2", "lower_ok"):
        check_secret_name(name)


def test_wrong_token_is_401_with_forgejos_message_and_no_secrets(
    emulator: ForgejoEmulator, http: httpx.Client
) -> None:
    wrong = "wrong-pat-zzzzzzzzzzzz"
    client = ForgejoClient(http, emulator.url + "/api/v1", wrong)
    with pytest.raises(ServiceError) as caught:
        client.set_actions_secret("blumeops", "infra", "REGISTRY_PASSWORD", VALUE)
    error = caught.value
    assert error.status == 401
    assert error.detail == "token is required or invalid"
    assert error.request.endswith("/api/v1/repos/blumeops/infra/actions/secrets/REGISTRY_PASSWORD")
    assert error.request.startswith("PUT ")
    text = str(error)
    assert wrong not in text and VALUE not in text and TOKEN not in text


def test_missing_repository_is_404_with_a_hint(client: ForgejoClient) -> None:
    with pytest.raises(ServiceError) as caught:
        client.list_actions_secrets("blumeops", "nope")
    assert caught.value.status == 404
    assert caught.value.detail == "The target couldn't be found."
    assert caught.value.hint and "repository" in caught.value.hint
