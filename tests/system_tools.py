"""The programs from Debian the tests use as real peers, and the one way a missing one is
handled: the test fails, naming the package to install (README, "Development"). A skip would
let a broken push path or graph pass unnoticed."""

from __future__ import annotations

import shutil

import pytest

PACKAGES = {
    "skopeo": "skopeo",
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "dot": "graphviz",
}


def tool(name: str) -> str:
    """The path of the program ``name``; fails the test when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed; the tests need it as a real peer: "
            f"apt-get install -y {PACKAGES[name]}",
            pytrace=False,
        )
    return path
