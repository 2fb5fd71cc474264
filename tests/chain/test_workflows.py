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
