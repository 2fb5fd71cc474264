"""End to end: the README's main job, `mikado run harden-zot-registry --lab`, in a subprocess,
from this checkout, with the real cards and actions; then the workspace it leaves behind.

These need the chain's actions (actions/*.py); without them every test here fails at the
first run, which is the point: the lab is only done when the chain runs in it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from mikado.tree.frontmatter import parse_block, split_bytes

REPO = Path(__file__).resolve().parents[2]
GOAL = "harden-zot-registry"
CHAIN = (
    "register-zot-oidc-client",
    "enforce-tag-immutability",
    "switch-on-zot-auth",
    "mint-zot-ci-api-key",
    "wire-ci-registry-auth",
    "harden-zot-registry",
)
LAB_RUN_DEADLINE = 60.0


def _environment() -> dict[str, str]:
    environment = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    # a lab run must not depend on the caller's secrets, nor may it find them
    for name in ("AUTHENTIK_TOKEN", "FORGEJO_TOKEN", "ZOT_CI_API_KEY"):
        environment.pop(name, None)
    return environment


def lab_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mikado", "run", GOAL, "--lab", *args]


def run_lab(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        lab_command(*args),
        cwd=REPO,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.monotonic() - started


@dataclass(frozen=True)
class LabRun:
    workspace: Path
    result: subprocess.CompletedProcess[str]
    seconds: float
    repo_cards: dict[Path, bytes]


def _repo_cards() -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted((REPO / "cards").rglob("*.md"))}


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    workspace = tmp_path_factory.mktemp("lab") / "ws"
    before = _repo_cards()
    result, seconds = run_lab("--workspace", str(workspace))
    yield LabRun(workspace, result, seconds, before)


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def _state(workspace: Path, service: str) -> dict[str, object]:
    document = json.loads((workspace / "lab" / f"{service}.json").read_text(encoding="utf-8"))
    if service == "lab":
        return dict(document)
    return dict(document["state"])


def secret_values(workspace: Path) -> set[str]:
    """Every secret of the lab, read from the state files that are allowed to hold them."""
    values = set(_state(workspace, "lab")["secrets"].values())  # type: ignore[attr-defined]
    objects = _state(workspace, "authentik")["objects"]
    values |= {str(p["client_secret"]) for p in objects["providers"].values()}  # type: ignore[index]
    for scope in _state(workspace, "forgejo")["secrets"].values():  # type: ignore[attr-defined]
        values |= {str(secret["data"]) for secret in scope.values()}
    return {value for value in values if value}


def _front_matter(path: Path) -> dict[str, object]:
    block = split_bytes(path.read_bytes())
    assert block is not None, path
    return parse_block(block)


def _workflow_steps(path: Path) -> list[list[dict[str, object]]]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [list(job["steps"]) for job in workflow["jobs"].values()]


# the main job --------------------------------------------------------------------------------


def test_main_job_completes_the_chain(lab_run: LabRun) -> None:
    assert lab_run.result.returncode == 0, _explain(lab_run.result)
    out = lab_run.result.stdout
    assert f"Lab workspace: {lab_run.workspace}" in out
    # the plain install the README's main job makes validates too (issue 13, failure 8)
    assert "Every request is checked against the schema of the release imitated." in out
    assert "created OAuth2/OIDC provider 'zot'" in out
    assert "created application 'zot'" in out
    assert "bound group 'admins' to the application" in out
    assert "bound group 'artifact-workloads' to the application" in out
    # the run stops at the manual card with its steps; the lab does them, visibly
    assert "mint-zot-ci-api-key is done by hand" in out
    assert "the lab does it as an operator would:" in out
    assert "log in at Authentik's login page as ci-bot (password not shown)" in out
    assert "5. mikado done mint-zot-ci-api-key" in out
    assert out.index("done by hand") < out.index("The chain goes on:")
    assert "restarted once; it now has OpenID login via" in out
    assert "created an API key for a logged-in user" in out
    assert "Actions secret ZOT_CI_API_KEY on ops/infra" in out
    assert "zot/config.json" in out and f"git -C {lab_run.workspace / 'infra'} diff" in out


def test_cards_are_complete_and_dated_and_the_repository_cards_untouched(lab_run: LabRun) -> None:
    assert lab_run.result.returncode == 0, _explain(lab_run.result)
    cards = {path.stem: path for path in (lab_run.workspace / "cards").rglob("*.md")}
    for stem in CHAIN:
        fields = _front_matter(cards[stem])
        assert "status" not in fields, stem
        assert str(fields["modified"]) == date.today().isoformat(), stem
    assert _repo_cards() == lab_run.repo_cards


def test_status_in_the_workspace_shows_the_chain_done(lab_run: LabRun) -> None:
    status = subprocess.run(
        [sys.executable, "-m", "mikado", "status", GOAL, "--format", "json"],
        cwd=lab_run.workspace,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    (chain,) = json.loads(status.stdout)["chains"]
    assert (chain["done"], chain["total"]) == (len(CHAIN), len(CHAIN))


def test_zot_config_is_hardened(lab_run: LabRun) -> None:
    config = json.loads((lab_run.workspace / "infra/zot/config.json").read_text(encoding="utf-8"))
    lab = _state(lab_run.workspace, "lab")
    http = config["http"]
    oidc = http["auth"]["openid"]["providers"]["oidc"]
    authentik_url = f"http://127.0.0.1:{lab['ports']['authentik']}"  # type: ignore[index]
    assert oidc["issuer"] == f"{authentik_url}/application/o/zot/"
    # zot reads the copy deployed to "the zot host", which holds what the chain wrote
    deployed = Path(oidc["credentialsFile"])
    assert deployed == lab_run.workspace / "lab/zot-host/oidc-credentials.json"
    written = lab_run.workspace / "infra/zot/oidc-credentials.json"
    assert deployed.read_bytes() == written.read_bytes()
    assert stat.S_IMODE(deployed.stat().st_mode) == 0o600
    assert oidc["claimMapping"] == {"username": "preferred_username"}
    assert http["accessControl"]["metrics"] == {"anonymousPolicy": ["read"]}
    assert http["auth"]["apikey"] is True
    assert http["externalUrl"] == f"http://127.0.0.1:{lab['ports']['zot']}"  # type: ignore[index]
    policies = http["accessControl"]["repositories"]
    assert any(
        "update" not in policy["actions"] and "create" in policy["actions"]
        for group in policies.values()
        for policy in group["policies"]
    )
    # every setting that was there before hardening is still there
    assert set(config["extensions"]) == {"metrics", "search", "ui", "sync"}


def test_workflows_carry_credentials_and_the_tag_guard(lab_run: LabRun) -> None:
    infra = lab_run.workspace / "infra/.forgejo/workflows"
    nix = (infra / "build-container-nix.yaml").read_text(encoding="utf-8")
    assert '--dest-creds "ci-bot:${ZOT_CI_API_KEY}"' in nix
    dagger = (infra / "build-container.yaml").read_text(encoding="utf-8")
    assert "--registry-username ci-bot" in dagger
    assert "--registry-password env:ZOT_CI_API_KEY" in dagger
    for name, marker in (
        ("build-container-nix.yaml", "skopeo copy"),
        ("build-container.yaml", "dagger call publish"),
    ):
        for steps in _workflow_steps(infra / name):
            pushes = [i for i, s in enumerate(steps) if marker in str(s.get("run", ""))]
            for index in pushes:
                push = steps[index]
                assert push["env"]["ZOT_CI_API_KEY"] == "${{ secrets.ZOT_CI_API_KEY }}"  # type: ignore[index]
                script = str(push["run"])
                guard = script[: script.index(marker)]
                assert "/tags/list" in guard and ") || exit 1" in guard, name


def test_credentials_file_is_private(lab_run: LabRun) -> None:
    credentials = lab_run.workspace / "infra/zot/oidc-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert set(json.loads(credentials.read_text(encoding="utf-8"))) == {"clientid", "clientsecret"}


def _files_outside_the_secret_stores(workspace: Path) -> Iterator[Path]:
    allowed = {workspace / "infra/zot/oidc-credentials.json"}
    for path in workspace.rglob("*"):
        if path.is_file() and path not in allowed and (workspace / "lab") not in path.parents:
            yield path


def test_no_secret_leaves_the_credentials_file_and_the_emulator_state(lab_run: LabRun) -> None:
    assert lab_run.result.returncode == 0, _explain(lab_run.result)
    secrets = secret_values(lab_run.workspace)
    assert len(secrets) >= 4  # three lab tokens and the OIDC client secret at least
    history = subprocess.run(
        ["git", "-C", str(lab_run.workspace / "infra"), "log", "--all", "-p"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    texts = {"stdout": lab_run.result.stdout, "stderr": lab_run.result.stderr, "git": history}
    for path in _files_outside_the_secret_stores(lab_run.workspace):
        texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    leaks = [where for where, text in texts.items() for value in secrets if value in text]
    assert leaks == []


def test_rerun_is_a_no_op_that_says_so(lab_run: LabRun) -> None:
    assert lab_run.result.returncode == 0, _explain(lab_run.result)
    workspace = lab_run.workspace
    cards = {p: p.read_bytes() for p in (workspace / "cards").rglob("*.md")}
    infra = {p: p.read_bytes() for p in (workspace / "infra").rglob("*") if p.is_file()}
    states = {s: _state(workspace, s) for s in ("authentik", "forgejo", "zot")}
    again, _ = run_lab("--workspace", str(workspace))
    assert again.returncode == 0, _explain(again)
    assert "nothing to run, every card of the chain is complete" in again.stdout
    assert "Nothing changed in the lab's services during this run." in again.stdout
    assert {p: p.read_bytes() for p in (workspace / "cards").rglob("*.md")} == cards
    assert {p: p.read_bytes() for p in (workspace / "infra").rglob("*") if p.is_file()} == infra
    assert {s: _state(workspace, s) for s in states} == states


def test_dry_run_shows_the_plan_and_leaves_nothing_behind() -> None:
    result, _ = run_lab("--dry-run")
    assert result.returncode == 0, _explain(result)
    assert f"Plan for {GOAL} ({len(CHAIN)} cards):" in result.stdout
    for stem in CHAIN[:3]:
        assert f"run     {stem}" in result.stdout
    assert "manual  mint-zot-ci-api-key" in result.stdout
    # the rehearsal is written for a person: groups by name, the policy as who may do what
    assert "create policy binding group admins on the new application" in result.stdout
    assert "  **  artifact-workloads: read, create; admins: read, create" in result.stdout
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", result.stdout), "a UUID is shown"
    assert "{'" not in result.stdout, "a Python dict is shown"
    first = result.stdout.splitlines()[0]
    assert first.startswith("Lab workspace: ")
    workspace = Path(first.removeprefix("Lab workspace: ").split(" (")[0])
    assert not workspace.exists()


# interrupted runs ----------------------------------------------------------------------------

KILL_ITERATIONS = 3
CHAIN_PHASE = 1.5  # seconds the actions take once the lab is up, about


def _kill_at_random(workspace: Path, chance: random.Random, *, in_chain: bool, span: float) -> None:
    """Start a lab run and SIGKILL it: anywhere in the run, or while the chain's actions work."""
    process = subprocess.Popen(
        lab_command("--workspace", str(workspace)),
        cwd=REPO,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if in_chain:
            journal = workspace / ".mikado" / "journal.jsonl"
            deadline = time.monotonic() + LAB_RUN_DEADLINE
            while not journal.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(chance.uniform(0.0, CHAIN_PHASE))
        else:
            time.sleep(chance.uniform(0.1, span))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def _steps_running(path: Path, text: str) -> list[str]:
    return [
        str(step.get("run", ""))
        for steps in _workflow_steps(path)
        for step in steps
        if text in str(step.get("run", ""))
    ]


def _duplicates(workspace: Path) -> dict[str, int]:
    """Counts of the objects the chain creates, each of which must exist exactly once."""
    objects = _state(workspace, "authentik")["objects"]
    forgejo = _state(workspace, "forgejo")["secrets"]
    infra = workspace / "infra/.forgejo/workflows"
    nix, dagger = infra / "build-container-nix.yaml", infra / "build-container.yaml"
    return {
        "providers": len(objects["providers"]),  # type: ignore[index]
        "applications": len(objects["applications"]),  # type: ignore[index]
        **{
            f"bindings of {name}": sum(
                1
                for b in objects["bindings"].values()  # type: ignore[index]
                if b["group"] == pk
            )
            for pk, name in (
                (g["pk"], g["name"])
                for g in objects["groups"].values()  # type: ignore[index]
            )
            if name in ("admins", "artifact-workloads")
        },
        "users": len(objects["users"]) - 1,  # type: ignore[index]  # akadmin, ci-bot
        "forgejo secrets": sum(len(s) for s in forgejo.values()),  # type: ignore[attr-defined]
        "zot api keys": len(_state(workspace, "zot")["api_keys"]),  # type: ignore[arg-type]
        "skopeo credentials": sum(
            run.count("--dest-creds") for run in _steps_running(nix, "skopeo copy")
        ),
        "dagger credentials": sum(
            run.count("--registry-password") for run in _steps_running(dagger, "dagger call")
        ),
        "nix guards": len(_steps_running(nix, "/tags/list")),
        "dagger guards": len(_steps_running(dagger, "/tags/list")),
    }


def test_a_run_killed_at_any_moment_resumes_without_duplicates(
    lab_run: LabRun, tmp_path: Path
) -> None:
    assert lab_run.result.returncode == 0, _explain(lab_run.result)
    seed = int(os.environ.get("MIKADO_LAB_KILL_SEED", time.time_ns() % 100_000))
    chance = random.Random(seed)
    for iteration in range(KILL_ITERATIONS):
        workspace = tmp_path / f"ws{iteration}"
        in_chain = iteration % 2 == 1
        _kill_at_random(workspace, chance, in_chain=in_chain, span=lab_run.seconds)
        result, _ = run_lab("--workspace", str(workspace))
        where = f"seed {seed}, iteration {iteration}, {'in the chain' if in_chain else 'anywhere'}"
        assert result.returncode == 0, f"{where}\n{_explain(result)}"
        once = _duplicates(workspace)
        assert once == dict.fromkeys(once, 1), where


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_a_lab_whose_zot_cannot_start_is_repaired_by_a_recheck(tmp_path: Path, damage: str) -> None:
    """zot does not start without a readable credentials file; its release is in the lab's
    configuration, so the chain can still repair it (issue 15)."""
    workspace = tmp_path / "ws"
    assert run_lab("--workspace", str(workspace))[0].returncode == 0
    copy = workspace / "lab/zot-host/oidc-credentials.json"
    if damage == "deleted":
        copy.unlink()
    else:
        copy.write_text("{not json", encoding="utf-8")
    down, _ = run_lab("--workspace", str(workspace))
    assert down.returncode == 0, _explain(down)
    assert "zot is down: it refused to start" in down.stdout
    assert "`--recheck` also repairs the files the chain wrote" in down.stdout
    repaired, _ = run_lab("--workspace", str(workspace), "--recheck")
    assert repaired.returncode == 0, _explain(repaired)
    assert "zot:\n    - restarted once" in repaired.stdout
    assert json.loads(copy.read_text(encoding="utf-8"))["clientid"] == "zot"
    again, _ = run_lab("--workspace", str(workspace))
    assert "zot is down" not in again.stdout
    assert "nothing to run, every card of the chain is complete" in again.stdout
