"""The workflow edits of actions/_workflows.py: idempotent, order-free, comment-keeping."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from mikado.errors import ConfigError
from tests.chain.conftest import DAGGER_WORKFLOW, SKOPEO_WORKFLOW, WORKTREE

HOST = "registry.example.org"
PATH = Path("workflow.yaml")


@pytest.fixture(scope="module")
def workflows() -> ModuleType:
    sys.path.insert(0, str(WORKTREE / "actions"))
    try:
        import _workflows

        return _workflows
    finally:
        sys.path.remove(str(WORKTREE / "actions"))


def both(workflows: ModuleType, text: str, user: str = "ci-bot") -> str:
    wire = workflows.credentials_edit(HOST, user, "ZOT_CI_API_KEY", "ZOT_CI_API_KEY")
    guard = workflows.guard_edit(HOST, f"https://{HOST}")
    return str(workflows.edited(workflows.edited(text, PATH, wire), PATH, guard))


@pytest.mark.parametrize("template", [SKOPEO_WORKFLOW, DAGGER_WORKFLOW])
def test_edits_are_idempotent_commute_and_only_add(workflows: ModuleType, template: str) -> None:
    text = template.replace("HOST", HOST)
    once = both(workflows, text)
    assert both(workflows, once) == once
    guard = workflows.guard_edit(HOST, f"https://{HOST}")
    wire = workflows.credentials_edit(HOST, "ci-bot", "ZOT_CI_API_KEY", "ZOT_CI_API_KEY")
    other_order = workflows.edited(workflows.edited(text, PATH, guard), PATH, wire)
    assert other_order == once
    # Every original line survives (the push command line gains its credentials in place).
    kept = [
        line for line in text.splitlines() if "skopeo copy" not in line and "dagger" not in line
    ]
    edited_lines = once.splitlines()
    assert all(line in edited_lines for line in kept)


def test_a_changed_ci_identity_replaces_the_credentials_instead_of_adding_more(
    workflows: ModuleType,
) -> None:
    for template in (SKOPEO_WORKFLOW, DAGGER_WORKFLOW):
        text = both(workflows, template.replace("HOST", HOST), user="old-bot")
        renamed = both(workflows, text, user="ci-bot")
        assert "old-bot" not in renamed and renamed.count("ci-bot") == 1


def test_the_guard_repeats_the_assignments_its_reference_needs(workflows: ModuleType) -> None:
    document = workflows.parse(SKOPEO_WORKFLOW.replace("HOST", HOST), PATH)
    [push] = workflows.push_steps(document, HOST)
    assert (push.kind, push.repository, push.tag) == ("skopeo", "blumeops/app", "${TAG}")
    script = workflows.guard_script(push, f"https://{HOST}")
    assert 'TAG="${GITHUB_REF_NAME}"\nimage_name="blumeops/app"\nimage_tag="${TAG}"' in script
    assert f"https://{HOST}/v2/$image_name/tags/list" in script


def test_pushes_to_another_registry_are_left_alone(workflows: ModuleType) -> None:
    text = SKOPEO_WORKFLOW.replace("HOST", "ghcr.io")
    assert both(workflows, text) == text


def test_broken_yaml_is_reported_with_its_line(workflows: ModuleType) -> None:
    with pytest.raises(ConfigError) as error:
        workflows.parse("jobs:\n  build:\n    steps: [\n", PATH)
    assert error.value.path == "workflow.yaml" and error.value.line is not None
