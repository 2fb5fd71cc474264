"""The workflow edits of actions/_workflows.py: idempotent, order-free, comment-keeping, and
a tag guard that, run by a shell as Forgejo runs it, checks the tag the push really uses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from mikado.errors import ConfigError
from mikado.lab.infra import dagger_workflow, skopeo_workflow
from tests.chain.conftest import DAGGER_WORKFLOW, SKOPEO_WORKFLOW, WORKTREE
from tests.chain.test_dagger import (
    MODULE,
    MODULE_PATH,
    MODULE_WITH_AUTH,
    MODULE_WITH_PASSWORD_ONLY,
    write_module,
)

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


def test_pushes_to_another_registry_are_left_alone(workflows: ModuleType) -> None:
    text = SKOPEO_WORKFLOW.replace("HOST", "ghcr.io")
    assert both(workflows, text) == text


def test_broken_yaml_is_reported_with_its_line(workflows: ModuleType) -> None:
    with pytest.raises(ConfigError) as error:
        workflows.parse("jobs:\n  build:\n    steps: [\n", PATH)
    assert error.value.path == "workflow.yaml" and error.value.line is not None


def test_the_guard_goes_into_the_push_script_before_each_push(workflows: ModuleType) -> None:
    text = SKOPEO_WORKFLOW.replace("HOST", HOST).replace(
        "            docker://HOST/blumeops/app:${TAG}\n".replace("HOST", HOST),
        f"            docker://{HOST}/blumeops/app:${{TAG}}\n"
        f"          skopeo copy docker-archive:result 'docker://{HOST}/blumeops/app:latest'\n",
    )
    document = workflows.parse(text, PATH)
    [push] = workflows.push_steps(document, HOST)
    assert [(c.repository, c.tag, c.quotes) for c in push.commands] == [
        ("blumeops/app", "${TAG}", ("", "")),
        ("blumeops/app", "latest", ("'", "'")),
    ]
    script = yaml.safe_load(both(workflows, text))["jobs"]["build"]["steps"][push.index]["run"]
    # each push gets its own block, with the words of that push in the quoting they had
    first, second = script.split(workflows.GUARD_END)[:2]
    assert 'mikado_tag="${TAG}"' in first and first.index('TAG="') < first.index("(\n")
    assert "mikado_tag='latest'" in second
    assert script.count(workflows.GUARD_BEGIN) == 2


@pytest.mark.parametrize(
    ("command", "pushed"),
    [
        # a mirror within the registry pushes to its destination, not its source
        ("skopeo copy docker://HOST/infra/app:v1 docker://HOST/mirror/app:v1", "mirror/app:v1"),
        ('skopeo copy --all docker://HOST/a:v1 "docker://HOST/b:${TAG}"  # copy', "b:${TAG}"),
        # a copy out of the registry pushes elsewhere
        ("skopeo copy docker://HOST/infra/app:v1 docker://ghcr.io/infra/app:v1", None),
    ],
)
def test_a_skopeo_push_is_its_destination(
    workflows: ModuleType, command: str, pushed: str | None
) -> None:
    script = command.replace("HOST", HOST)
    found = [f"{c.repository}:{c.tag}" for c in workflows.push_commands(script, HOST)]
    assert found == ([pushed] if pushed else [])
    guarded = workflows.guarded_script(script, HOST, f"https://{HOST}")
    if pushed:
        assert f'mikado_image="{pushed.split(":")[0]}"' in guarded
    else:
        assert guarded == script


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("ssh builder <<'EOF'\nskopeo copy oci:x docker://HOST/a/b:v1\nEOF\n", "<<EOF"),
        ("cat <<-END > push.sh\n\tskopeo copy oci:x docker://HOST/a/b:v1\n\tEND\n", "<<END"),
        ("TAG=v1 skopeo copy oci:x docker://HOST/a/b:${TAG}\n", "sets TAG on its own line"),
        ("TAG=v1 dagger call publish --registry HOST --image a/b --tag $TAG\n", "sets TAG"),
    ],
)
def test_a_push_a_guard_cannot_protect_is_refused_not_edited(
    workflows: ModuleType, script: str, why: str
) -> None:
    """A guard inside a here-document would be text, and one before `TAG=v1 skopeo ...`
    cannot see the tag: the edit refuses, naming the step, and leaves the file alone."""
    script = script.replace("HOST", HOST)
    with pytest.raises(workflows.UnguardablePush, match=re.escape(why)):
        workflows.guarded_script(script, HOST, f"https://{HOST}")
    text = "jobs:\n  build:\n    steps:\n      - name: Push image\n        run: |\n" + "".join(
        f"          {line}\n" for line in script.splitlines()
    )
    guard = workflows.guard_edit(HOST, f"https://{HOST}")
    with pytest.raises(ConfigError) as error:
        workflows.edited(text, PATH, guard)
    assert error.value.path == str(PATH)
    assert "job `build`, step 1 (Push image)" in str(error.value)
    # the line of the push in the workflow file, not in its script
    push = "skopeo copy" if "skopeo copy" in script else "dagger call"
    assert error.value.line == _line_holding(text, push)


@pytest.mark.parametrize(
    "before",
    [
        "cat <<EOF > notes.txt\nskopeo copy is how we push\nEOF\n",  # a closed here-document
        'echo "a << b"\n',  # `<<` in quotes opens nothing
        'grep x <<< "$a"\n',  # a here-string
        "# cat <<EOF\n",  # a comment
    ],
)
def test_a_push_after_what_only_looks_like_a_here_document_is_guarded(
    workflows: ModuleType, before: str
) -> None:
    script = before + f"GODEBUG=1 skopeo copy oci:x docker://{HOST}/a/b:${{TAG}}\n"
    guarded = workflows.guarded_script(script, HOST, f"https://{HOST}")
    assert guarded.count(workflows.GUARD_BEGIN) == 1
    assert guarded.index(workflows.GUARD_END) < guarded.index("GODEBUG=1 skopeo")
    assert before in guarded  # nothing went into what came before


def test_a_guard_step_of_an_earlier_version_is_replaced_by_the_block(
    workflows: ModuleType,
) -> None:
    text = dagger_workflow(HOST)
    legacy = (
        "      - name: Refuse to overwrite an existing version tag\n"
        "        run: |\n"
        "          # mikado: tag guard for infra/api (card enforce-tag-immutability)\n"
        '          tag="${{ github.sha }}"\n'
        "          exit 0\n"
    )
    old = text.replace(
        "      - name: Publish the image\n", legacy + "      - name: Publish the image\n"
    )
    assert both(workflows, old) == both(workflows, text)


COMMENTED_WORKFLOW = """\
jobs:
  publish:
    steps:
      - name: Publish  # with Dagger
        with:
          retries: 2
        # dagger reads the registry address from its arguments
        run: |
          #!/bin/sh
          tag="${{ github.ref_name }}"
          # publish the version tag
          dagger call publish --registry HOST \\
            --image infra/api --tag "$tag"
      # Mirrors the image; its only comment is on the run line.
      - name: Mirror
        run: skopeo copy docker-archive:result docker://HOST/mirror/api:v1  # mirror
"""


def test_comments_stay_with_what_they_describe(workflows: ModuleType) -> None:
    edited = both(workflows, COMMENTED_WORKFLOW.replace("HOST", HOST))
    # the comment above `run:` is still above it, not above the credentials' env
    assert (
        "        # dagger reads the registry address from its arguments\n        run: |" in edited
    )
    assert "      - name: Publish  # with Dagger\n        with:\n          retries: 2\n" in edited
    # the comment above the push command is still above it, not above the guard
    assert "          # publish the version tag\n          dagger call publish" in edited
    assert "          #!/bin/sh\n          tag=" in edited
    assert edited.index(workflows.GUARD_END) < edited.index("# publish the version tag")
    assert (
        "      # Mirrors the image; its only comment is on the run line.\n      - name: Mirror\n"
        in (edited)
    )
    # a one-line `run:` turned into a block keeps its end-of-line comment, above it
    assert (
        "          ZOT_CI_API_KEY: ${{ secrets.ZOT_CI_API_KEY }}\n        # mirror\n        run: |"
        in (edited)
    )
    assert both(workflows, edited) == edited
    guard = workflows.guard_edit(HOST, f"https://{HOST}")
    wire = workflows.credentials_edit(HOST, "ci-bot", "ZOT_CI_API_KEY", "ZOT_CI_API_KEY")
    text = COMMENTED_WORKFLOW.replace("HOST", HOST)
    assert workflows.edited(workflows.edited(text, PATH, guard), PATH, wire) == edited


# ---------------------------------------------------------------------------------------
# The guard, executed


@dataclass
class Registry:
    """A registry that answers only `GET /v2/<name>/tags/list`, and the paths it was asked."""

    tags: dict[str, list[str]]
    url: str = ""
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def registry() -> Iterator[Registry]:
    served = Registry({"infra/app": ["v1.2.3", "0123abc"], "infra/api": ["v1.2.3"]})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.asked.append(self.path)
            found = re.fullmatch(r"/v2/(.+)/tags/list", self.path)
            if found is None or found.group(1) not in served.tags:
                self.send_error(404)
                return
            name = found.group(1)
            body = json.dumps({"name": name, "tags": served.tags[name]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


SHA = "4f9a1c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
LAB_WORKFLOWS: Mapping[str, Callable[[str], str]] = {
    "skopeo": skopeo_workflow,
    "dagger": dagger_workflow,
}


def _forgejo_expand(text: str, context: Mapping[str, str]) -> str:
    """What Forgejo does to a script before the shell sees it: ``${{ expr }}`` → its value."""
    return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", lambda found: context[found.group(1)], text)


@dataclass(frozen=True)
class Job:
    returncode: int
    output: str
    pushed: list[str]


def _run_push_step(
    workflows: ModuleType,
    tmp_path: Path,
    kind: str,
    registry: Registry,
    shell: list[str],
    **ref: str,
) -> Job:
    """Edit the lab's workflow as the chain does, then run its push step's script the way a
    Forgejo runner would, with stand-ins for skopeo and dagger that record their arguments."""
    text = LAB_WORKFLOWS[kind](HOST)
    wire = workflows.credentials_edit(HOST, "ci-bot", "ZOT_CI_API_KEY", "ZOT_CI_API_KEY")
    guard = workflows.guard_edit(HOST, registry.url)
    edited = workflows.edited(workflows.edited(text, PATH, wire), PATH, guard)
    [step] = [
        s
        for job in yaml.safe_load(edited)["jobs"].values()
        for s in job["steps"]
        if kind in str(s.get("run", ""))
        and ("skopeo copy" in s["run"] or "dagger call publish" in s["run"])
    ]
    context = {
        "github.ref_type": ref["ref_type"],
        "github.ref_name": ref["ref_name"],
        "github.sha": SHA,
        "secrets.ZOT_CI_API_KEY": "zak_not_a_real_key",
    }
    bin_dir, log = tmp_path / "bin", tmp_path / "pushed.log"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("skopeo", "dagger"):
        stand_in = bin_dir / tool
        stand_in.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stand_in.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(_forgejo_expand(step["run"], context))
    env = {
        **{name: _forgejo_expand(value, context) for name, value in step["env"].items()},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_REF_NAME": ref["ref_name"],
    }
    done = subprocess.run(
        [*shell, str(script)], env=env, capture_output=True, text=True, timeout=30
    )
    pushed = log.read_text().splitlines() if log.exists() else []
    return Job(done.returncode, done.stdout + done.stderr, pushed)


# Forgejo runs a `run:` script with `bash -e`; the guard must not depend on `-e` either.
SHELLS = [["bash", "-e"], ["sh", "-e"], ["sh"]]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
@pytest.mark.parametrize("kind", LAB_WORKFLOWS)
def test_an_existing_version_tag_stops_the_push(
    workflows: ModuleType, tmp_path: Path, registry: Registry, kind: str, shell: list[str]
) -> None:
    job = _run_push_step(
        workflows, tmp_path, kind, registry, shell, ref_type="tag", ref_name="v1.2.3"
    )
    image = {"skopeo": "infra/app", "dagger": "infra/api"}[kind]
    assert job.returncode == 1, job.output
    assert f"{image}:v1.2.3 already exists in the registry" in job.output
    assert "release a new version instead" in job.output
    assert job.pushed == []
    assert registry.asked == [f"/v2/{image}/tags/list"]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
@pytest.mark.parametrize("kind", LAB_WORKFLOWS)
def test_a_new_version_tag_is_pushed(
    workflows: ModuleType, tmp_path: Path, registry: Registry, kind: str, shell: list[str]
) -> None:
    job = _run_push_step(
        workflows, tmp_path, kind, registry, shell, ref_type="tag", ref_name="v1.2.4"
    )
    image = {"skopeo": "infra/app", "dagger": "infra/api"}[kind]
    assert job.returncode == 0, job.output
    [pushed] = job.pushed
    assert pushed.startswith(kind) and "v1.2.4" in pushed
    assert registry.asked == [f"/v2/{image}/tags/list"]


@pytest.mark.parametrize("kind", LAB_WORKFLOWS)
def test_a_commit_sha_tag_skips_the_lookup(
    workflows: ModuleType, tmp_path: Path, registry: Registry, kind: str
) -> None:
    job = _run_push_step(
        workflows, tmp_path, kind, registry, ["bash", "-e"], ref_type="branch", ref_name="main"
    )
    assert job.returncode == 0, job.output
    [pushed] = job.pushed
    assert SHA in pushed
    assert registry.asked == []


def test_a_registry_that_cannot_list_tags_stops_the_push(
    workflows: ModuleType, tmp_path: Path, registry: Registry
) -> None:
    registry.url = "http://127.0.0.1:1"  # nothing listens there
    job = _run_push_step(
        workflows, tmp_path, "skopeo", registry, ["sh"], ref_type="tag", ref_name="v2.0.0"
    )
    assert job.returncode == 1
    assert "cannot list the tags of infra/app (HTTP 000): refusing to push" in job.output
    assert job.pushed == []


# ---------------------------------------------------------------------------------------
# Workflows shaped as a real infrastructure repository's: the image reference assembled from
# shell variables before `skopeo copy`, and a `dagger call publish` that names no registry
# (the module's default) with one `--flag=value` per line. Names and hosts are invented.

FLEET = "oci.fleet.example"
NIX_PATH = Path(".forgejo/workflows/build-image-nix.yaml")
DAGGER_PATH = Path(".forgejo/workflows/build-image.yaml")

FLEET_NIX_WORKFLOW = """\
# Nix image builds
# Runs when something under images/ changes on main, or by hand.
# Builds images/<name>/default.nix and pushes vX.Y.Z-<sha>-nix with skopeo.
name: Build Image (Nix)

on:
  push:
    branches: [main]
    paths: ['images/**']
  workflow_dispatch:
    inputs:
      image:
        description: 'Image to build (a folder under images/)'
        required: true
        type: string

jobs:
  changes:
    runs-on: nix-builder
    outputs:
      images: ${{ steps.scan.outputs.images }}
    steps:
      - name: Checkout
        uses: actions/checkout@v4
        with:
          fetch-depth: 2

      - name: Find changed images
        id: scan
        run: |
          if [ "${{ github.event_name }}" = "workflow_dispatch" ]; then
            IMAGES='["${{ inputs.image }}"]'
          else
            IMAGES=$(git diff --name-only HEAD~1 HEAD -- images/ \\
              | cut -d/ -f2 | sort -u \\
              | jq -R -s -c 'split("\\n") | map(select(length > 0))')
          fi
          echo "images=$IMAGES" >> "$GITHUB_OUTPUT"

  build:
    needs: changes
    if: needs.changes.outputs.images != '[]'
    runs-on: nix-builder
    strategy:
      matrix:
        image: ${{ fromJson(needs.changes.outputs.images) }}
    steps:
      - name: Checkout
        uses: actions/checkout@v4

      - name: Read the version
        id: meta
        run: |
          VERSION=$(nix eval --raw "./images/${{ matrix.image }}#version")
          case "$VERSION" in
            v*) ;;  # déjà préfixé
            *) VERSION="v${VERSION}" ;;
          esac
          echo "version=$VERSION" >> "$GITHUB_OUTPUT"
          echo "sha=$(echo "$GITHUB_SHA" | head -c 7)" >> "$GITHUB_OUTPUT"

      - name: Build with Nix
        env:
          NIX_PATH: "nixpkgs=${{ steps.pins.outputs.nixpkgs }}"
        run: |
          nix-build "images/${{ matrix.image }}/default.nix" -o result
          echo "Built $(readlink result) — ready to push"

      - name: Push to registry
        if: steps.meta.outputs.version != ''
        run: |
          IMAGE_NAME="${{ matrix.image }}"
          VERSION="${{ steps.meta.outputs.version }}"
          SHORT_SHA="${{ steps.meta.outputs.sha }}"
          IMAGE="oci.fleet.example/fleet/$IMAGE_NAME:${VERSION}-${SHORT_SHA}-nix"

          echo "Pushing $IMAGE"
          skopeo copy \\
            "docker-archive:result" \\
            "docker://$IMAGE"
          echo "Pushed $IMAGE"
"""

FLEET_DAGGER_WORKFLOW = """\
# Containerfile image builds
# Runs when something under images/ changes on main, or by hand.
# Each changed image is published as vX.Y.Z-<sha> by the Dagger module.
name: Build Image

on:
  push:
    branches: [main]
    paths: ['images/**']
  workflow_dispatch:
    inputs:
      image:
        description: 'Image to build (a folder under images/)'
        required: true
        type: string

jobs:
  changes:
    runs-on: docker-builder
    outputs:
      images: ${{ steps.scan.outputs.images }}
    steps:
      - name: Checkout
        uses: actions/checkout@v4

      - name: Find changed images
        id: scan
        run: |
          IMAGES=$(git diff --name-only HEAD~1 HEAD -- images/ | cut -d/ -f2 | sort -u \\
            | jq -R -s -c 'split("\\n") | map(select(length > 0))')
          echo "images=$IMAGES" >> "$GITHUB_OUTPUT"

  build:
    needs: changes
    if: needs.changes.outputs.images != '[]'
    runs-on: docker-builder
    env:
      DAGGER_NO_NAG: "1"
    strategy:
      matrix:
        image: ${{ fromJson(needs.changes.outputs.images) }}
    steps:
      - name: Checkout
        uses: actions/checkout@v4

      - name: Read the version
        id: meta
        run: |
          VERSION=$(sed -n 's/^ARG APP_VERSION=//p' "images/${{ matrix.image }}/Containerfile")
          echo "version=v${VERSION#v}" >> "$GITHUB_OUTPUT"
          echo "sha=$(echo "$GITHUB_SHA" | head -c 7)" >> "$GITHUB_OUTPUT"

      # Build and push through the Dagger module — the registry is its default.
      - name: Publish
        if: steps.meta.outputs.version != ''
        run: |
          dagger call publish \\
            --src=. \\
            --container-name=${{ matrix.image }} \\
            --version=${{ steps.meta.outputs.version }} \\
            --commit-sha=${{ steps.meta.outputs.sha }}
"""

CREDENTIALS_ENV = "        env:\n          OCI_CI_KEY: ${{ secrets.OCI_CI_KEY }}\n"


def _after(text: str, *changes: tuple[str, str]) -> str:
    """``text`` with each (old, new) made, each old occurring exactly once."""
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def module(workflows: ModuleType, tmp_path: Path) -> Callable[[str], Any]:
    """The repository's Dagger module, read after writing ``source`` as its code."""
    dagger = sys.modules["_dagger"]  # the one _workflows imported

    def read(source: str = MODULE) -> Any:
        return dagger.read_module(write_module(tmp_path / "infra", source))

    return read


def _wire(workflows: ModuleType, dagger: Any = None, user: str = "fleet-ci") -> Any:
    return workflows.credentials_edit(FLEET, user, "OCI_CI_KEY", "OCI_CI_KEY", dagger)


def _guard(workflows: ModuleType, dagger: Any = None, url: str = f"https://{FLEET}") -> Any:
    return workflows.guard_edit(FLEET, url, dagger)


def test_a_push_to_an_image_named_by_shell_variables_is_recognised(
    workflows: ModuleType,
) -> None:
    [step] = workflows.push_steps(workflows.parse(FLEET_NIX_WORKFLOW, NIX_PATH), FLEET)
    assert (step.job, step.index, step.name) == ("build", 3, "Push to registry")
    [push] = step.commands
    # the registry comes from IMAGE; what the guard reads keeps the script's own variables
    assert (push.kind, push.repository, push.tag, push.quotes, push.written) == (
        "skopeo",
        "fleet/$IMAGE_NAME",
        "${VERSION}-${SHORT_SHA}-nix",
        ('"', '"'),
        "docker://$IMAGE",
    )
    assert push.problem is None
    # another registry's host in the same variable is no push to this one
    other = FLEET_NIX_WORKFLOW.replace('IMAGE="oci.fleet.example/', 'IMAGE="ghcr.io/')
    assert workflows.push_steps(workflows.parse(other, NIX_PATH), FLEET) == []


def test_a_dagger_call_without_registry_pushes_to_the_module_s_default(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    document = workflows.parse(FLEET_DAGGER_WORKFLOW, DAGGER_PATH)
    # the call alone does not say where it pushes...
    assert workflows.push_steps(document, FLEET) == []
    # ...the module does: `registry` defaults to the host, the template names the image
    dagger = module(MODULE)
    [step] = workflows.push_steps(document, FLEET, dagger)
    assert (step.job, step.index, step.name) == ("build", 2, "Publish")
    [push] = step.commands
    assert (push.kind, push.repository, push.tag, push.quotes, push.problem) == (
        "dagger",
        "fleet/${{ matrix.image }}",
        "${{ steps.meta.outputs.version }}-${{ steps.meta.outputs.sha }}",
        ('"', '"'),
        None,
    )
    assert push.function is dagger.function("publish")
    assert workflows.push_steps(document, "ghcr.io", dagger) == []


@pytest.mark.parametrize(
    ("registry", "pushes"),
    [
        ("--registry=oci.fleet.example", True),
        ("--registry=ghcr.io", False),  # the call overrides the default
        ('--registry="$REGISTRY"', True),  # set on a line of its own above
        ("--registry=$ELSEWHERE", False),
    ],
)
def test_a_registry_the_call_gives_overrides_the_default(
    workflows: ModuleType, module: Callable[[str], Any], registry: str, pushes: bool
) -> None:
    text = _after(
        FLEET_DAGGER_WORKFLOW,
        (
            "          dagger call publish \\\n",
            f"          REGISTRY={FLEET}\n          dagger call publish \\\n"
            f"            {registry} \\\n",
        ),
    )
    found = workflows.push_steps(workflows.parse(text, DAGGER_PATH), FLEET, module(MODULE))
    assert bool(found) is pushes


def test_credentials_go_in_as_an_operator_writes_them(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    dagger = module(MODULE_WITH_AUTH)
    nix = workflows.edited(FLEET_NIX_WORKFLOW, NIX_PATH, _wire(workflows, dagger))
    assert nix == _after(
        FLEET_NIX_WORKFLOW,
        (
            "        if: steps.meta.outputs.version != ''\n        run: |\n          IMAGE_NAME",
            "        if: steps.meta.outputs.version != ''\n"
            + CREDENTIALS_ENV
            + "        run: |\n          IMAGE_NAME",
        ),
        (
            "          skopeo copy \\\n",
            '          skopeo copy \\\n            --dest-creds "fleet-ci:${OCI_CI_KEY}" \\\n',
        ),
    )
    published = workflows.edited(FLEET_DAGGER_WORKFLOW, DAGGER_PATH, _wire(workflows, dagger))
    assert published == _after(
        FLEET_DAGGER_WORKFLOW,
        (
            "        if: steps.meta.outputs.version != ''\n        run: |\n          dagger",
            "        if: steps.meta.outputs.version != ''\n"
            + CREDENTIALS_ENV
            + "        run: |\n          dagger",
        ),
        (
            "            --commit-sha=${{ steps.meta.outputs.sha }}\n",
            "            --commit-sha=${{ steps.meta.outputs.sha }} \\\n"
            "            --registry-username=fleet-ci \\\n"
            "            --registry-password=env:OCI_CI_KEY\n",
        ),
    )


def test_a_module_without_registry_username_gets_only_the_password(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    dagger = module(MODULE_WITH_PASSWORD_ONLY)
    published = workflows.edited(FLEET_DAGGER_WORKFLOW, DAGGER_PATH, _wire(workflows, dagger))
    assert published == _after(
        FLEET_DAGGER_WORKFLOW,
        ("        run: |\n          dagger", CREDENTIALS_ENV + "        run: |\n          dagger"),
        (
            "            --commit-sha=${{ steps.meta.outputs.sha }}\n",
            "            --commit-sha=${{ steps.meta.outputs.sha }} \\\n"
            "            --registry-password=env:OCI_CI_KEY\n",
        ),
    )


def test_a_call_whose_last_line_does_more_gets_them_inline(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    """A line after `... | tee publish.log` would not be part of the call: inline instead."""
    text = _after(
        FLEET_DAGGER_WORKFLOW,
        (
            "--commit-sha=${{ steps.meta.outputs.sha }}\n",
            "--commit-sha=${{ steps.meta.outputs.sha }} | tee publish.log\n",
        ),
    )
    published = workflows.edited(text, DAGGER_PATH, _wire(workflows, module(MODULE_WITH_AUTH)))
    assert published == _after(
        text,
        ("        run: |\n          dagger", CREDENTIALS_ENV + "        run: |\n          dagger"),
        (
            "dagger call publish \\\n",
            "dagger call publish --registry-username fleet-ci "
            "--registry-password env:OCI_CI_KEY \\\n",
        ),
    )


def test_credentials_an_operator_already_wrote_are_left_as_they_are(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    """`--dest-creds="u:$KEY"` says what `--dest-creds "u:${KEY}"` does: nothing to change."""
    nix = _after(
        FLEET_NIX_WORKFLOW,
        (
            "        run: |\n          IMAGE_NAME",
            CREDENTIALS_ENV + "        run: |\n          IMAGE_NAME",
        ),
        (
            "          skopeo copy \\\n",
            '          skopeo copy \\\n            --dest-creds="fleet-ci:$OCI_CI_KEY" \\\n',
        ),
    )
    assert workflows.edited(nix, NIX_PATH, _wire(workflows)) == nix


@pytest.mark.parametrize("source", [MODULE_WITH_AUTH, MODULE_WITH_PASSWORD_ONLY])
def test_both_edits_on_real_shapes_are_idempotent_and_commute(
    workflows: ModuleType, module: Callable[[str], Any], source: str
) -> None:
    dagger = module(source)
    for path, text in ((NIX_PATH, FLEET_NIX_WORKFLOW), (DAGGER_PATH, FLEET_DAGGER_WORKFLOW)):
        wire, guard = _wire(workflows, dagger), _guard(workflows, dagger)
        once = workflows.edited(workflows.edited(text, path, wire), path, guard)
        assert once != text
        assert workflows.edited(once, path, wire) == once
        assert workflows.edited(once, path, guard) == once
        assert workflows.edited(workflows.edited(text, path, guard), path, wire) == once
        # the push is still the same push once guarded
        before = workflows.push_steps(workflows.parse(text, path), FLEET, dagger)
        after = workflows.push_steps(workflows.parse(once, path), FLEET, dagger)
        assert [(c.repository, c.tag) for s in after for c in s.commands] == [
            (c.repository, c.tag) for s in before for c in s.commands
        ]


def _script(text: str, job: str, name: str) -> str:
    [step] = [s for s in yaml.safe_load(text)["jobs"][job]["steps"] if s.get("name") == name]
    return str(step["run"])


def test_the_guard_goes_right_before_the_push_with_what_it_resolves_to(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    dagger = module(MODULE)
    nix = workflows.edited(FLEET_NIX_WORKFLOW, NIX_PATH, _guard(workflows, dagger))
    script = _script(nix, "build", "Push to registry")
    before, block = script.split(workflows.GUARD_BEGIN)
    block, after = block.split(workflows.GUARD_END + "\n")
    # after every assignment it reads, and right before the command
    assert before.endswith('echo "Pushing $IMAGE"\n')
    assert after.startswith("skopeo copy \\\n")
    assert '  mikado_image="fleet/$IMAGE_NAME"\n' in block
    assert '  mikado_tag="${VERSION}-${SHORT_SHA}-nix"\n' in block
    assert f'"https://{FLEET}/v2/$mikado_image/tags/list"' in block

    published = workflows.edited(FLEET_DAGGER_WORKFLOW, DAGGER_PATH, _guard(workflows, dagger))
    script = _script(published, "build", "Publish")
    assert script.startswith(workflows.GUARD_BEGIN)
    block, after = script.split(workflows.GUARD_END + "\n")
    assert after.startswith("dagger call publish \\\n")
    assert '  mikado_image="fleet/${{ matrix.image }}"\n' in block
    assert (
        '  mikado_tag="${{ steps.meta.outputs.version }}-${{ steps.meta.outputs.sha }}"\n' in block
    )
    # nothing else changed: without the blocks, the files are what they were
    assert _without_blocks(workflows, nix) == FLEET_NIX_WORKFLOW
    assert _without_blocks(workflows, published) == FLEET_DAGGER_WORKFLOW


def _without_blocks(workflows: ModuleType, text: str) -> str:
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        inside = inside or line.strip() == workflows.GUARD_BEGIN
        if not inside:
            kept.append(line)
        inside = inside and line.strip() != workflows.GUARD_END
    return "".join(kept)


def _run_fleet_step(
    workflows: ModuleType,
    tmp_path: Path,
    text: str,
    path: Path,
    dagger: Any,
    step_name: str,
    url: str,
    version: str,
) -> Job:
    """Both edits, then the step's script run as a Forgejo runner runs it (``bash -e``), with
    stand-ins for skopeo and dagger that record their arguments."""
    edited = workflows.edited(
        workflows.edited(text, path, _wire(workflows, dagger)), path, _guard(workflows, dagger, url)
    )
    [step] = [
        s for s in yaml.safe_load(edited)["jobs"]["build"]["steps"] if s.get("name") == step_name
    ]
    context = {
        "matrix.image": "api",
        "steps.meta.outputs.version": version,
        "steps.meta.outputs.sha": "0a1b2c3",
        "secrets.OCI_CI_KEY": "not-a-real-key",
    }
    bin_dir, log = tmp_path / "bin", tmp_path / "pushed.log"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("skopeo", "dagger"):
        stand_in = bin_dir / tool
        stand_in.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stand_in.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(_forgejo_expand(step["run"], context))
    env = {
        **{name: _forgejo_expand(value, context) for name, value in step["env"].items()},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-e", str(script)], env=env, capture_output=True, text=True, timeout=30
    )
    pushed = log.read_text().splitlines() if log.exists() else []
    return Job(done.returncode, done.stdout + done.stderr, pushed)


@pytest.mark.parametrize(
    ("kind", "existing"),
    [("nix", "v2.4.1-0a1b2c3-nix"), ("dagger", "v2.4.1-0a1b2c3")],
)
def test_the_guard_of_a_real_shape_checks_the_tag_the_push_uses(
    workflows: ModuleType,
    module: Callable[[str], Any],
    tmp_path: Path,
    registry: Registry,
    kind: str,
    existing: str,
) -> None:
    dagger = module(MODULE_WITH_AUTH)
    text, path, name = {
        "nix": (FLEET_NIX_WORKFLOW, NIX_PATH, "Push to registry"),
        "dagger": (FLEET_DAGGER_WORKFLOW, DAGGER_PATH, "Publish"),
    }[kind]
    registry.tags = {"fleet/api": [existing]}
    job = _run_fleet_step(workflows, tmp_path, text, path, dagger, name, registry.url, "v2.4.1")
    assert job.returncode == 1, job.output
    assert f"fleet/api:{existing} already exists in the registry" in job.output
    assert job.pushed == [] and registry.asked == ["/v2/fleet/api/tags/list"]

    job = _run_fleet_step(workflows, tmp_path, text, path, dagger, name, registry.url, "v2.4.2")
    assert job.returncode == 0, job.output
    [pushed] = job.pushed
    assert ("v2.4.2-0a1b2c3" if kind == "nix" else "--version=v2.4.2 --commit-sha=0a1b2c3") in (
        pushed
    )
    assert (
        "--dest-creds fleet-ci:not-a-real-key"
        if kind == "nix"
        else "--registry-password=env:OCI_CI_KEY"
    ) in pushed


# ---------------------------------------------------------------------------------------
# What cannot be edited or guarded is refused, naming the file, job, step and line


def _line_holding(text: str, fragment: str) -> int:
    [number] = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return number


def test_a_module_that_takes_no_password_is_refused_where_the_call_is(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    dagger = module(MODULE)
    with pytest.raises(ConfigError) as error:
        workflows.edited(FLEET_DAGGER_WORKFLOW, DAGGER_PATH, _wire(workflows, dagger))
    assert error.value.path == str(DAGGER_PATH)
    assert error.value.line == _line_holding(FLEET_DAGGER_WORKFLOW, "dagger call publish")
    publish = dagger.function("publish")
    assert error.value.message == (
        "job `build`, step 3 (Publish): `dagger call` cannot take the registry credentials: "
        f"`publish` ({MODULE_PATH}:{publish.line}) takes no registry password as a secret: it "
        "lacks a `registry_password` parameter of type `dagger.Secret`; change the Dagger "
        "module first"
    )


def test_a_call_of_a_function_the_module_lacks_is_refused_where_it_is(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    text = FLEET_DAGGER_WORKFLOW.replace("dagger call publish", "dagger call ship")
    dagger = module(MODULE)
    with pytest.raises(ConfigError) as error:
        workflows.push_steps(workflows.parse(text, DAGGER_PATH), FLEET, dagger, path=DAGGER_PATH)
    assert (error.value.path, error.value.line) == (
        str(DAGGER_PATH),
        _line_holding(text, "dagger call ship"),
    )
    assert error.value.message.startswith(
        "job `build`, step 3 (Publish): `dagger call ship` runs no function mikado can find: "
        "the Dagger module `fleet-ci` has no function `ship`"
    )
    with pytest.raises(ConfigError) as through_edit:
        workflows.edited(text, DAGGER_PATH, _guard(workflows, dagger))
    assert (through_edit.value.path, through_edit.value.line) == (
        error.value.path,
        error.value.line,
    )


def test_a_template_field_the_call_leaves_unknown_cannot_be_guarded(
    workflows: ModuleType, module: Callable[[str], Any]
) -> None:
    source = MODULE.replace(
        '        registry: str = "oci.fleet.example",\n',
        '        registry: str = "oci.fleet.example",\n'
        '        namespace: str = os.environ.get("FLEET_NS", "fleet"),\n',
    ).replace("{registry}/fleet/", "{registry}/{namespace}/")
    dagger = module("import os\n" + source)
    with pytest.raises(ConfigError) as error:
        workflows.edited(FLEET_DAGGER_WORKFLOW, DAGGER_PATH, _guard(workflows, dagger))
    assert (error.value.path, error.value.line) == (
        str(DAGGER_PATH),
        _line_holding(FLEET_DAGGER_WORKFLOW, "dagger call publish"),
    )
    assert error.value.message.startswith("job `build`, step 3 (Publish): the push to ")
    assert "it gives no --namespace" in error.value.message
    # passing it makes the push guardable
    passed = FLEET_DAGGER_WORKFLOW.replace("--src=.", "--src=. --namespace=fleet")
    guarded = workflows.edited(passed, DAGGER_PATH, _guard(workflows, dagger))
    assert '  mikado_image="fleet/${{ matrix.image }}"\n' in guarded


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            ("          skopeo copy \\\n", '          IMAGE="$IMAGE-debug" skopeo copy \\\n'),
            "it sets IMAGE on its own line",
        ),
        (
            (
                "          skopeo copy \\\n",
                "          ssh builder <<'EOF'\n          skopeo copy \\\n",
            ),
            "inside a here-document (<<EOF)",
        ),
    ],
)
def test_an_unguardable_push_is_refused_naming_file_job_step_and_line(
    workflows: ModuleType, change: tuple[str, str], why: str
) -> None:
    text = _after(FLEET_NIX_WORKFLOW, change)
    with pytest.raises(ConfigError) as error:
        workflows.edited(text, NIX_PATH, _guard(workflows))
    assert error.value.path == str(NIX_PATH)
    assert error.value.line == _line_holding(text, "skopeo copy")
    assert error.value.message.startswith(
        "job `build`, step 4 (Push to registry): the push to fleet/$IMAGE_NAME:"
    )
    assert why in error.value.message
    assert str(error.value).startswith(f"{NIX_PATH}:{error.value.line}: job `build`")


def test_credentials_for_a_push_inside_a_here_document_are_refused(
    workflows: ModuleType,
) -> None:
    text = _after(
        FLEET_NIX_WORKFLOW,
        ("          skopeo copy \\\n", "          ssh builder <<'EOF'\n          skopeo copy \\\n"),
        ('            "docker://$IMAGE"\n', '            "docker://$IMAGE"\n          EOF\n'),
    )
    with pytest.raises(ConfigError) as error:
        workflows.edited(text, NIX_PATH, _wire(workflows))
    assert (error.value.path, error.value.line) == (
        str(NIX_PATH),
        _line_holding(text, "skopeo copy"),
    )
    assert error.value.message.startswith("job `build`, step 4 (Push to registry): the push to")
    assert "inside a here-document (<<EOF)" in error.value.message


# ---------------------------------------------------------------------------------------
# What a script's own assignments tell, and what they do not


@pytest.mark.parametrize(
    ("script", "pushed", "refused"),
    [
        # a variable built from another: put in until the registry shows, no further
        (
            'REG=HOST\nIMAGE="$REG/fleet/app:$TAG"\nskopeo copy x "docker://$IMAGE"\n',
            "fleet/app:$TAG",
            None,
        ),
        ('export IMAGE="HOST/a/b:$T"\nskopeo copy x docker://$IMAGE\n', "a/b:$T", None),
        ('IMAGE=HOST/a\nIMAGE="$IMAGE:$T"\nskopeo copy x "docker://$IMAGE"\n', "a:$T", None),
        ("IMAGE='HOST/a:$V'\nskopeo copy x \"docker://$IMAGE\"\n", "a:\\$V", None),  # literal
        (
            'IMAGE="HOST/a/${{ matrix.x }}:v1"\nskopeo copy x "docker://$IMAGE"\n',
            "a/${{ matrix.x }}:v1",
            None,
        ),
        (
            'TAG=v1\nIMAGE="HOST/a:${TAG:-latest}"\nskopeo copy x "docker://$IMAGE"\n',
            "a:${TAG:-latest}",
            None,
        ),
        # a subshell that closes on its own line changes nothing outside it
        ('IMAGE=HOST/a:v1\n(cd x; make)\nskopeo copy x "docker://$IMAGE"\n', "a:v1", None),
        # a branch that assigns what the value reads, before the value is set: fine
        (
            'case "$V" in\n  v*) ;;\n  *) V="v$V" ;;\nesac\n'
            'IMAGE=HOST/a:$V\nskopeo copy x "docker://$IMAGE"\n',
            "a:$V",
            None,
        ),
        (
            'IMAGE=HOST/a/b:v1\nfor i in 1 2; do\n  skopeo copy x "docker://$IMAGE"\ndone\n',
            "a/b:v1",
            None,
        ),
        # nothing known for certain: no push found
        (
            'IMAGE=HOST/a:v1\nif x; then IMAGE=HOST/c:v2; fi\nskopeo copy x "docker://$IMAGE"\n',
            None,
            None,
        ),
        # an `if` opened after `then` is closed by the first `fi`: the assignment is inside
        (
            "IMAGE=HOST/a:v1\nif a; then if b; then\n  :\nfi\nIMAGE=HOST/c:v2\nfi\n"
            'skopeo copy x "docker://$IMAGE"\n',
            None,
            None,
        ),
        ("IMAGE=HOST/a/b:v1\nskopeo copy x 'docker://$IMAGE'\n", None, None),
        ("IMAGE=$(echo HOST/a:v1)\nskopeo copy x docker://$IMAGE\n", None, None),
        ('IMAGE=HOST/a:v1\n. ./env.sh\nskopeo copy x "docker://$IMAGE"\n', None, None),
        ('(IMAGE=HOST/a:v1)\nskopeo copy x "docker://$IMAGE"\n', None, None),
        ('f() {\n  IMAGE=HOST/a:v1\n}\nskopeo copy x "docker://$IMAGE"\n', None, None),
        (
            'IMAGE=HOST/a:v1\nread -r IMAGE < image.txt\nskopeo copy x "docker://$IMAGE"\n',
            None,
            None,
        ),
        # found, but a guard before it would read another tag than the push
        (
            'V=1\nIMAGE="HOST/app:$V"\nV=2\nskopeo copy x "docker://$IMAGE"\n',
            "app:$V",
            "IMAGE was set from V, which changed after",
        ),
        (
            'IMAGE=HOST/a:$V\ncase "$V" in\n  v*) ;;\n  *) V="v$V" ;;\nesac\n'
            'skopeo copy x "docker://$IMAGE"\n',
            "a:$V",
            "IMAGE was set from V",
        ),
        (
            'IMAGE=HOST/a/b:v1\nfor i in 1 2; do\n  skopeo copy x "docker://$IMAGE"\n'
            "  IMAGE=HOST/c:v2\ndone\n",
            "a/b:v1",
            "a loop around it changes after it",
        ),
        (
            "IMAGE=HOST/a:v1\nIMAGE=HOST/b:v1 skopeo copy x docker://$IMAGE\n",
            "a:v1",
            "it sets IMAGE on its own line",
        ),
        (
            "IMAGE=HOST/a:v1\nread IMAGE; skopeo copy x docker://$IMAGE\n",
            "a:v1",
            "it changes IMAGE on the line it is on",
        ),
    ],
)
def test_what_the_script_s_assignments_tell(
    workflows: ModuleType, script: str, pushed: str | None, refused: str | None
) -> None:
    script = script.replace("HOST", FLEET)
    found = [f"{c.repository}:{c.tag}" for c in workflows.push_commands(script, FLEET)]
    assert found == ([pushed] if pushed else [])
    if refused is not None:
        with pytest.raises(workflows.UnguardablePush, match=re.escape(refused)):
            workflows.guarded_script(script, FLEET, f"https://{FLEET}")
    elif pushed is not None:
        guarded = workflows.guarded_script(script, FLEET, f"https://{FLEET}")
        repository, tag = pushed.split(":", 1)
        assert f'mikado_image="{repository}"' in guarded and f'mikado_tag="{tag}"' in guarded
