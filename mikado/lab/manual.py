"""The manual step of the zot chain, done by the lab as an operator would do it by hand
(the card mint-zot-ci-api-key): log in to zot as the CI service account through Authentik's
login page, and create an API key in zot with that session.

Each step is a real HTTP request to the emulators, the way a browser and then ``curl`` would
make it, and each is told as it happens. A refusal names the step: Authentik refusing the CI
account (its group not bound to the application), zot without its OIDC login (not restarted),
the callback failing (zot's client secret not the one Authentik holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urljoin

import httpx

from mikado.lab import LabError
from mikado.lab.services import Lab

MINT_CARD = "mint-zot-ci-api-key"
KEY_LABEL = "forgejo-ci"


def _follow(browser: httpx.Client, response: httpx.Response, step: str) -> str:
    if response.status_code != 302 or "location" not in response.headers:
        text = " ".join(response.text.split())[:200]
        raise LabError(f"{step}: expected a redirect, got {response.status_code} {text}".rstrip())
    return urljoin(str(response.request.url), response.headers["location"])


def mint_api_key(
    zot: str, username: str, password: str, say: Callable[[str], None] = lambda line: None
) -> str:
    """Log in to the zot at ``zot`` as ``username`` through its OIDC login (the issuer's login
    form taking ``password``) and create an API key with that session; returns the key."""
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        say(f"  1. open {zot}/zot/auth/login?provider=oidc as {username}")
        login = browser.get(f"{zot}/zot/auth/login?provider=oidc")
        if login.status_code == 404:
            raise LabError("zot serves no OIDC login: it was not restarted with OpenID")
        authorize = _follow(browser, login, "zot's OIDC login")
        flow = _follow(browser, browser.get(authorize), "Authentik's authorization")
        say(f"  2. log in at Authentik's login page as {username} (password not shown)")
        posted = browser.post(flow, data={"username": username, "password": password})
        back = _follow(browser, posted, f"Authentik's login of {username}")
        granted = browser.get(back)
        if granted.status_code == 403:
            raise LabError(
                f"Authentik refuses {username} for the zot application: "
                f"{' '.join(granted.text.split())[:160]} (is its group bound to the application?)"
            )
        callback = _follow(browser, granted, "Authentik's authorization")
        session = browser.get(callback)
        if session.status_code != 201:
            raise LabError(
                f"zot's OIDC callback answered {session.status_code}: the code exchange or "
                "UserInfo failed (does zot's credentials file hold the secret Authentik has?)"
            )
        say(f"  3. zot logged {username} in; create an API key labelled {KEY_LABEL}")
        created = browser.post(
            f"{zot}/zot/auth/apikey",
            json={"label": KEY_LABEL, "scopes": []},
            headers={"X-ZOT-API-CLIENT": "zot-ui"},
        )
        if created.status_code != 201:
            raise LabError(f"zot refused to create the API key: {created.status_code}")
        return str(created.json()["apiKey"])


def mint_ci_api_key(lab: Lab, say: Callable[[str], None]) -> str:
    """The CI account's key, minted as above and recorded in the lab's state."""
    key = mint_api_key(lab.zot.url, lab.chain.ci_identity, lab.secrets.ci_password, say)
    state = lab.workspace.read_state()
    assert state is not None
    lab.workspace.write_state(replace(state, secrets=replace(state.secrets, ci_api_key=key)))
    say(
        "  4. keep the key (not shown) where [ci_credentials] api_key reads it: "
        f"{lab.workspace.state_file}, exported as ZOT_CI_API_KEY for the run"
    )
    return key
