"""The lab workspace: layout, configuration, infrastructure repository, lab state."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from mikado.config import load_config
from mikado.lab import LabError
from mikado.lab.emulators import ZotEmulator
from mikado.lab.emulators.releases import LabVersions
from mikado.lab.emulators.zot_config import load_zot_config
from mikado.lab.infra import DAGGER_WORKFLOW, SKOPEO_WORKFLOW, git, infra_base
from mikado.lab.workspace import (
    CI_API_KEY_VARIABLE,
    LabSecrets,
    LabState,
    ServicePorts,
    ServiceUrls,
    Workspace,
    lay_out,
)

REPO = Path(__file__).resolve().parents[2]
URLS = ServiceUrls("http://127.0.0.1:4001", "http://127.0.0.1:4002", "http://127.0.0.1:4003")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return lay_out(tmp_path / "ws", docs=REPO / "cards", actions=REPO / "cards", urls=URLS)


def test_layout_copies_the_docs_and_leaves_the_source_alone(workspace: Workspace) -> None:
    source = REPO / "cards" / "zot" / "harden-zot-registry.md"
    copy = workspace.docs / "zot" / "harden-zot-registry.md"
    assert copy.read_bytes() == source.read_bytes()
    copy.write_text("changed", encoding="utf-8")
    assert source.read_text(encoding="utf-8") != "changed"


def test_configuration_points_every_service_at_the_lab(workspace: Workspace) -> None:
    config = load_config(config_file=workspace.config_file)
    assert config.docs == workspace.docs
    assert config.actions == workspace.actions
    settings = config.settings
    assert settings["authentik"]["url"] == URLS.authentik
    assert settings["authentik"]["token"].startswith("env:")
    assert settings["forgejo"]["url"] == URLS.forgejo
    assert settings["forgejo"]["token"].startswith("env:")
    assert settings["zot"]["url"] == URLS.zot
    assert settings["ci_credentials"]["api_key"] == f"env:{CI_API_KEY_VARIABLE}"
    # zot is restarted (never reloaded) through the lab's control endpoint, and reads the
    # credentials copy the deploy command puts on "the zot host"
    assert settings["zot"]["restart_command"][1:4] == ["-m", "mikado.lab.control", "restart"]
    assert settings["zot"]["credentials_path"] == str(workspace.zot_host_credentials)
    assert settings["ci"]["registry_host"] == "127.0.0.1:4003"
    assert (workspace.root / settings["zot"]["config_file"]).is_file()
    assert stat.S_IMODE(workspace.config_file.stat().st_mode) == 0o644


def test_infrastructure_repository_has_one_commit_and_a_clean_tree(workspace: Workspace) -> None:
    assert git(workspace.infra, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(workspace.infra, "status", "--porcelain") == ""
    assert infra_base(workspace.infra) == git(workspace.infra, "rev-parse", "HEAD").strip()
    # the OIDC credentials file beside zot's configuration is never committed
    assert git(workspace.infra, "check-ignore", "zot/oidc-credentials.json").strip()


def test_zot_config_is_pre_hardening_and_loads_in_zot(workspace: Workspace) -> None:
    raw = json.loads(workspace.zot_config.read_text(encoding="utf-8"))
    assert "auth" not in raw["http"] and "accessControl" not in raw["http"]
    assert set(raw["extensions"]) == {"metrics", "search", "ui", "sync"}
    config = load_zot_config(workspace.zot_config)
    assert not config.basic_auth and config.metrics_path == "/metrics"
    with ZotEmulator(config_file=workspace.zot_config, validate_requests=False) as zot:
        assert zot.config_error is None


def test_workflows_have_the_push_steps_the_chain_edits(workspace: Workspace) -> None:
    yaml = pytest.importorskip("yaml")
    nix = yaml.safe_load((workspace.infra / SKOPEO_WORKFLOW).read_text(encoding="utf-8"))
    steps = [step for job in nix["jobs"].values() for step in job["steps"]]
    push = [s for s in steps if "skopeo copy" in s.get("run", "")]
    assert len(push) == 1 and "docker://127.0.0.1:4003/" in push[0]["run"]
    dagger = yaml.safe_load((workspace.infra / DAGGER_WORKFLOW).read_text(encoding="utf-8"))
    steps = [step for job in dagger["jobs"].values() for step in job["steps"]]
    publish = [s for s in steps if "dagger call publish" in s.get("run", "")]
    assert len(publish) == 1 and "--registry 127.0.0.1:4003" in publish[0]["run"]
    for path in (SKOPEO_WORKFLOW, DAGGER_WORKFLOW):
        assert "\n# " in "\n" + (workspace.infra / path).read_text(encoding="utf-8")


def test_layout_again_keeps_work_and_follows_moved_ports(workspace: Workspace) -> None:
    card = workspace.docs / "zot" / "zot.md"
    card.write_text("edited by a run", encoding="utf-8")
    workspace.zot_config.write_text("{}", encoding="utf-8")
    moved = ServiceUrls(URLS.authentik, URLS.forgejo, "http://127.0.0.1:4999")
    again = lay_out(workspace.root, docs=REPO / "cards", actions=REPO / "cards", urls=moved)
    assert card.read_text(encoding="utf-8") == "edited by a run"
    assert again.zot_config.read_text(encoding="utf-8") == "{}"
    settings = load_config(config_file=again.config_file).settings
    assert settings["zot"]["url"] == "http://127.0.0.1:4999"


def test_layout_recovers_from_an_interrupted_copy(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / ".cards.partial").mkdir(parents=True)
    (root / ".cards.partial" / "half.md").write_text("half", encoding="utf-8")
    workspace = lay_out(root, docs=REPO / "cards", actions=REPO / "cards", urls=URLS)
    assert not (workspace.docs / "half.md").exists()
    assert (workspace.docs / "zot" / "zot.md").is_file()


def test_layout_needs_a_docs_folder(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not a folder"):
        lay_out(tmp_path / "ws", docs=tmp_path / "none", actions=tmp_path / "none", urls=URLS)


def test_lab_state_round_trips_privately(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    assert workspace.read_state() is None
    state = LabState(ServicePorts(1, 2, 3), LabSecrets.generate())
    workspace.write_state(state)
    assert workspace.read_state() == state
    assert stat.S_IMODE(workspace.state_file.stat().st_mode) == 0o600
    workspace.state_file.write_text('{"version": 2}', encoding="utf-8")
    with pytest.raises(LabError, match="damaged"):
        workspace.read_state()
    workspace.state_file.write_text('{"version": 1}', encoding="utf-8")
    with pytest.raises(LabError, match="of another mikado; use a new workspace"):
        workspace.read_state()


def test_a_minted_key_and_the_releases_are_kept_in_the_state(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    versions = LabVersions.parse("authentik=2025.2,zot=2.1.10,forgejo=11")
    state = LabState(ServicePorts(1, 2, 3, 4), LabSecrets.generate(), versions)
    minted = replace(state, secrets=replace(state.secrets, ci_api_key="zak_minted"))
    workspace.write_state(minted)
    assert workspace.read_state() == minted
    assert workspace.read_state().versions == versions  # type: ignore[union-attr]


def test_generated_secrets_differ_and_only_the_tokens_reach_the_environment() -> None:
    first, second = LabSecrets.generate(), LabSecrets.generate()
    assert set(first.values()).isdisjoint(second.values())
    # the CI password is typed at Authentik's login page, never given to mikado; the key
    # exists only once minted
    assert sorted(first.environment()) == ["AUTHENTIK_TOKEN", "FORGEJO_TOKEN"]
    minted = replace(first, ci_api_key="zak_minted")
    assert minted.environment()[CI_API_KEY_VARIABLE] == "zak_minted"
