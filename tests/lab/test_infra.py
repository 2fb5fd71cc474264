"""Repo mode end to end: `mikado run harden-zot-registry --lab --infra examples/seed-layout/infra
--config examples/seed-layout/mikado.toml`, the documented configuration for a repository
laid out like many operators' (zot as an Ansible template, Authentik blueprints in a ConfigMap,
Forgejo secrets from an Ansible role, a skopeo and a Dagger workflow). The lab stands in for
the deploy commands (mikado.lab.deploy): the blueprint is applied to the Authentik emulator,
the template rendered for the zot emulator, the secrets role's entries PUT to Forgejo.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from treebuilder import run_mikado

from mikado.edit.ansible_vars import Variables
from mikado.edit.jinja_json import render_json
from mikado.services.zot_config import validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "seed-layout"
GOAL = "harden-zot-registry"
DAGGER_CARD = "let-dagger-publish-authenticate"
CHANGED = {
    ".dagger/src/acme_ci/main.py",
    ".forgejo/workflows/build-image-nix.yaml",
    ".forgejo/workflows/build-image.yaml",
    "ansible/roles/ci_secrets/defaults/main.yml",
    "ansible/roles/zot/defaults/main.yml",
    "ansible/roles/zot/templates/config.json.j2",
    "argocd/manifests/authentik/configmap-blueprint.yaml",
}


def mikado(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_mikado(*args, cwd=cwd)


def lab(workspace: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return mikado("run", GOAL, "--lab", "--workspace", str(workspace), *extra)


def first_lab(workspace: Path, versions: str) -> subprocess.CompletedProcess[str]:
    return lab(
        workspace,
        "--infra",
        str(EXAMPLE / "infra"),
        "--config",
        str(EXAMPLE / "mikado.toml"),
        "--lab-versions",
        versions,
    )


def change_the_dagger_module(infra: Path) -> None:
    """What the discovered card asks of the operator, done as its steps say."""
    module = infra / ".dagger" / "src" / "acme_ci" / "main.py"
    text = module.read_text(encoding="utf-8")
    text = text.replace(
        '        registry: str = "registry.acme.example",\n    ) -> str:',
        '        registry: str = "registry.acme.example",\n'
        '        registry_username: str = "image-bot",\n'
        "        registry_password: dagger.Secret | None = None,\n"
        "    ) -> str:",
    )
    text = text.replace(
        "        ctr = self.build(src, image_name)\n",
        "        ctr = self.build(src, image_name)\n"
        "        if registry_password is not None:\n"
        "            ctr = ctr.with_registry_auth(\n"
        "                registry, registry_username, registry_password\n"
        "            )\n",
    )
    module.write_text(text, encoding="utf-8")


def blueprint_entries(infra: Path) -> list[dict[str, object]]:
    configmap = infra / "argocd/manifests/authentik/configmap-blueprint.yaml"

    class Tags(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, tag: str, node: yaml.Node) -> str:
        if isinstance(node, yaml.SequenceNode):
            return f"!{tag} {loader.construct_sequence(node, deep=True)}"
        return f"!{tag} {loader.construct_scalar(node)}"  # type: ignore[arg-type]

    Tags.add_multi_constructor("!", tagged)
    data = yaml.safe_load(configmap.read_text(encoding="utf-8"))["data"]["zot.yaml"]
    return list(yaml.load(data, Loader=Tags)["entries"])


@pytest.mark.parametrize(
    "versions",
    ["authentik=2026.8,zot=2.1.20,forgejo=16", "authentik=2025.2,zot=2.1.17,forgejo=11"],
)
def test_the_seed_layout_runs_into_the_dagger_prerequisite_then_completes_and_stays_done(
    tmp_path: Path, versions: str
) -> None:
    workspace = tmp_path / "ws"
    infra = workspace / "infra"
    example_before = {p: p.read_bytes() for p in (EXAMPLE / "infra").rglob("*") if p.is_file()}

    first = first_lab(workspace, versions)
    assert first.returncode == 3, first.stdout + first.stderr
    # the workspace lies outside the folder the lab ran from: its card is named in full
    wrote = f"wrote {workspace / 'cards' / 'zot' / DAGGER_CARD}.md and made"
    assert f"wire-ci-registry-auth discovered a prerequisite: {wrote}" in first.stderr
    assert "mint-zot-ci-api-key is work done by hand; the lab does it" in first.stdout
    card = (workspace / "cards" / "zot" / f"{DAGGER_CARD}.md").read_text(encoding="utf-8")
    assert "registry_password: dagger.Secret | None = None," in card
    assert "`AcmeCi.publish` in `.dagger/src/acme_ci/main.py`" in card
    assert f"[[{DAGGER_CARD}]]" in (workspace / "cards/zot/zot.md").read_text(encoding="utf-8")
    check = mikado("check", cwd=workspace)
    assert check.returncode == 0, check.stdout + check.stderr
    # the operator's repository itself is never touched: the lab works on its copy
    assert {p: p.read_bytes() for p in (EXAMPLE / "infra").rglob("*") if p.is_file()} == (
        example_before
    )

    change_the_dagger_module(infra)
    assert mikado("done", DAGGER_CARD, cwd=workspace).returncode == 0
    second = lab(workspace)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "accepted the push of mikado/probe:" in second.stdout
    assert "set Actions secret ZOT_CI_API_KEY on acme/infra" in second.stdout

    diff = subprocess.run(
        ["git", "-C", str(infra), "diff", "--name-only", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(diff) == CHANGED

    # zot: the template renders, with the role's variables, to a configuration the release
    # accepts: OIDC through the credentials file, API keys, externalUrl, three-tier access
    template = (infra / "ansible/roles/zot/templates/config.json.j2").read_text()
    assert "{% for upstream in zot_upstreams %}" in template  # the Jinja survives
    assert '"externalUrl": "{{ zot_external_url }}"' in template
    variables = Variables.load(infra / "ansible/roles/zot/defaults/main.yml")
    config = render_json(template, variables)
    zot = tuple(int(n) for n in dict(p.split("=") for p in versions.split(","))["zot"].split("."))
    validate(config, release=zot)
    oidc = config["http"]["auth"]["openid"]["providers"]["oidc"]
    assert oidc["credentialsFile"] == "/etc/zot/oidc-credentials.json"
    assert oidc["claimMapping"] == {"username": "preferred_username"}
    assert config["http"]["auth"]["apikey"] is True
    policies = config["http"]["accessControl"]["repositories"]["**"]
    assert policies["anonymousPolicy"] == ["read"]
    assert {(p["groups"][0], tuple(p["actions"])) for p in policies["policies"]} == {
        ("image-publishers", ("read", "create")),
        ("admins", ("read", "create", "update", "delete")),
    }
    assert len(config["extensions"]["sync"]["registries"]) == 2  # the loop still renders

    # Authentik: the CI group's binding, by !KeyOf since the blueprint defines the group
    bindings = [e for e in blueprint_entries(infra) if "policybinding" in str(e["model"])]
    groups = {str(b["attrs"]["group"]): b["attrs"]["order"] for b in bindings}  # type: ignore[index]
    assert groups == {
        "!Find ['authentik_core.group', ['name', 'admins']]": 0,
        "!KeyOf image-publishers-group": 1,
    }
    provider = next(e for e in blueprint_entries(infra) if "oauth2provider" in str(e["model"]))
    assert ("grant_types" in provider["attrs"]) is versions.startswith("authentik=2026")  # type: ignore[operator]

    # both push paths authenticate; the Forgejo secret's value comes from the vault variable
    nix = (infra / ".forgejo/workflows/build-image-nix.yaml").read_text()
    dagger = (infra / ".forgejo/workflows/build-image.yaml").read_text()
    assert '--dest-creds "image-bot:${ZOT_CI_API_KEY}" \\' in nix
    assert "--registry-password=env:ZOT_CI_API_KEY" in dagger
    for text in (nix, dagger):
        assert "ZOT_CI_API_KEY: ${{ secrets.ZOT_CI_API_KEY }}" in text
    secrets_file = (infra / "ansible/roles/ci_secrets/defaults/main.yml").read_text()
    assert "      - name: ZOT_CI_API_KEY\n        value_var: ci_secret_zot_ci_api_key\n" in (
        secrets_file
    )
    state = json.loads((workspace / "lab" / "lab.json").read_text())
    for value in state["secrets"].values():
        if value:
            assert all(value not in (infra / f).read_text() for f in CHANGED)

    files = {p: p.read_bytes() for p in infra.rglob("*") if p.is_file() and ".git" not in p.parts}
    again = lab(workspace, "--recheck")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing changed in the lab's services during this run." in again.stdout
    assert {
        p: p.read_bytes() for p in infra.rglob("*") if p.is_file() and ".git" not in p.parts
    } == files


def test_a_workspace_keeps_the_repository_it_was_laid_out_from(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert first_lab(workspace, "zot=2.1.20").returncode == 3
    other = tmp_path / "other"
    other.mkdir()
    refused = lab(workspace, "--infra", str(other))
    assert refused.returncode == 1
    assert f"this workspace was laid out from {EXAMPLE / 'infra'}" in refused.stderr


def test_a_deploy_that_fails_fails_its_card_with_the_services_refusal(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert first_lab(workspace, "authentik=2026.8").returncode == 3
    configmap = workspace / "infra/argocd/manifests/authentik/configmap-blueprint.yaml"
    text = configmap.read_text(encoding="utf-8")
    # the CI group's binding gone again, and a flow that does not exist: the blueprint the
    # chain writes back no longer applies
    text = text[: text.rindex("\n      # Who may log in to zot — the CI account")] + "\n"
    text = text.replace(
        "[slug, default-provider-invalidation-flow]]\n          client_type: confidential\n"
        "          client_id: zot",
        "[slug, no-such-flow]]\n          client_type: confidential\n          client_id: zot",
    )
    configmap.write_text(text, encoding="utf-8")
    failed = lab(workspace, "--recheck", "--only", "register-zot-oidc-client")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "register-zot-oidc-client failed: the [authentik] deploy command" in failed.stderr
    assert "authentik was not deployed" in failed.stderr and "no-such-flow" in failed.stderr
