"""The shipped zot chain, run by the real engine in a subprocess against the emulators."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import httpx
from system_tools import tool

from mikado.services import zot_config
from tests.chain.conftest import (
    AUTHENTIK_TOKEN,
    CI_API_KEY,
    CI_IDENTITY,
    REPOSITORY,
    ChainLab,
)

CARDS = (
    "enforce-tag-immutability",
    "register-zot-oidc-client",
    "wire-ci-registry-auth",
    "harden-zot-registry",
)


def card_ends(lab: ChainLab) -> dict[str, str]:
    """Each card's last outcome in the journal."""
    return {r["stem"]: r["outcome"] for r in lab.tree.journal() if r["event"] == "card-end"}


def complete(lab: ChainLab) -> None:
    result = lab.run("--yes")
    assert result.returncode == 0, result.stderr
    assert all(lab.tree.status(stem) is None for stem in CARDS)


def test_the_chain_hardens_zot_and_a_recheck_changes_nothing(chain_lab: ChainLab) -> None:
    lab = chain_lab
    config_before = json.loads(lab.config_file.read_text())
    complete(lab)

    # register-zot-oidc-client: the credentials file zot reads, owner-only
    credentials = json.loads(lab.credentials_file.read_text())
    assert set(credentials) == {"clientid", "clientsecret"} and credentials["clientid"] == "zot"
    assert stat.S_IMODE(lab.credentials_file.stat().st_mode) == 0o600
    assert credentials["clientsecret"] not in lab.tree.mikado("status").stdout
    provider = lab.authentik.objects("providers")[0]
    assert provider["client_secret"] == credentials["clientsecret"]
    assert provider["redirect_uris"] == [
        {"matching_mode": "strict", "url": f"{lab.zot.url}/zot/auth/callback/oidc"}
    ]
    # the goal's configuration: every old setting kept, in order, plus the hardening
    config = json.loads(lab.config_file.read_text())
    zot_config.validate(config)
    assert list(config) == list(config_before)
    assert config["extensions"] == config_before["extensions"]
    openid = config["http"]["auth"]["openid"]["providers"]["oidc"]
    assert openid["issuer"] == lab.authentik.issuer_for("zot")
    assert openid["credentialsFile"] == str(lab.credentials_file)
    assert config["http"]["accessControl"]["metrics"] == {"users": [""]}
    # wire-ci-registry-auth: the key is in the Forgejo secret, the workflows use it
    assert lab.forgejo.secret_value("ZOT_CI_API_KEY", repo=REPOSITORY) == CI_API_KEY
    nix, dagger = (path.read_text() for path in lab.workflows)
    assert f'skopeo copy --dest-creds "{CI_IDENTITY}:${{ZOT_CI_API_KEY}}"' in nix
    assert f"publish --registry-username {CI_IDENTITY} --registry-password env:ZOT_CI_API_KEY" in (
        dagger
    )
    for text in (nix, dagger):
        assert "ZOT_CI_API_KEY: ${{ secrets.ZOT_CI_API_KEY }}" in text
    # enforce-tag-immutability: the guard comes in the push script, right before the push
    assert nix.index("# mikado: tag guard end") < nix.index("skopeo copy")
    assert dagger.index("# mikado: tag guard end") < dagger.index("dagger call publish")
    assert "# Build the image as a docker archive" in nix  # comments survive
    assert "runs-on: nix  # the runner that has a Nix store" in nix
    # the goal pushed one probe tag as the CI identity; the overwrite was refused
    [probe_tag] = lab.zot.tags("mikado/probe")
    assert probe_tag.startswith("mikado-probe-")
    statuses = [(r.method, r.status) for r in lab.zot.requests if "/manifests/" in r.path]
    assert statuses == [("PUT", 201), ("PUT", 403)]

    files = lab.files()
    lab.clear_requests()
    recheck = lab.run("--yes", "--recheck")
    assert recheck.returncode == 0, recheck.stderr
    assert lab.writes() == []
    assert lab.files() == files
    assert {stem: outcome for stem, outcome in card_ends(lab).items()} == dict.fromkeys(
        CARDS, "held"
    )


def test_a_drifted_redirect_uri_and_a_deleted_binding_are_repaired(chain_lab: ChainLab) -> None:
    lab = chain_lab
    complete(lab)
    api = httpx.Client(
        base_url=lab.authentik.api_url, headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
    )
    provider = lab.authentik.objects("providers")[0]
    wrong = [{"matching_mode": "strict", "url": "https://elsewhere.example/callback"}]
    drift = api.patch(f"/providers/oauth2/{provider['pk']}/", json={"redirect_uris": wrong})
    assert drift.status_code == 200
    lab.clear_requests()
    result = lab.run("--yes", "--recheck")
    assert result.returncode == 0, result.stderr
    assert card_ends(lab)["register-zot-oidc-client"] == "done"
    assert lab.authentik.objects("providers")[0]["redirect_uris"][0]["url"].endswith(
        "/zot/auth/callback/oidc"
    )
    # only the drifted field was written, and nothing else anywhere
    assert lab.writes() == [f"authentik PATCH /api/v3/providers/oauth2/{provider['pk']}/"]
    patch = next(r for r in lab.authentik.requests if r.method == "PATCH")
    assert set(patch.json) == {"redirect_uris"}

    [binding] = lab.authentik.objects("bindings")
    assert api.delete(f"/policies/bindings/{binding['pk']}/").status_code == 204
    lab.clear_requests()
    result = lab.run("--yes", "--recheck")
    assert result.returncode == 0, result.stderr
    assert card_ends(lab)["register-zot-oidc-client"] == "done"
    assert lab.writes() == ["authentik POST /api/v3/policies/bindings/"]
    assert [b["group"] for b in lab.authentik.objects("bindings")] == [binding["group"]]


def infra_files(lab: ChainLab) -> dict[str, bytes]:
    return {k: v for k, v in lab.files().items() if k.startswith(str(lab.infra))}


def test_a_wrong_authentik_token_fails_its_card_naming_the_request_and_fix(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    before = infra_files(lab)
    result = lab.run("--yes", "--only", "register-zot-oidc-client", env={"AUTHENTIK_TOKEN": "bad"})
    assert result.returncode == 1
    assert (
        f"register-zot-oidc-client failed: authentik: GET {lab.authentik.url}/api/v3/core/groups/"
        in result.stderr
    )
    assert "→ 403: Token invalid/expired (check the API token and its permissions)" in (
        result.stderr
    )
    assert lab.tree.status("register-zot-oidc-client") == "failed"
    assert infra_files(lab) == before and not lab.credentials_file.exists()


def test_an_unknown_group_fails_before_anything_is_written(chain_lab: ChainLab) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    config.write_text(
        config.read_text().replace(
            'token = "env:AUTHENTIK_TOKEN"\n',
            'token = "env:AUTHENTIK_TOKEN"\nadmins_group = "ops"\n',
        )
    )
    result = lab.run("--yes", "--only", "register-zot-oidc-client")
    assert result.returncode == 1
    assert "no group named 'ops' (create the group 'ops' in Authentik first)" in result.stderr
    assert lab.writes() == [] and not lab.credentials_file.exists()


def test_a_misspelt_setting_stops_the_run_before_any_card(chain_lab: ChainLab) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    text = config.read_text().replace("live_timeout = 10\n", 'reload_comand = ["true"]\n')
    text = text.replace(
        'repository = "ops/infra"\n', 'repository = "ops/infra"\nci_credentials_name = "X"\n'
    )
    config.write_text(text)
    files = lab.files()
    result = lab.run("--yes")
    assert result.returncode == 2, result.stderr
    assert f"mikado: {config}: " in result.stderr
    assert "unknown key `reload_comand` in [zot]" in result.stderr
    assert "did you mean `reload_command`?" in result.stderr
    assert "unknown key `ci_credentials_name` in [forgejo]" in result.stderr
    assert "did you mean `ci_credential_name`?" in result.stderr
    assert lab.writes() == [] and lab.files() == files


def test_forgejo_down_fails_the_wiring_with_the_workflows_unchanged(chain_lab: ChainLab) -> None:
    lab = chain_lab
    before = infra_files(lab)
    url = lab.forgejo.url
    lab.forgejo.stop()
    result = lab.run("--yes", "--only", "wire-ci-registry-auth")
    assert result.returncode == 1
    assert f"forgejo: PUT {url}/api/v1/repos/ops/infra/actions/secrets/" in (result.stderr)
    assert "(is the service running and reachable?)" in result.stderr
    assert CI_API_KEY not in result.stderr + result.stdout
    assert infra_files(lab) == before


def test_zot_down_after_the_write_is_reported_as_a_fault_not_as_old_configuration(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    config.write_text(config.read_text().replace("live_timeout = 10", "live_timeout = 1"))
    url = lab.zot.url
    lab.zot.stop()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert "harden-zot-registry failed: zot at" in result.stderr
    assert "is not live with the new configuration 1 s after" in result.stderr
    assert f"GET {url}/v2/ failed:" in result.stderr and "(is zot running?)" in result.stderr
    assert "without authentication" not in result.stderr
    assert lab.tree.status("harden-zot-registry") == "failed"


def test_a_malformed_zot_config_fails_the_goal_and_stays_as_it_was(chain_lab: ChainLab) -> None:
    lab = chain_lab
    lab.config_file.write_text('{\n  "http": {\n    "port": "5000",\n  }\n}\n')
    broken = lab.config_file.read_bytes()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert f"harden-zot-registry failed: {lab.config_file}:4: column 3: not valid JSON" in (
        result.stderr
    )
    assert "fix it, then run again" in result.stderr
    assert lab.config_file.read_bytes() == broken
    assert lab.tree.status("harden-zot-registry") == "failed"


def test_without_a_ci_api_key_the_workflows_are_wired_and_the_card_says_what_to_do(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    config.write_text(config.read_text().replace('ci_api_key = "env:ZOT_CI_API_KEY"\n', ""))
    result = lab.run("--yes", "--only", "wire-ci-registry-auth")
    assert result.returncode == 1
    assert f"log in to zot at {lab.zot.url} once as the CI account {CI_IDENTITY}" in result.stderr
    assert 'add ci_api_key = "env:ZOT_CI_API_KEY"' in result.stderr
    assert all(
        "--registry-password env:ZOT_CI_API_KEY" in p.read_text() or "--dest-creds" in p.read_text()
        for p in lab.workflows
    )
    assert lab.forgejo.secret_names(repo=REPOSITORY) == []


def test_a_dry_run_shows_the_changes_and_makes_none(chain_lab: ChainLab) -> None:
    lab = chain_lab
    files = lab.files()
    result = lab.run("--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "create oauth2 provider zot" in out and "(mode 0600)" in out
    assert "+          # mikado: tag guard (card enforce-tag-immutability) begin" in out
    assert '+          skopeo copy --dest-creds "ci-bot:${ZOT_CI_API_KEY}"' in out
    assert "set the Forgejo Actions secret ZOT_CI_API_KEY of repository ops/infra" in out
    assert "harden-zot-registry: not rehearsed (waits for" in out
    assert CI_API_KEY not in out
    assert lab.writes() == [] and lab.files() == files


def test_skopeo_pushes_as_the_hardened_registry_allows(chain_lab: ChainLab, tmp_path: Path) -> None:
    lab = chain_lab
    complete(lab)
    [probe_tag] = lab.zot.tags("mikado/probe")
    host = lab.zot.host

    def copy(tag: str, *creds: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                tool("skopeo"),
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                *creds,
                f"docker://{host}/mikado/probe:{probe_tag}",
                f"docker://{host}/apps/web:{tag}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )

    def answers() -> list[int]:
        """zot's answers to the pushes of apps/web since the last call."""
        found = [
            r.status
            for r in lab.zot.requests
            if r.path.startswith("/v2/apps/web/") and r.method in ("POST", "PUT")
        ]
        lab.zot.requests.clear()
        return found

    lab.zot.requests.clear()
    anonymous = copy("v1.0.0")
    assert anonymous.returncode != 0 and "authentication required" in anonymous.stderr
    assert answers() == [401]
    creds = ("--dest-creds", f"{CI_IDENTITY}:{CI_API_KEY}")
    assert copy("v1.0.0", *creds).returncode == 0
    assert answers()[-1] == 201  # the manifest
    assert lab.zot.tags("apps/web") == {"v1.0.0": lab.zot.tags("mikado/probe")[probe_tag]}
    overwrite = copy("v1.0.0", *creds)
    assert overwrite.returncode != 0 and "denied" in overwrite.stderr
    assert answers()[-1] == 403
