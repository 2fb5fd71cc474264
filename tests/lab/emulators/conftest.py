"""Fixtures shared by the emulator tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator

AUTHENTIK_TOKEN = "authentik-test-token"


@pytest.fixture
def authentik(tmp_path: Path) -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(
        token=AUTHENTIK_TOKEN, state_file=tmp_path / "authentik.json", validate_requests=True
    ) as emulator:
        yield emulator


@pytest.fixture
def authentik_api(authentik: AuthentikEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=authentik.api_url,
        headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"},
        timeout=5,
    ) as client:
        yield client


FORGEJO_TOKEN = "forgejo-test-pat"


@pytest.fixture
def forgejo(tmp_path: Path) -> Iterator[ForgejoEmulator]:
    with ForgejoEmulator(
        token=FORGEJO_TOKEN,
        repos=["blumeops/blumeops"],
        state_file=tmp_path / "forgejo.json",
        validate_requests=True,
    ) as emulator:
        yield emulator


@pytest.fixture
def forgejo_api(forgejo: ForgejoEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=forgejo.api_url, headers={"Authorization": f"token {FORGEJO_TOKEN}"}, timeout=5
    ) as client:
        yield client
