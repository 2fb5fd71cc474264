"""Secrets: a sentinel value for every secret the zot chain handles (the Authentik and Forgejo
tokens, the CI account's API key, the OIDC client secret) never appears in what mikado shows
or writes — stdout, stderr, the journal, cards, outputs.json, the dry-run diff, exception
messages — on success and on every failure path (a wrong token, a service down, injected
faults). Credentials files are 0600, and TLS verification is off only when the configuration
says so, with a warning on every run.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mikado.config import TlsSettings
from mikado.engine.http import make_client, ssl_context
from mikado.engine.journal import last_failures
from mikado.lab.emulators._server import Fault
from tests.chain.conftest import ChainLab
from tests.chain_fixtures import Tree, make_tree

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
    default = ssl_context(TlsSettings())
    assert isinstance(default, ssl.SSLContext)
    assert default.verify_mode is ssl.CERT_REQUIRED and default.check_hostname
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


# Transformed secrets: every leak path of a secret that is multi-line, holds whitespace or
# quotes, or turns up encoded, against every place mikado writes -------------------------------

PEM_FILE = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQSENTINELpemLineOne0a1b2c3d4e5f6a7b8c9d\n"
    "SENTINELpemLineTwo9z8y7x6w5v4u3t2s1r\n"
    "-----END PRIVATE KEY-----\n"
)
CREDENTIAL_FILE = (
    '{\n  "type": "service_account",\n  "private_key": "SENTINEL-json-credential-5e6f",\n'
    '  "client_email": "ci@example.invalid"\n}\n'
)
SPACED = "SENTINEL  two  spaces  3c4d"
QUOTED = 'SENTINEL"quote\\back\tslash-7a8b'
ENCODED = "SENTINEL/url+enc ret&=9c0d"
BASIC_USER = "ci"

LEAK_ENV = {"LEAK_SPACED": SPACED, "LEAK_QUOTED": QUOTED, "LEAK_ENCODED": ENCODED}
LEAK_CONFIG = """
[leaks]
pem = "file:secrets/key.pem"
credential = "file:secrets/credential.json"
spaced = "env:LEAK_SPACED"
quoted = "env:LEAK_QUOTED"
encoded = "env:LEAK_ENCODED"
"""
_LEAK_HEAD = """
import base64, json
import httpx
SETTINGS = ("leaks",)
def _s(ctx):
    return ctx.settings["leaks"]
"""
LEAK_ACTIONS = {
    # a multi-line secret in a multi-line message, which the one-line error collapses
    "leak-pem": """
def apply(ctx):
    raise RuntimeError("the key was refused:\\n" + _s(ctx)["pem"] + "\\ntry another")
""",
    # printed, logged collapsed, and raised as a KeyError, whose text is the repr
    "leak-pem-repr": """
def apply(ctx):
    pem = _s(ctx)["pem"]
    print(pem)
    ctx.log.warning("key: %s", " ".join(pem.split()))
    raise KeyError(pem)
""",
    "leak-credential": """
def apply(ctx):
    raise ValueError(_s(ctx)["credential"])
""",
    "leak-spaced": """
def apply(ctx):
    raise RuntimeError(f"token {_s(ctx)['spaced']} was rejected")
""",
    "leak-output": """
def apply(ctx):
    ctx.outputs.set("harmless", {"count": 1})
    ctx.outputs.set("note", {"said": _s(ctx)["quoted"]})
""",
    "leak-url": """
def apply(ctx):
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(403)))
    client.get("http://service.invalid/api", params={"token": _s(ctx)["encoded"]}
               ).raise_for_status()
""",
    "leak-base64": f"""
def apply(ctx):
    raw = _s(ctx)["encoded"].encode()
    basic = base64.b64encode(b"{BASIC_USER}:" + raw).decode()
    raise RuntimeError(
        f"std {{base64.b64encode(raw).decode()}} "
        f"url {{base64.urlsafe_b64encode(raw).decode().rstrip('=')}} "
        f"header Authorization: Basic {{basic}}"
    )
""",
    # writes that go around sys.stdout and Python altogether: only the process's pipes,
    # which the engine masks line by line, see them
    "leak-bypass": """
import logging, os, subprocess, sys
_EARLY = logging.StreamHandler(sys.stderr)  # made at import, holding the stream of then
def apply(ctx):
    s = _s(ctx)["spaced"]
    sys.stdout.buffer.write(("buffer " + s + "\\n").encode())
    sys.stdout.flush()
    print("split", s[:9], end="", flush=True)
    print(s[9:])
    _EARLY.emit(logging.makeLogRecord({"msg": "early " + s}))
    sys.__stderr__.write("dunder " + s + "\\n")
    sys.__stderr__.flush()
    os.write(2, ("fd " + s + "\\n").encode())
    subprocess.run(["echo", "program", s], check=True)
    raise RuntimeError(f"printed {s} every way")
""",
    "leak-json-escaped": """
def apply(ctx):
    print(json.dumps({"quoted": _s(ctx)["quoted"]}))
    raise RuntimeError(json.dumps({"q": _s(ctx)["quoted"], "e": _s(ctx)["encoded"]}))
""",
}


def _leak_needles() -> tuple[str, ...]:
    """Every secret holds `SENTINEL`, which survives URL and JSON encoding; base64 does not,
    so the middle of each base64 form is looked for too."""
    raw = ENCODED.encode()
    forms = [
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(f"{BASIC_USER}:".encode() + raw).decode(),
    ]
    return ("SENTINEL", *(form[4:-4] for form in forms))


@pytest.fixture(scope="module")
def leaks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tree, Seen]:
    root = tmp_path_factory.mktemp("leaks")
    cards: dict[str, dict[str, object]] = {stem: {} for stem in LEAK_ACTIONS}
    cards["leak-goal"] = {"requires": list(LEAK_ACTIONS)}
    actions = {stem: _LEAK_HEAD + body for stem, body in LEAK_ACTIONS.items()}
    tree = make_tree(root, cards, actions, config=LEAK_CONFIG)
    (root / "secrets").mkdir()
    (root / "secrets" / "key.pem").write_text(PEM_FILE)
    (root / "secrets" / "credential.json").write_text(CREDENTIAL_FILE)
    seen = Seen()
    for name, args in (
        ("run", ("--keep-going",)),
        ("run verbose", ("--keep-going", "--verbose")),
        ("run json", ("--keep-going", "--format", "json")),
        ("dry run", ("--dry-run",)),
    ):
        result = tree.mikado("run", "leak-goal", "--yes", *args, env=LEAK_ENV)
        assert result.returncode == (0 if "dry" in name else 1), result.stderr
        seen.process(name, result)
    for goal in ((), ("leak-goal",)):
        for fmt in ("human", "json", "markdown"):
            result = tree.mikado("status", *goal, "--format", fmt, env=LEAK_ENV)
            assert result.returncode == 0, result.stderr
            seen.process(f"status {' '.join(goal)} {fmt}", result)
    for path in root.rglob("*"):
        if path.is_file() and "secrets" not in path.relative_to(root).parts:
            seen.texts[str(path.relative_to(root))] = path.read_text("utf-8", errors="replace")
    return tree, seen


def test_no_transformed_secret_reaches_any_output_or_file(leaks: tuple[Tree, Seen]) -> None:
    tree, seen = leaks
    assert {".mikado/journal.jsonl", ".mikado/outputs.json"} <= set(seen.texts)
    assert seen.leaks(_leak_needles()) == []
    # Every card failed, and said so, masked: the paths above were all taken.
    failures = {f.stem: f.error for f in last_failures(tree.runtime, LEAK_ACTIONS).values()}
    assert set(failures) == set(LEAK_ACTIONS)
    assert "outputs are for non-secret values" in failures.pop("leak-output")
    assert all("***" in error for error in failures.values()), failures
    assert "403" in failures["leak-url"] and "token=***" in failures["leak-url"]
    # Each write around sys.stdout was seen, masked, on the run's output.
    printed = seen.texts["run stdout"] + seen.texts["run stderr"]
    for way in ("buffer", "split", "early", "dunder", "fd", "program"):
        assert f"{way} ***" in printed, way
    # Two actions print: their lines come before the report (actions share stdout).
    report = seen.texts["run json stdout"]
    assert json.loads(report[report.index('{\n  "goal"') :])["exit"] == 1
    assert json.loads(seen.texts[".mikado/outputs.json"]) == {
        "leak-output": {"harmless": {"count": 1}}
    }


SHORT_SECRET_ACTION = """
SETTINGS = ("ci",)
def apply(ctx):
    attempts = int(ctx.settings["ci"]["retries_key"])
    if ctx.stem == "fails":
        raise RuntimeError(f"gave up after {attempts} retries and 10 s")
"""


def test_a_very_short_secret_is_masked_in_values_and_json_output_stays_json(
    tmp_path: Path,
) -> None:
    """A setting resolved from a reference is a secret even when it is `0`: it is masked in
    every value, never in the JSON text around them, where `"exit": 0` would break."""
    tree = make_tree(
        tmp_path,
        {"works": {}, "fails": {}},
        {"works": SHORT_SECRET_ACTION, "fails": SHORT_SECRET_ACTION},
        config='[ci]\nretries_key = "env:RETRIES"\n',
    )
    env = {"RETRIES": "0"}
    works = tree.mikado("run", "works", "--yes", "--format", "json", env=env)
    assert works.returncode == 0, works.stderr
    assert json.loads(works.stdout) == {
        "goal": "works",
        "exit": 0,
        "cards": {"works": "done"},
        "errors": {},
        "discovered": {},
    }
    fails = tree.mikado("run", "fails", "--yes", "--format", "json", env=env)
    assert fails.returncode == 1
    error = json.loads(fails.stdout)["errors"]["fails"]
    assert error.startswith("RuntimeError: gave up after *** retries and 1*** s")
    journal = tree.journal()
    assert journal[-1]["exit"] == 1 and journal[-2]["error"] == error
