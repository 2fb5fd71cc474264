"""Service faults, injected by the emulators: what the shared client retries (and how long it
waits), what it refuses to repeat, and that a run facing a fault it cannot get past fails one
card cleanly, naming the service, and converges when run again.

Retried: 429/503 always (Retry-After honoured), other 5xx and a connection reset or truncated
body only for idempotent methods. Not retried: a read that timed out, and any failure of a
POST (it may have done its work; the action's find-or-create makes the next run converge).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mikado.config import TlsSettings, load_config
from mikado.engine.http import ATTEMPTS, BASE_DELAY, make_client
from mikado.engine.plan import RunOptions, plan_run
from mikado.engine.results import Outcome
from mikado.engine.runner import Runner
from mikado.errors import ServiceError
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.emulators._server import Emulator, Fault
from mikado.services.authentik import AuthentikClient, OAuth2ProviderSpec, RedirectURI
from mikado.services.forgejo import ForgejoClient
from mikado.services.oci import RegistryClient
from tests.chain.conftest import ChainLab

from .zot_lab import (
    CHAIN,
    GOAL,
    TRACEBACK,
    Sentinels,
    explain,
    object_counts,
    run_chain,
    zot_chain,
)

TOKEN = "fault-test-token-0123456789"
SECRET = "fault-test-client-secret-4e1d"


@dataclass
class Waits:
    """A sleep that records what the client asked to wait (and waits only when told to)."""

    real: bool = False
    asked: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self.real:
            time.sleep(seconds)


@dataclass(frozen=True)
class Services:
    authentik: AuthentikEmulator
    forgejo: ForgejoEmulator
    zot: ZotEmulator


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with (
        AuthentikEmulator(token=TOKEN) as authentik,
        ForgejoEmulator(token=TOKEN, repos=["ops/infra"]) as forgejo,
        ZotEmulator() as zot,
    ):
        authentik.add_group("admins")
        yield Services(authentik, forgejo, zot)


@pytest.fixture(autouse=True)
def no_faults_left(services: Services) -> Iterator[None]:
    for emulator in (services.authentik, services.forgejo, services.zot):
        emulator.clear_faults()
        emulator.requests.clear()
    yield
    for emulator in (services.authentik, services.forgejo, services.zot):
        emulator.clear_faults()


# (service name, emulator, path prefix the read uses, the read)
Read = Callable[[httpx.Client, Services], object]


def _authentik_read(http: httpx.Client, s: Services) -> object:
    return AuthentikClient(http, s.authentik.url, TOKEN).group("admins").pk


def _forgejo_read(http: httpx.Client, s: Services) -> object:
    return ForgejoClient(http, s.forgejo.url, TOKEN).list_actions_secrets("ops", "infra")


def _zot_read(http: httpx.Client, s: Services) -> object:
    return RegistryClient(http, s.zot.url).catalog(auth=None)


# How each client names its service in errors: the OCI client serves any registry.
NAMED = {"authentik": "authentik", "forgejo": "forgejo", "zot": "registry"}

READS: dict[str, tuple[str, Read]] = {
    "authentik": ("/api/v3/core/groups/", _authentik_read),
    "forgejo": ("/api/v1/repos/", _forgejo_read),
    "zot": ("/v2/_catalog", _zot_read),
}

ONE_OFF_FAULTS = {
    "500": Fault.error(500),
    "502": Fault.error(502),
    "503": Fault.error(503),
    "reset": Fault.reset(),
    "truncated": Fault.truncated(),
}


def _emulator(services: Services, name: str) -> Emulator:
    found: Emulator = getattr(services, name)
    return found


def _hits(emulator: Emulator, prefix: str) -> int:
    return sum(1 for r in emulator.requests if r.path.startswith(prefix))


@pytest.mark.parametrize("fault", list(ONE_OFF_FAULTS))
@pytest.mark.parametrize("service", list(READS))
def test_a_read_survives_one_fault_with_one_backoff(
    services: Services, service: str, fault: str
) -> None:
    prefix, read = READS[service]
    emulator = _emulator(services, service)
    waits = Waits()
    with make_client(TlsSettings(), sleep=waits) as http:
        expected = read(http, services)
        emulator.requests.clear()
        emulator.inject_fault(ONE_OFF_FAULTS[fault], method="GET", path_prefix=prefix)
        assert read(http, services) == expected
    assert _hits(emulator, prefix) == 2
    assert len(waits.asked) == 1 and BASE_DELAY * 0.5 <= waits.asked[0] <= BASE_DELAY * 1.5


@pytest.mark.parametrize("fault", ["500", "502", "reset", "truncated"])
@pytest.mark.parametrize("service", list(READS))
def test_a_read_that_keeps_failing_gives_up_after_bounded_growing_waits(
    services: Services, service: str, fault: str
) -> None:
    prefix, read = READS[service]
    emulator = _emulator(services, service)
    emulator.inject_fault(ONE_OFF_FAULTS[fault], method="GET", path_prefix=prefix, times=50)
    waits = Waits()
    with make_client(TlsSettings(), sleep=waits) as http, pytest.raises(ServiceError) as raised:
        read(http, services)
    assert _hits(emulator, prefix) == ATTEMPTS
    assert len(waits.asked) == ATTEMPTS - 1
    for attempt, wait in enumerate(waits.asked, start=1):
        nominal = BASE_DELAY * 2 ** (attempt - 1)
        assert nominal * 0.5 <= wait <= nominal * 1.5
    error = raised.value
    assert error.service == NAMED[service]
    assert str(error).startswith(f"{NAMED[service]}: GET ")
    if fault in ("500", "502"):
        assert error.status == int(fault)
    assert TOKEN not in str(error)


def test_retry_after_is_honoured_and_measured(services: Services) -> None:
    prefix, read = READS["forgejo"]
    services.forgejo.inject_fault(
        Fault.rate_limited(retry_after=1), method="GET", path_prefix=prefix, times=2
    )
    waits = Waits(real=True)
    with make_client(TlsSettings(), sleep=waits) as http:
        started = time.monotonic()
        read(http, services)
        elapsed = time.monotonic() - started
    assert waits.asked == [1.0, 1.0]
    assert elapsed >= 2.0  # both waits happened
    assert _hits(services.forgejo, prefix) == 3


def test_a_retry_after_past_the_cap_fails_at_once_naming_the_service(services: Services) -> None:
    prefix, read = READS["authentik"]
    services.authentik.inject_fault(
        Fault.rate_limited(retry_after=3600), method="GET", path_prefix=prefix
    )
    waits = Waits()
    with make_client(TlsSettings(), sleep=waits) as http, pytest.raises(ServiceError) as raised:
        read(http, services)
    assert waits.asked == []
    assert raised.value.service == "authentik" and raised.value.status == 429


def test_a_slow_answer_past_the_timeout_fails_once_naming_the_service(services: Services) -> None:
    prefix, read = READS["zot"]
    services.zot.inject_fault(Fault.slow(2.0), method="GET", path_prefix=prefix, times=5)
    waits = Waits()
    timeout = httpx.Timeout(0.4)
    with (
        make_client(TlsSettings(), sleep=waits, timeout=timeout) as http,
        pytest.raises(ServiceError) as raised,
    ):
        read(http, services)
    # not retried: each repetition would hold the run a whole timeout more
    assert _hits(services.zot, prefix) <= 1 and waits.asked == []
    assert raised.value.service == "registry" and "ReadTimeout" in str(raised.value)


def _spec(client: AuthentikClient) -> OAuth2ProviderSpec:
    mappings = client.scope_mappings(["openid", "email", "profile"])
    return OAuth2ProviderSpec(
        name="zot",
        client_id="zot",
        client_secret=SECRET,
        redirect_uris=(RedirectURI("https://registry.example.test/zot/auth/callback/oidc"),),
        authorization_flow=client.flow("default-provider-authorization-implicit-consent").pk,
        invalidation_flow=client.flow("default-provider-invalidation-flow").pk,
        signing_key=client.signing_key("authentik Self-signed Certificate").pk,
        property_mappings=tuple(mapping.pk for mapping in mappings.values()),
    )


@pytest.mark.parametrize(
    "fault", [Fault.error(502, processed=True), Fault.reset(processed=True)], ids=["502", "reset"]
)
def test_a_post_whose_answer_is_lost_is_not_repeated_and_the_next_ensure_converges(
    fault: Fault,
) -> None:
    with (
        AuthentikEmulator(token=TOKEN) as authentik,
        make_client(TlsSettings(), sleep=Waits()) as http,
    ):
        client = AuthentikClient(http, authentik.url, TOKEN)
        spec = _spec(client)
        authentik.inject_fault(fault, method="POST", path_prefix="/api/v3/providers/oauth2/")
        with pytest.raises(ServiceError) as raised:
            client.ensure_oauth2_provider(spec)
        assert raised.value.service == "authentik" and SECRET not in str(raised.value)
        posts = [r for r in authentik.requests if r.method == "POST"]
        assert len(posts) == 1, "a POST whose answer was lost must not be sent again"
        assert len(authentik.stored("providers")) == 1  # the work was done
        # The next ensure finds the provider; it may PATCH what the lost answer kept it from
        # sending (grant_types on 2026.x), and then nothing is left to change.
        provider, _ = client.ensure_oauth2_provider(spec)
        assert provider.client_id == "zot"
        assert client.ensure_oauth2_provider(spec)[1] is False
        assert len(authentik.stored("providers")) == 1
        assert [r for r in authentik.requests if r.method == "POST"] == posts


@pytest.mark.parametrize(
    "fault", [Fault.error(502, processed=True), Fault.reset(processed=True)], ids=["502", "reset"]
)
def test_a_put_whose_answer_is_lost_is_repeated_and_stores_one_secret(
    services: Services, fault: Fault
) -> None:
    services.forgejo.inject_fault(fault, method="PUT", path_prefix="/api/v1/repos/")
    with make_client(TlsSettings(), sleep=Waits()) as http:
        client = ForgejoClient(http, services.forgejo.url, TOKEN)
        client.set_actions_secret("ops", "infra", "FAULT_KEY", "value-of-the-fault-key")
    puts = [r for r in services.forgejo.requests if r.method == "PUT"]
    assert len(puts) == 2
    assert services.forgejo.secret_names(repo="ops/infra").count("FAULT_KEY") == 1
    assert services.forgejo.secret_value("FAULT_KEY", repo="ops/infra") == "value-of-the-fault-key"


# the chain: a fault it cannot get past fails one card cleanly; the next run converges ----------


@dataclass(frozen=True)
class ChainFault:
    service: str  # the emulator
    fault: Fault
    method: str
    path_prefix: str
    card: str
    times: int = 50
    named: str | None = None  # how the error names the service, when not NAMED[service]


CHAIN_FAULTS = {
    # the provider is created, then the answer is lost: the re-run must find it, not add one
    "authentik-post-502": ChainFault(
        "authentik",
        Fault.error(502, processed=True),
        "POST",
        "/api/v3/providers/oauth2/",
        "register-zot-oidc-client",
        times=1,
    ),
    "forgejo-put-reset": ChainFault(
        "forgejo", Fault.reset(), "PUT", "/api/v1/repos/", "wire-ci-registry-auth"
    ),
    "zot-get-truncated": ChainFault(
        # the goal's own read of zot's metrics (the catalog is read by earlier cards too)
        "zot",
        Fault.truncated(),
        "GET",
        "/metrics",
        "harden-zot-registry",
        named="zot",
    ),
}


def _journal_error(lab: ChainLab, stem: str) -> str:
    ends = [r for r in lab.tree.journal() if r["event"] == "card-end" and r["stem"] == stem]
    return str(ends[-1].get("error", ""))


@pytest.mark.parametrize("name", list(CHAIN_FAULTS))
def test_a_fault_fails_one_card_naming_the_service_and_a_rerun_converges(
    tmp_path: Path, name: str
) -> None:
    case = CHAIN_FAULTS[name]
    with zot_chain(tmp_path) as lab:
        emulator = getattr(lab, case.service)
        emulator.inject_fault(
            case.fault, method=case.method, path_prefix=case.path_prefix, times=case.times
        )
        failed = run_chain(lab, "--keep-going")
        assert failed.returncode == 1, explain(failed)
        assert lab.tree.status(case.card) == "failed"
        named = case.named or NAMED[case.service]
        message = f"mikado: {case.card} failed: {named}: {case.method} "
        assert message in failed.stderr, explain(failed)
        assert not TRACEBACK.search(failed.stderr + failed.stdout), explain(failed)
        assert _journal_error(lab, case.card).startswith(f"{named}: {case.method} ")
        status = lab.tree.mikado("status", GOAL, "--format", "json")
        (chain,) = json.loads(status.stdout)["chains"]
        (card,) = [c for c in chain["cards"] if c["stem"] == case.card]
        assert card["state"] == "failed" and named in card["error"]

        emulator.clear_faults()
        again = run_chain(lab)
        assert again.returncode == 0, explain(again)
        assert all(lab.tree.status(stem) is None for stem in CHAIN)
        counts = object_counts(lab)
        assert counts == dict.fromkeys(counts, 1)


def test_a_slow_service_past_the_http_timeout_fails_its_card_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, so the run's client can have a timeout short enough for a test."""
    with zot_chain(tmp_path, Sentinels()) as lab:
        for variable, value in lab.env.items():
            monkeypatch.setenv(variable, value)
        lab.authentik.inject_fault(Fault.slow(3.0), method="GET", path_prefix="/api/v3/", times=99)
        config = load_config(cwd=lab.tree.root)
        options = RunOptions(keep_going=True)
        prepared = plan_run(config, GOAL, options)
        result = Runner(prepared, options=options, http_timeout=0.5).run()
        lab.authentik.clear_faults()
        stem = "register-zot-oidc-client"
        assert result.outcomes[stem] is Outcome.FAILED
        assert result.errors[stem].startswith("authentik: GET ")
        assert "ReadTimeout" in result.errors[stem]
        assert lab.tree.status(stem) == "failed"


def test_a_card_timing_out_on_a_slow_service_says_which_request_it_waited_for(
    tmp_path: Path,
) -> None:
    """The card's own timeout (here shorter than the HTTP timeout) ends the wait: the error
    names the service and the request still in flight."""
    with zot_chain(tmp_path, timeout=2) as lab:
        lab.authentik.inject_fault(Fault.slow(8.0), method="GET", path_prefix="/api/v3/", times=99)
        failed = run_chain(lab, "--keep-going")
        lab.authentik.clear_faults()
        assert failed.returncode == 1, explain(failed)
        line = next(x for x in failed.stderr.splitlines() if "register-zot-oidc-client" in x)
        assert "timed out after 2 s" in line
        assert "waiting for authentik: GET http://127.0.0.1:" in line, line
        assert not TRACEBACK.search(failed.stderr), explain(failed)
