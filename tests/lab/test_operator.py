"""An operator's configuration and repository brought into the lab: what is replaced, what is
kept as written."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mikado.lab import LabError
from mikado.lab.operator import LabUrls, adapt_config, copy_infra

REPO = Path(__file__).resolve().parents[2]
URLS = LabUrls("http://127.0.0.1:4001", "http://127.0.0.1:4002", "http://127.0.0.1:4003")


def adapted(tmp_path: Path, text: str) -> tuple[str, dict[str, dict[str, object]]]:
    source = tmp_path / "ops" / "mikado.toml"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text)
    out = adapt_config(
        text, source=source, workspace=tmp_path / "ws", urls=URLS, zot_version="2.1.17"
    )
    return out, tomllib.loads(out)


def test_the_seed_layout_example_points_at_the_lab_and_keeps_the_rest(tmp_path: Path) -> None:
    example = REPO / "examples" / "seed-layout" / "mikado.toml"
    text, config = adapted(tmp_path, example.read_text())
    workspace = tmp_path / "ws"
    control = [sys.executable, "-m", "mikado.lab.control", "deploy"]
    for service, url in (("authentik", URLS.authentik), ("forgejo", URLS.forgejo)):
        assert config[service]["url"] == url
        assert config[service]["deploy_command"] == [
            *control,
            service,
            "--workspace",
            str(workspace),
        ]
    assert config["authentik"]["token"] == "env:AUTHENTIK_TOKEN"
    assert config["authentik"]["issuer"] == f"{URLS.authentik}/application/o/zot/"
    assert config["zot"]["url"] == config["zot"]["external_url"] == URLS.zot
    assert config["ci"]["repository_path"] == "infra"
    # what describes the repository stays the operator's, the registry host the workflows
    # name included; the tag guard keeps the URL CI really reaches
    assert config["ci"]["registry_host"] == "registry.acme.example"
    assert config["ci"]["registry_url"] == "https://registry.acme.example"
    assert config["zot"]["config_template"] == "ansible/roles/zot/templates/config.json.j2"
    assert config["zot"]["credentials_path"] == "{{ zot_config_dir }}/oidc-credentials.json"
    assert config["forgejo"]["value_var"] == "ci_secret_zot_ci_api_key"
    assert config["mikado"]["docs"] == "cards" and config["mikado"]["actions"] == "actions"
    # comments survive, and the file says what was done to it
    assert "# written into the template as {{ zot_external_url }}" in text
    assert text.startswith(f"# `mikado run --lab --config {tmp_path / 'ops' / 'mikado.toml'}`")


def test_api_mode_paths_move_into_the_copy_and_commands_become_the_labs(tmp_path: Path) -> None:
    text = """\
[mikado]
docs = "cards"
[mikado.tls]
ca_bundle = "corp-ca.pem"
[authentik]
url = "https://auth.example.org"
token = "env:AK"
client_secret = "env:ZOT_SECRET"
[forgejo]
url = "https://forge.example.org"
token = "env:FJ"
repository = "ops/infra"
[zot]
url = "https://registry.example.org"
version = "2.1.20"
config_file = "../infra/zot/config.json"
credentials_file = "../infra/zot/oidc.json"
restart_command = ["systemctl", "restart", "zot"]
ci_identity = "ci"
ci_group = "ci"
[ci]
repository_path = "../infra"
skopeo_workflow = "a.yaml"
dagger_workflow = "b.yaml"
"""
    _, config = adapted(tmp_path, text)
    zot = config["zot"]
    assert zot["config_file"] == "infra/zot/config.json"
    assert zot["credentials_file"] == "infra/zot/oidc.json"
    assert zot["version"] == "2.1.17"  # the lab's zot's release, not the operator's
    assert zot["restart_command"][1:5] == ["-m", "mikado.lab.control", "restart", "zot"]
    assert str(tmp_path / "ws" / "lab" / "zot-host") in str(zot["credentials_path"])
    assert "client_secret" not in config["authentik"]  # the lab's Authentik holds its own
    assert "tls" not in config["mikado"]  # the emulators speak plain HTTP
    assert config["ci_credentials"] == {"api_key": "env:ZOT_CI_API_KEY"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mikado\n", "--config: not valid TOML"),
        ('[mikado]\ndocs = "x"\n', "--config names no [ci], [zot], [authentik], [forgejo] table"),
    ],
)
def test_a_configuration_the_lab_cannot_use_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(LabError, match=message.replace("[", r"\[").replace("]", r"\]")):
        adapted(tmp_path, text)


def test_a_file_outside_the_repository_is_refused(tmp_path: Path) -> None:
    text = (REPO / "examples" / "seed-layout" / "mikado.toml").read_text()
    text = text.replace('mode = "repo"\nurl = "https://registry', 'url = "https://registry')
    text = text.replace(
        'config_template = "ansible/', 'config_file = "/etc/zot/config.json"\nconfig_template = "'
    )
    with pytest.raises(LabError, match="is outside the repository"):
        adapted(tmp_path, text)


def test_the_copy_leaves_the_history_behind_and_commits_the_working_tree(tmp_path: Path) -> None:
    source = tmp_path / "theirs"
    (source / "roles").mkdir(parents=True)
    (source / "roles" / "main.yml").write_text("---\n")
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    (source / "uncommitted.txt").write_text("work in progress\n")
    commit = copy_infra(source, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / "uncommitted.txt").read_text() == "work in progress\n"
    log = subprocess.run(
        ["git", "-C", str(copy), "log", "--format=%H %s"], capture_output=True, text=True
    ).stdout.splitlines()
    assert log == [f"{commit} as brought to the lab from {source}"]
    with pytest.raises(LabError, match="not a folder"):
        copy_infra(tmp_path / "missing", tmp_path / "other")
