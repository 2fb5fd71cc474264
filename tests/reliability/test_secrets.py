"""Secrets: a sentinel value for every secret the zot chain handles (the Authentik and Forgejo
tokens, the CI account's API key, the OIDC client secret) never appears in what mikado shows
or writes — stdout, stderr, the journal, cards, outputs.json, the dry-run diff, exception
messages — on success and on every failure path (a wrong token, a service down, injected
faults). Credentials files are 0600, and TLS verification is off only when the configuration
says so, with a warning on every run.
"""

from __future__ import annotations

import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mikado.config import TlsSettings
from mikado.engine.http import make_client, ssl_context
from mikado.lab.emulators._server import Fault
from tests.chain.conftest import ChainLab
from tests.chain_fixtures import make_tree

from .zot_lab import GOAL, Sentinels, explain, run_chain, zot_chain

REPO = Path(__file__).resolve().parents[2]
SENTINELS = Sentinels()
WRONG_TOKEN = "SENTINEL-wrong-authentik-token-93be"


class Seen:
    """Every text mikado produced, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def process(self, name: str, result: subprocess.CompletedProcess[str]) -> None:
        self.texts[f"{name} stdout"] = result.stdout
        self.texts[f"{name} stderr"] = result.stderr

    def files(self, lab: ChainLab) -> None:
        """Everything on disk but the one file that must hold the client secret."""
        for root in (lab.tree.root,):
            for path in root.rglob("*"):
                if not path.is_file() or ".git" in path.parts or path == lab.credentials_file:
                    continue
                if path.name.startswith(".oidc-credentials.json."):
                    continue  # the credentials file's own temporary (0600), checked below
                self.texts[str(path.relative_to(root))] = path.read_bytes().decode(
                    "utf-8", errors="replace"
                )

    def leaks(self, secrets: tuple[str, ...]) -> list[str]:
        return [where for where, text in self.texts.items() for s in secrets if s in text]


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChainLab, Seen]]:
    """One lab through the failure paths and then to success, collecting every output."""
    seen = Seen()
    with zot_chain(tmp_path_factory.mktemp("secrets"), SENTINELS) as lab:
        seen.process("dry run", lab.tree.mikado("run", GOAL, "--dry-run", env=lab.env))
        # faults: errors carry the service's answer, never what was sent
        lab.authentik.inject_fault(Fault.error(500), method="POST", times=99)
        faulty = run_chain(lab, "--keep-going")
        assert faulty.returncode == 1, explain(faulty)
        seen.process("authentik fault", faulty)
        lab.authentik.clear_faults()
        wrong = run_chain(lab, "--keep-going", env={"AUTHENTIK_TOKEN": WRONG_TOKEN})
        assert wrong.returncode == 1 and "403" in wrong.stderr, explain(wrong)
        seen.process("wrong token", wrong)
        # up to the manual card, which is done, then the wiring meets the fault
        lab.forgejo.inject_fault(Fault.reset(processed=True), method="PUT", times=99)
        faulty = run_chain(lab, "--keep-going")
        assert faulty.returncode == 1, explain(faulty)
        seen.process("forgejo fault", faulty)
        lab.forgejo.clear_faults()
        lab.zot.inject_fault(Fault.reset(), method="GET", path_prefix="/v2/_catalog", times=99)
        registry = run_chain(lab, "--keep-going")
        assert registry.returncode == 1, explain(registry)
        seen.process("registry fault", registry)
        lab.zot.clear_faults()
        done = run_chain(lab, "--verbose")
        assert done.returncode == 0, explain(done)
        seen.process("run", done)
        seen.process("status", lab.tree.mikado("status", GOAL, "--format", "json"))
        seen.process("status md", lab.tree.mikado("status", GOAL, "--format", "markdown"))
        # a service down under a recheck
        lab.forgejo.stop()
        down = run_chain(lab, "--recheck", "--keep-going")
        assert down.returncode == 1 and "forgejo" in down.stderr, explain(down)
        seen.process("forgejo down", down)
        seen.files(lab)
        yield lab, seen


def test_no_sentinel_in_output_journal_cards_or_outputs(journey: tuple[ChainLab, Seen]) -> None:
    _, seen = journey
    assert set(seen.texts) >= {".mikado/journal.jsonl", ".mikado/outputs.json"}
    assert any(where.startswith("cards/") for where in seen.texts)
    assert seen.leaks((*SENTINELS.values(), WRONG_TOKEN)) == []


def test_the_failures_were_reported_and_the_dry_run_showed_a_diff(
    journey: tuple[ChainLab, Seen],
) -> None:
    _, seen = journey
    assert "clientsecret" not in seen.texts["dry run stdout"]
    assert "+++" in seen.texts["dry run stdout"]  # the workflow diffs were shown
    assert "authentik: GET" in seen.texts["wrong token stderr"]
    assert "authentik: POST" in seen.texts["authentik fault stderr"]
    assert "forgejo: PUT" in seen.texts["forgejo fault stderr"]
    assert "zot: GET" in seen.texts["registry fault stderr"]


def test_the_credentials_file_is_private_and_holds_the_secret(
    journey: tuple[ChainLab, Seen],
) -> None:
    lab, _ = journey
    credentials = lab.credentials_file
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert SENTINELS.oidc_client_secret in credentials.read_text(encoding="utf-8")
    for leftover in credentials.parent.glob(".oidc-credentials.json.*"):
        assert stat.S_IMODE(leftover.stat().st_mode) == 0o600


def test_a_credentials_file_left_readable_is_made_private(tmp_path: Path) -> None:
    with zot_chain(tmp_path, SENTINELS) as lab:
        lab.credentials_file.write_text('{"clientid": "zot", "clientsecret": "old"}\n')
        lab.credentials_file.chmod(0o644)
        result = run_chain(lab)
        assert result.returncode == 0, explain(result)
        assert stat.S_IMODE(lab.credentials_file.stat().st_mode) == 0o600


def test_the_runtime_files_holding_run_records_are_private(journey: tuple[ChainLab, Seen]) -> None:
    lab, _ = journey
    journal = lab.tree.runtime / "journal.jsonl"
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600


# TLS -----------------------------------------------------------------------------------------

_VERIFY_OFF = re.compile(
    r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    r"|PYTHONHTTPSVERIFY|REQUESTS_CA_BUNDLE|insecure"
)


def test_only_the_tls_setting_can_switch_verification_off() -> None:
    """Grep the code that ships: nothing turns verification off but [mikado.tls] insecure,
    which the configuration reads and the client honours."""
    found = []
    for folder in ("mikado", "actions"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "lab" in path.relative_to(REPO).parts:
                continue  # the emulators serve plain HTTP on 127.0.0.1 and make no requests
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _VERIFY_OFF.search(line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    allowed = re.compile(
        r"^mikado/(config|engine/http|cli/run_chain)\.py:\d+: .*insecure"
        # zot's own key for its upstream registries (sync), in the schema of zot's config
        r"|^mikado/services/zot_schema\.py:\d+: +\"insecure\": BOOL"
    )
    assert [line for line in found if not allowed.search(line)] == []
    assert ssl_context(TlsSettings()) is True
    assert ssl_context(replace(TlsSettings(), insecure=True)) is False


def test_the_shared_client_verifies_by_default(tmp_path: Path) -> None:
    with make_client(TlsSettings()) as http:
        transport = http._transport
        inner = transport.inner  # type: ignore[attr-defined]
        context = inner._pool._ssl_context
        assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname


@pytest.mark.parametrize("value", ["1", '"true"', '"yes"'])
def test_insecure_must_be_a_real_boolean(tmp_path: Path, value: str) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}},
        {"a": "def apply(ctx):\n    pass\n"},
        config=f"[mikado.tls]\ninsecure = {value}\n",
    )
    result = tree.mikado("run", "a", "--yes")
    assert result.returncode == 2, result.stderr
    assert tree.status("a") == "active"


def test_insecure_warns_on_every_run_including_dry_runs_and_no_ops(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}},
        {"a": "def apply(ctx):\n    pass\n"},
        config="[mikado.tls]\ninsecure = true\n",
    )
    for args in (["--dry-run"], ["--yes"], ["--yes"], ["--dry-run", "--format", "json"]):
        result = tree.mikado("run", "a", *args)
        assert result.returncode == 0, result.stderr
        assert "warning: TLS certificate verification is off" in result.stderr, args
