"""The project's own tool configuration: a plain `mypy` from the project root checks every
module the project ships, the actions included (they are files with hyphens in their names,
not a package, so a `packages` setting misses them)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shipped_python() -> set[Path]:
    return {*ROOT.joinpath("mikado").rglob("*.py"), *ROOT.joinpath("actions").glob("*.py")}


def test_mypy_is_configured_to_check_the_package_and_every_action() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True
    assert "packages" not in mypy and "modules" not in mypy  # either would replace `files`
    configured = [ROOT / entry for entry in mypy["files"]]
    unchecked = [
        path
        for path in _shipped_python()
        if not any(path.is_relative_to(place) for place in configured)
    ]
    assert unchecked == []


def test_mypy_finds_every_action_as_a_source(monkeypatch: pytest.MonkeyPatch) -> None:
    find_sources = pytest.importorskip("mypy.find_sources")
    from mypy.config_parser import parse_config_file
    from mypy.options import Options

    monkeypatch.chdir(ROOT)  # mypy's `files` are relative to where it runs
    options = Options()
    parse_config_file(options, lambda: None, str(ROOT / "pyproject.toml"))
    sources = find_sources.create_source_list(options.files or [], options)
    found = {Path(source.path).resolve() for source in sources if source.path}
    assert set(ROOT.joinpath("actions").glob("*.py")) <= found
    names = {source.module for source in sources}
    assert {"_workflows", "enforce-tag-immutability", "mikado.engine.runner"} <= names


def test_the_schemas_the_emulators_validate_with_ship_in_the_package() -> None:
    """An installed lab validates requests as a checkout does: every schema file is package
    data (the README's main job runs the lab from such an install)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    patterns = setuptools["package-data"]["mikado.lab.emulators"]
    package = ROOT / "mikado" / "lab" / "emulators"
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    files = {path for path in (package / "schemas").rglob("*") if path.is_file()}
    assert files and files == shipped
