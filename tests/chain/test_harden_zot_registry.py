"""The shipped zot chain, run by the real engine in a subprocess against the emulators (each
imitating the newest release the lab knows, requests checked against that release's schema)."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from system_tools import tool

from mikado.lab import LabError
from mikado.lab.manual import mint_api_key
from mikado.services import zot_config
from tests.chain.conftest import (
    AUTHENTIK_TOKEN,
    CI_GROUP,
    CI_IDENTITY,
    CI_PASSWORD,
    REPOSITORY,
    ChainLab,
)

MINT = "mint-zot-ci-api-key"
CARDS = (
    "register-zot-oidc-client",
    "enforce-tag-immutability",
    "switch-on-zot-auth",
    MINT,
    "wire-ci-registry-auth",
    "harden-zot-registry",
)


def card_ends(lab: ChainLab) -> dict[str, str]:
    """Each card's outcome in the last run the journal records."""
    records = lab.tree.journal()
    start = max(i for i, r in enumerate(records) if r["event"] == "run-start")
    return {r["stem"]: r["outcome"] for r in records[start:] if r["event"] == "card-end"}


def up_to_the_key(lab: ChainLab) -> subprocess.CompletedProcess[str]:
    """The first run: it stops at the manual card, with zot's OIDC login switched on."""
    result = lab.run("--yes")
    assert result.returncode == 5, result.stdout + result.stderr
    assert lab.tree.status("switch-on-zot-auth") is None
    assert lab.tree.status(MINT) == "active"
    return result


def complete(lab: ChainLab) -> str:
    """Run, do the manual card as an operator does, run again; returns the CI key."""
    up_to_the_key(lab)
    key = lab.mint()
    result = lab.run("--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(lab.tree.status(stem) is None for stem in CARDS)
    return key


def test_the_first_run_stops_at_the_manual_card_with_its_steps(chain_lab: ChainLab) -> None:
    lab = chain_lab
    result = up_to_the_key(lab)
    out = result.stdout + result.stderr
    # The path as a person reads it: relative to the folder mikado ran in (the tree's root).
    assert f"{MINT} is done by hand (cards/zot/{MINT}.md):" in out
    assert "  1. In a private browser window, open `<zot externalUrl>/zot/auth/login" in out
    assert f"then run `mikado done {MINT}` and `mikado run harden-zot-registry` again" in out
    # nothing after the manual card ran
    assert lab.tree.status("wire-ci-registry-auth") == "active"
    assert lab.forgejo.secret_names(repo=REPOSITORY) == []
    assert lab.zot.starts == 2  # started by the fixture, restarted by switch-on-zot-auth


def test_the_chain_hardens_zot_and_a_recheck_changes_nothing(chain_lab: ChainLab) -> None:
    lab = chain_lab
    config_before = json.loads(lab.config_file.read_text())
    key = complete(lab)

    # register-zot-oidc-client: the credentials file zot reads, owner-only
    credentials = json.loads(lab.credentials_file.read_text())
    assert set(credentials) == {"clientid", "clientsecret"} and credentials["clientid"] == "zot"
    assert stat.S_IMODE(lab.credentials_file.stat().st_mode) == 0o600
    assert credentials["clientsecret"] not in lab.tree.mikado("status").stdout
    provider = lab.authentik.stored("providers")[0]
    assert provider["client_secret"] == credentials["clientsecret"]
    assert provider["redirect_uris"] == [
        {"matching_mode": "strict", "url": f"{lab.zot.url}/zot/auth/callback/oidc"}
    ]
    # admins and the CI group may log in, in the seed blueprint's order
    groups = {g["pk"]: g["name"] for g in lab.authentik.stored("groups")}
    bindings = sorted(lab.authentik.stored("bindings"), key=lambda b: b["order"])
    assert [(groups[b["group"]], b["order"]) for b in bindings] == [("admins", 0), (CI_GROUP, 1)]
    # switch-on-zot-auth: every old setting kept, in order, plus the hardening for 2.1.20
    config = json.loads(lab.config_file.read_text())
    zot_config.validate(config, release=(2, 1, 20))
    assert list(config) == list(config_before)
    assert config["extensions"] == config_before["extensions"]
    openid = config["http"]["auth"]["openid"]["providers"]["oidc"]
    assert openid["issuer"] == lab.authentik.issuer_for("zot")
    assert openid["credentialsFile"] == str(lab.credentials_file)
    assert openid["claimMapping"] == {"username": "preferred_username"}
    assert config["http"]["accessControl"]["metrics"] == {"anonymousPolicy": ["read"]}
    assert lab.zot.starts == 2
    # wire-ci-registry-auth: the minted key is in the Forgejo secret, the workflows use it
    assert lab.forgejo.secret_value("ZOT_CI_API_KEY", repo=REPOSITORY) == key
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
    # the goal pushed one probe tag with the CI key; the overwrite was refused
    [probe_tag] = lab.zot.tags("mikado/probe")
    assert probe_tag.startswith("mikado-probe-")
    statuses = [(r.method, r.status) for r in lab.zot.requests if "/manifests/" in r.path]
    assert statuses == [("PUT", 201), ("PUT", 403)]
    refused = [(r.method, r.status) for r in lab.zot.requests if "/blobs/uploads/" in r.path]
    assert refused[0] == ("POST", 401)  # the anonymous push, at its first upload
    for text in (lab.tree.mikado("status").stdout, *(p.read_text() for p in lab.workflows)):
        assert key not in text

    files = lab.files()
    lab.clear_requests()
    recheck = lab.run("--yes", "--recheck")
    assert recheck.returncode == 0, recheck.stderr
    assert lab.writes() == []
    assert lab.files() == files
    assert card_ends(lab) == dict.fromkeys(set(CARDS) - {MINT}, "held")
    assert lab.zot.starts == 2  # nothing restarted zot


def test_a_drifted_redirect_uri_and_a_deleted_binding_are_repaired(chain_lab: ChainLab) -> None:
    lab = chain_lab
    complete(lab)
    api = httpx.Client(
        base_url=lab.authentik.api_url, headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
    )
    provider = lab.authentik.stored("providers")[0]
    theirs = {"matching_mode": "strict", "url": "https://elsewhere.example/callback"}
    ours = provider["redirect_uris"][0]
    drift = api.patch(f"/providers/oauth2/{provider['pk']}/", json={"redirect_uris": [theirs]})
    assert drift.status_code == 200
    lab.clear_requests()
    result = lab.run("--yes", "--recheck")
    assert result.returncode == 0, result.stderr
    assert card_ends(lab)["register-zot-oidc-client"] == "done"
    # ours is back and the admin's own URI stays: lists are merged, not replaced
    assert lab.authentik.stored("providers")[0]["redirect_uris"] == [theirs, ours]
    assert lab.writes() == [f"authentik PATCH /api/v3/providers/oauth2/{provider['pk']}/"]
    patch = next(r for r in lab.authentik.requests if r.method == "PATCH")
    assert set(patch.json) == {"redirect_uris"}

    ci_pk = next(g["pk"] for g in lab.authentik.stored("groups") if g["name"] == CI_GROUP)
    [binding] = [b for b in lab.authentik.stored("bindings") if b["group"] == ci_pk]
    assert api.delete(f"/policies/bindings/{binding['pk']}/").status_code == 204
    lab.clear_requests()
    result = lab.run("--yes", "--recheck")
    assert result.returncode == 0, result.stderr
    assert card_ends(lab)["register-zot-oidc-client"] == "done"
    assert lab.writes() == ["authentik POST /api/v3/policies/bindings/"]
    assert sorted(b["order"] for b in lab.authentik.stored("bindings")) == [0, 1]


def infra_files(lab: ChainLab) -> dict[str, bytes]:
    return {k: v for k, v in lab.files().items() if k.startswith(str(lab.infra))}


def test_a_wrong_authentik_token_fails_its_card_naming_the_request_and_fix(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    before = infra_files(lab)
    result = lab.run("--yes", "--only", "register-zot-oidc-client", env={"AUTHENTIK_TOKEN": "bad"})
    assert result.returncode == 1
    assert f"register-zot-oidc-client failed: authentik: GET {lab.authentik.url}/api/v3/" in (
        result.stderr
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


def test_a_secret_differing_from_authentiks_is_a_stop_unless_rotation_is_asked(
    chain_lab: ChainLab,
) -> None:
    """Issue 13, failure 6: the secret other holders share is never replaced unasked."""
    lab = chain_lab
    assert lab.run("--yes", "--only", "register-zot-oidc-client").returncode == 0
    held = lab.authentik.stored("providers")[0]["client_secret"]
    lab.credentials_file.unlink()  # a fresh checkout: the file is gone, Authentik still holds it
    lab.clear_requests()
    again = lab.run("--yes", "--recheck", "--only", "register-zot-oidc-client")
    assert again.returncode == 0, again.stderr
    assert json.loads(lab.credentials_file.read_text())["clientsecret"] == held
    assert lab.writes() == []

    config = lab.tree.root / "mikado.toml"
    config.write_text(
        config.read_text().replace(
            'token = "env:AUTHENTIK_TOKEN"\n',
            'token = "env:AUTHENTIK_TOKEN"\nclient_secret = "env:ZOT_OIDC_SECRET"\n',
        )
    )
    env = {"ZOT_OIDC_SECRET": "a-new-secret-of-our-own-choosing"}
    stop = lab.run("--yes", "--recheck", "--only", "register-zot-oidc-client", env=env)
    assert stop.returncode == 1
    assert "[authentik] client_secret differs from the secret Authentik holds" in stop.stderr
    assert "rotate_secret = true" in stop.stderr
    assert lab.authentik.stored("providers")[0]["client_secret"] == held
    assert held not in stop.stdout + stop.stderr

    config.write_text(
        config.read_text().replace(
            'client_secret = "env:ZOT_OIDC_SECRET"\n',
            'client_secret = "env:ZOT_OIDC_SECRET"\nrotate_secret = true\n',
        )
    )
    rotated = lab.run("--yes", "--recheck", "--only", "register-zot-oidc-client", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert lab.authentik.stored("providers")[0]["client_secret"] == env["ZOT_OIDC_SECRET"]
    assert json.loads(lab.credentials_file.read_text())["clientsecret"] == env["ZOT_OIDC_SECRET"]


def test_a_misspelt_setting_stops_the_run_before_any_card(chain_lab: ChainLab) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    text = config.read_text().replace("live_timeout = 10\n", 'restart_comand = ["true"]\n')
    text = text.replace(
        'repository = "ops/infra"\n', 'repository = "ops/infra"\nci_credentials_name = "X"\n'
    )
    config.write_text(text)
    files = lab.files()
    result = lab.run("--yes")
    assert result.returncode == 2, result.stderr
    assert f"mikado: {config}: " in result.stderr
    assert "unknown key `restart_comand` in [zot]" in result.stderr
    assert "did you mean `restart_command`?" in result.stderr
    assert "unknown key `ci_credentials_name` in [forgejo]" in result.stderr
    assert "did you mean `ci_credential_name`?" in result.stderr
    assert lab.writes() == [] and lab.files() == files


def test_forgejo_down_fails_the_wiring_with_the_workflows_unchanged(chain_lab: ChainLab) -> None:
    lab = chain_lab
    up_to_the_key(lab)
    key = lab.mint()
    before = infra_files(lab)
    url = lab.forgejo.url
    lab.forgejo.stop()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert f"forgejo: PUT {url}/api/v1/repos/ops/infra/actions/secrets/" in (result.stderr)
    assert "(is the service running and reachable?)" in result.stderr
    assert key not in result.stderr + result.stdout
    assert infra_files(lab) == before
    assert lab.tree.status("wire-ci-registry-auth") == "failed"


def test_a_wrong_or_missing_ci_key_fails_the_wiring_naming_the_manual_card(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    up_to_the_key(lab)
    assert lab.tree.mikado("done", MINT).returncode == 0  # done, but no key was stored
    missing = lab.run("--yes")
    assert missing.returncode == 2
    assert "[ci_credentials] api_key: environment variable ZOT_CI_API_KEY is not set" in (
        missing.stderr
    )

    lab.env["ZOT_CI_API_KEY"] = "zak_not-a-key-zot-issued"
    before = infra_files(lab)
    wrong = lab.run("--yes")
    assert wrong.returncode == 1
    assert f"zot refuses [ci_credentials] api_key as '{CI_IDENTITY}' (401)" in wrong.stderr
    assert f"(see {MINT})" in wrong.stderr
    assert "zak_not-a-key-zot-issued" not in wrong.stdout + wrong.stderr
    assert lab.forgejo.secret_names(repo=REPOSITORY) == []
    assert infra_files(lab) == before


def test_zot_staying_down_after_the_restart_fails_switch_on_naming_the_login(
    chain_lab: ChainLab,
) -> None:
    lab = chain_lab
    config = lab.tree.root / "mikado.toml"
    text = config.read_text().replace("live_timeout = 10", 'live_timeout = 1\nversion = "2.1.20"')
    restart = next(line for line in text.splitlines() if line.startswith("restart_command"))
    config.write_text(text.replace(restart, 'restart_command = ["true"]'))
    url = lab.zot.url
    lab.zot.stop()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert f"switch-on-zot-auth failed: zot at {url} does not serve its OIDC login 1 s after" in (
        result.stderr
    )
    assert f"GET {url}/zot/auth/login?provider=oidc failed:" in result.stderr
    assert "(is zot running?)" in result.stderr
    assert lab.tree.status("switch-on-zot-auth") == "failed"
    assert lab.tree.status(MINT) == "active"


def test_a_malformed_zot_config_fails_switch_on_and_stays_as_it_was(chain_lab: ChainLab) -> None:
    lab = chain_lab
    lab.config_file.write_text('{\n  "http": {\n    "port": "5000",\n  }\n}\n')
    broken = lab.config_file.read_bytes()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert f"switch-on-zot-auth failed: {lab.config_file}:4: column 3: not valid JSON" in (
        result.stderr
    )
    assert "fix it, then run again" in result.stderr
    assert lab.config_file.read_bytes() == broken
    assert lab.tree.status("switch-on-zot-auth") == "failed"
    assert lab.zot.starts == 1  # never restarted


def test_a_dry_run_shows_the_changes_and_makes_none(chain_lab: ChainLab) -> None:
    lab = chain_lab
    files = lab.files()
    result = lab.run("--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "create oauth2 provider zot" in out and "(mode 0600)" in out
    assert "+          # mikado: tag guard (card enforce-tag-immutability) begin" in out
    assert "switch-on-zot-auth: not rehearsed (waits for" in out
    assert lab.writes() == [] and lab.files() == files
    assert lab.zot.starts == 1


def test_skopeo_pushes_as_the_hardened_registry_allows(chain_lab: ChainLab, tmp_path: Path) -> None:
    lab = chain_lab
    key = complete(lab)
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
    creds = ("--dest-creds", f"{CI_IDENTITY}:{key}")
    assert copy("v1.0.0", *creds).returncode == 0
    assert answers()[-1] == 201  # the manifest
    assert lab.zot.tags("apps/web") == {"v1.0.0": lab.zot.tags("mikado/probe")[probe_tag]}
    overwrite = copy("v1.0.0", *creds)
    assert overwrite.returncode != 0 and "denied" in overwrite.stderr
    assert answers()[-1] == 403


def _set_zot_keys(lab: ChainLab, lines: str) -> None:
    config = lab.tree.root / "mikado.toml"
    text = config.read_text()
    config.write_text(text.replace("live_timeout = 10\n", f"live_timeout = 10\n{lines}"))


def test_a_zot_too_old_for_the_chain_is_refused_before_its_configuration_is_written(
    chain_lab: ChainLab,
) -> None:
    """Issue 13, failure 7: nothing checked the target release before writing."""
    lab = chain_lab
    _set_zot_keys(lab, 'version = "2.1.5"\n')
    before = lab.config_file.read_bytes()
    result = lab.run("--yes")
    assert result.returncode == 1, result.stderr
    assert "switch-on-zot-auth failed: zot 2.1.5 cannot take part" in result.stderr
    assert "upgrade zot to 2.1.6 or later" in result.stderr
    assert lab.config_file.read_bytes() == before and lab.zot.starts == 1


def test_a_setting_the_target_release_would_refuse_stops_switch_on_before_any_write(
    chain_lab: ChainLab,
) -> None:
    """zot refuses an unknown key at start-up: a configuration written for the wrong release
    would leave zot down after the restart."""
    lab = chain_lab
    _set_zot_keys(lab, 'version = "2.1.17"\n')
    config = json.loads(lab.config_file.read_text())
    config["storage"]["gcTimeWindow"] = "1h"  # a key zot has only from 2.1.19
    lab.config_file.write_text(json.dumps(config, indent=2) + "\n")
    before = lab.config_file.read_bytes()
    result = lab.run("--yes")
    assert result.returncode == 1
    assert (
        f"switch-on-zot-auth failed: {lab.config_file}: zot 2.1.17 would refuse this "
        "configuration: storage.gcTimeWindow: unknown key in zot 2.1.17 (it arrived in 2.1.19)"
    ) in result.stderr
    assert lab.config_file.read_bytes() == before and lab.zot.starts == 1


def test_a_deploy_that_does_not_reach_zot_fails_the_registration_naming_the_copy(
    chain_lab: ChainLab,
) -> None:
    """Issue 13, failure 6: nothing deployed the credentials file to the zot host nor checked
    the copy zot reads."""
    lab = chain_lab
    host_copy = lab.tree.root / "zot-host" / "oidc-credentials.json"
    _set_zot_keys(
        lab,
        f'credentials_path = "{host_copy}"\n'
        f'credentials_deploy_command = ["true", "{{source}}"]\n'
        f'credentials_check_command = ["sha256sum", "{host_copy}"]\n',
    )
    result = lab.run("--yes", "--only", "register-zot-oidc-client")
    assert result.returncode == 1
    assert "after [zot] credentials_deploy_command ran" in result.stderr
    assert "zot would log in with another secret than Authentik holds" in result.stderr
    assert lab.tree.status("register-zot-oidc-client") == "failed"

    config = lab.tree.root / "mikado.toml"
    config.write_text(
        config.read_text().replace(
            'credentials_deploy_command = ["true", "{source}"]',
            f'credentials_deploy_command = ["install", "-D", "-m", "600", "{{source}}", '
            f'"{host_copy}"]',
        )
    )
    fixed = lab.run("--yes", "--only", "register-zot-oidc-client")
    assert fixed.returncode == 0, fixed.stderr
    assert host_copy.read_bytes() == lab.credentials_file.read_bytes()
    assert stat.S_IMODE(host_copy.stat().st_mode) == 0o600


def test_without_the_ci_groups_binding_the_ci_account_cannot_log_in_to_mint_its_key(
    chain_lab: ChainLab,
) -> None:
    """Issue 13, failure 2: with only admins bound, the CI account's OIDC login is refused,
    so its key can never be minted (the seed's own follow-up had to add the binding)."""
    lab = chain_lab
    up_to_the_key(lab)
    ci_pk = next(g["pk"] for g in lab.authentik.stored("groups") if g["name"] == CI_GROUP)
    [binding] = [b for b in lab.authentik.stored("bindings") if b["group"] == ci_pk]
    api = httpx.Client(
        base_url=lab.authentik.api_url, headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
    )
    assert api.delete(f"/policies/bindings/{binding['pk']}/").status_code == 204
    with pytest.raises(LabError, match="Authentik refuses ci-bot for the zot application"):
        mint_api_key(lab.zot.url, CI_IDENTITY, CI_PASSWORD)
    # a recheck puts the binding back, and the login works again
    assert lab.run("--yes", "--recheck").returncode == 5
    assert mint_api_key(lab.zot.url, CI_IDENTITY, CI_PASSWORD).startswith("zak_")
