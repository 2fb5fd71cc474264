"""Real services for the client tests: the CNCF distribution registry from Debian."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from system_tools import tool


@dataclass(frozen=True)
class RunningRegistry:
    url: str
    user: str | None = None
    password: str | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_registry(root: Path, htpasswd: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    registry = tool("docker-registry")
    port = _free_port()
    (root / "storage").mkdir()
    auth = f"auth:\n  htpasswd:\n    realm: mikado-test\n    path: {htpasswd}\n" if htpasswd else ""
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: mikado-test-secret\n" + auth
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([registry, "serve", str(config)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((root / "registry.log").read_text())
        try:
            httpx.get(f"{url}/v2/", timeout=0.5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("docker-registry did not start within 15 s")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    root = tmp_path_factory.mktemp("registry")
    process, url = _start_registry(root, None)
    try:
        yield RunningRegistry(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    htpasswd_tool = tool("htpasswd")
    root = tmp_path_factory.mktemp("auth-registry")
    user, password = "ci-bot", "s3cret-Pa55"
    entry = subprocess.run(
        [htpasswd_tool, "-Bbn", user, password], check=True, capture_output=True, text=True
    ).stdout
    htpasswd = root / "htpasswd"
    htpasswd.write_text(entry)
    process, url = _start_registry(root, htpasswd)
    try:
        yield RunningRegistry(url, user, password)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client
