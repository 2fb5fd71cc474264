"""zot's config loader, per release: unknown keys are fatal (and which keys are known depends on
the release), the OpenID credentials file is read strictly, the parts that matter are
interpreted, and nothing here contacts the issuer (``zot verify`` does not either)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mikado.lab.emulators.releases import RELEASES, version_tuple
from mikado.lab.emulators.zot_config import SCHEMA, ConfigRefused, load_zot_config, unknown_keys

ZOT_RELEASES = RELEASES["zot"]
OIDC = ("http", "auth", "openid", "providers", "oidc")

BEFORE: dict[str, Any] = {
    "distSpecVersion": "1.1.0",
    "storage": {"rootDirectory": "/var/lib/zot", "gc": True, "gcDelay": "1h", "gcInterval": "24h"},
    "http": {"address": "0.0.0.0", "port": "5000"},
    "log": {"level": "info"},
    "extensions": {
        "metrics": {"enable": True, "prometheus": {"path": "/metrics"}},
        "sync": {
            "enable": True,
            "registries": [
                {
                    "urls": ["https://docker.io"],
                    "content": [{"prefix": "**", "destination": "/docker.io"}],
                    "onDemand": True,
                    "tlsVerify": True,
                }
            ],
        },
        "search": {"enable": True, "cve": {"updateInterval": "24h"}},
        "ui": {"enable": True},
    },
}

# A configuration every release accepts; the key table below adds one key at a time.
BASE: dict[str, Any] = {
    "storage": {
        "rootDirectory": "/var/lib/zot",
        "retention": {"policies": [{"repositories": ["**"], "deleteUntagged": True}]},
    },
    "http": {
        "address": "127.0.0.1",
        "port": "5000",
        "auth": {
            "openid": {
                "providers": {
                    "oidc": {
                        "clientid": "zot",
                        "clientsecret": "s",
                        "issuer": "https://idp.invalid/application/o/zot/",
                        "scopes": ["openid", "email"],
                    }
                }
            },
            "bearer": {"realm": "r", "service": "s"},
        },
        "accessControl": {
            "repositories": {"**": {"policies": [{"users": ["a"], "actions": ["read"]}]}},
            "adminPolicy": {"users": ["root"], "actions": ["read"]},
            "metrics": {"users": ["root"]},
        },
    },
    "extensions": {"sync": {"enable": False, "registries": [{"urls": ["https://r.invalid"]}]}},
}

ALWAYS = "2.0.0"  # known in every release here, added before the releases the notes read
# (where the key goes, its value, the first release that knows it); pkg/api/config/config.go,
# pkg/extensions/config/**/config.go at each tag
KEY_TABLE: list[tuple[tuple[str | int, ...], Any, str]] = [
    ((*OIDC, "credentialsFile"), None, "2.1.6"),  # set to a real file by the test
    (("http", "auth", "sessionDriver"), {"name": "local"}, "2.1.9"),
    (("http", "auth", "sessionHashKey"), "x", ALWAYS),
    (("extensions", "apikey"), {"enable": True}, ALWAYS),  # deprecated, still a key
    ((*OIDC, "claimMapping", "username"), "preferred_username", "2.1.11"),
    ((*OIDC, "authurl"), "https://idp.invalid/auth", "2.1.11"),
    (("http", "auth", "secureSession"), True, "2.1.11"),
    (("storage", "gcMaxSchedulerDelay"), "1m", "2.1.11"),
    (("extensions", "sync", "registries", 0, "syncTimeout"), "1m", "2.1.11"),
    (("http", "auth", "mtls"), {"identityAttributes": ["CommonName"]}, "2.1.12"),
    (("http", "auth", "bearer", "oidc"), [{"issuer": "https://k8s", "audiences": ["z"]}], "2.1.14"),
    (("http", "auth", "openid", "callbackAllowOrigins"), ["https://ui.lab"], "2.1.15"),
    (("http", "auth", "bearer", "awsSecretsManager"), {"region": "eu"}, "2.1.15"),
    (("extensions", "sync", "registries", 0, "syncLegacyCosignTags"), False, "2.1.15"),
    (("storage", "maxRepos"), 10, "2.1.16"),
    ((*OIDC, "claimMapping", "groups"), "roles", "2.1.17"),
    (
        ("http", "accessControl", "repositories", "**", "policies", 0, "conditions"),
        [{"expression": "true", "message": "no"}],
        "2.1.17",
    ),
    (("http", "accessControl", "adminPolicy", "conditions"), [{"expression": "true"}], "2.1.17"),
    (("http", "readTimeout"), "30s", "2.1.17"),
    (("http", "writeTimeout"), "30s", "2.1.17"),
    (("http", "accessControl", "metrics", "anonymousPolicy"), ["read"], "2.1.18"),
    (("storage", "redirectBlobURL"), True, "2.1.18"),
    (("storage", "fastRestart"), True, "2.1.18"),
    (("storage", "gcTimeWindow"), "01:00-05:00", "2.1.19"),
    (("storage", "retention", "policies", 0, "keepUntagged"), {"pushedWithin": "24h"}, "2.1.19"),
    (("http", "auth", "bearer", "upstreamTokenEndpoint"), {"realm": "r"}, "2.1.19"),
    (("extensions", "sync", "registries", 0, "maxRetryDelay"), "1m", "2.1.19"),
]


def write(tmp_path: Path, config: dict[str, Any], name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def with_key(where: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    node: Any = config
    for step in where[:-1]:
        node = node[step] if isinstance(step, int) else node.setdefault(step, {})
    node[where[-1]] = value
    return config


def dotted(where: tuple[str | int, ...]) -> str:
    text = ""
    for step in where:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


@pytest.mark.parametrize("release", ZOT_RELEASES)
@pytest.mark.parametrize(
    ("where", "value", "since"),
    KEY_TABLE,
    ids=[dotted(where) for where, _, _ in KEY_TABLE],
)
def test_each_key_is_accepted_from_its_release_and_refused_before(
    tmp_path: Path, release: str, where: tuple[str | int, ...], value: Any, since: str
) -> None:
    if value is None:  # the credentials file must exist and be right to be accepted
        value = str(write(tmp_path, {"clientid": "zot", "clientsecret": "s"}, "oidc.json"))
    path = write(tmp_path, with_key(where, value))
    if version_tuple(release) >= version_tuple(since):
        load_zot_config(path, release)
        return
    with pytest.raises(ConfigRefused, match="failed to load config due to unknown keys") as refused:
        load_zot_config(path, release)
    # the one problem names the key (or, for a sub-key of a newer key, that newer key)
    message = str(refused.value)
    assert message.count("unknown key '") == 1, message
    named = message.split("unknown key '", 1)[1].split("'", 1)[0]
    assert dotted(where) == named or dotted(where).startswith(named + "."), message


@pytest.mark.parametrize(
    ("where", "value", "since"), KEY_TABLE, ids=[dotted(where) for where, _, _ in KEY_TABLE]
)
def test_each_key_appears_exactly_at_its_release(
    where: tuple[str | int, ...], value: Any, since: str
) -> None:
    # the boundary itself, also for releases between the imitated ones
    config = with_key(where, "credentials.json" if value is None else value)
    major, minor, patch = version_tuple(since)
    assert unknown_keys(config, SCHEMA, (major, minor, patch)) == []
    if since == ALWAYS:
        return
    before = unknown_keys(config, SCHEMA, (major, minor, patch - 1))
    assert len(before) == 1 and dotted(where).startswith(before[0].split("'")[1]), before


def test_the_base_of_the_key_table_is_valid_in_every_release(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    for release in ZOT_RELEASES:
        config = load_zot_config(path, release)
        assert config.openid is not None and config.openid.client_secret == "s"


def test_a_plain_registry_config_loads_with_everything_open(tmp_path: Path) -> None:
    config = load_zot_config(write(tmp_path, BEFORE))
    assert config.access_control is None
    assert not config.basic_auth and not config.api_keys and config.openid is None
    assert config.metrics_path == "/metrics"
    assert config.search


def test_keys_match_case_insensitively_like_viper(tmp_path: Path) -> None:
    config = load_zot_config(
        write(
            tmp_path,
            {"HTTP": {"AccessControl": {"Repositories": {"**": {"AnonymousPolicy": ["read"]}}}}},
        ),
        "2.1.10",
    )
    assert config.access_control is not None
    assert config.access_control.anonymous_policy_exists()


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"http": {"adress": "x"}}, "http.adress"),
        (
            {"http": {"accessControl": {"repositories": {"**": {"anonymous": ["read"]}}}}},
            "http.accessControl.repositories.**.anonymous",
        ),
        (
            {"extensions": {"sync": {"registries": [{"url": "x"}]}}},
            "extensions.sync.registries[0].url",
        ),
        (
            {"http": {"auth": {"openid": {"providers": {"oidc": {"clientSecretFile": "x"}}}}}},
            "clientSecretFile",
        ),
        # the UI's user preferences follow search + ui; no release has a key for them
        ({"extensions": {"userprefs": {"enable": True}}}, "extensions.userprefs"),
        # callbackAllowOrigins sits on openid, never on a provider
        (
            {"http": {"auth": {"openid": {"providers": {"oidc": {"callbackAllowOrigins": []}}}}}},
            "oidc.callbackAllowOrigins",
        ),
    ],
)
@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_unknown_keys_are_fatal_and_named(
    tmp_path: Path, release: str, config: dict[str, Any], where: str
) -> None:
    assert any(where in problem for problem in unknown_keys(config, SCHEMA, version_tuple(release)))
    with pytest.raises(ConfigRefused, match="unknown key"):
        load_zot_config(write(tmp_path, config), release)


def test_an_empty_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigRefused, match="absence of any key:value pair"):
        load_zot_config(write(tmp_path, {}))


def test_unsupported_openid_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigRefused, match="unsupported openid/oauth2 provider 'authentik'"):
        load_zot_config(
            write(tmp_path, {"http": {"auth": {"openid": {"providers": {"authentik": {}}}}}})
        )


@pytest.mark.parametrize("missing", ["clientid", "issuer", "scopes"])
def test_the_oidc_provider_needs_client_id_issuer_and_scopes(tmp_path: Path, missing: str) -> None:
    config = copy.deepcopy(BASE)
    del config["http"]["auth"]["openid"]["providers"]["oidc"][missing]
    with pytest.raises(ConfigRefused, match="needs clientid, issuer and scopes"):
        load_zot_config(write(tmp_path, config))


def test_openid_forces_api_keys_and_openid_scope(tmp_path: Path) -> None:
    config = copy.deepcopy(BASE)
    config["http"]["auth"]["apikey"] = False
    config["http"]["auth"]["openid"]["providers"]["oidc"]["scopes"] = ["email"]
    loaded = load_zot_config(write(tmp_path, config))
    assert loaded.api_keys and loaded.basic_auth
    assert loaded.openid is not None and loaded.openid.scopes == ("openid", "email")


def test_compat_enables_docker_media_types(tmp_path: Path) -> None:
    loaded = load_zot_config(write(tmp_path, {"http": {"compat": ["docker2s2"]}}))
    assert loaded.docker_media_types and not loaded.basic_auth


def test_the_issuer_is_not_contacted_while_loading(tmp_path: Path) -> None:
    # "https://idp.invalid/" cannot resolve; zot verify (= loading) still passes
    loaded = load_zot_config(write(tmp_path, BASE))
    assert loaded.openid_issuer == "https://idp.invalid/application/o/zot/"


def test_not_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(ConfigRefused, match="cannot read"):
        load_zot_config(path)


# the OpenID credentials file (readSecretFile) -------------------------------------------------


def config_with_credentials(tmp_path: Path, name: str, text: str) -> Path:
    credentials = tmp_path / name
    credentials.write_text(text)
    config = copy.deepcopy(BASE)
    config["http"]["auth"]["openid"]["providers"]["oidc"]["credentialsFile"] = str(credentials)
    return write(tmp_path, config)


@pytest.mark.parametrize(
    ("name", "text", "client_id", "client_secret"),
    [
        ("oidc.json", '{"clientid": "from-file", "clientsecret": "t"}', "from-file", "t"),
        ("oidc.yaml", "clientid: from-file\nclientsecret: t\n", "from-file", "t"),
        ("oidc.yml", "clientid: from-file\nclientsecret: t\n", "from-file", "t"),
        ("oidc.json", '{"ClientID": "from-file", "ClientSecret": "t"}', "from-file", "t"),
        # a key present with an empty value counts as set; the secret is never required
        ("oidc.json", '{"clientid": "from-file", "clientsecret": ""}', "from-file", ""),
    ],
)
@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_the_credentials_file_replaces_the_inline_client(
    tmp_path: Path, release: str, name: str, text: str, client_id: str, client_secret: str
) -> None:
    loaded = load_zot_config(config_with_credentials(tmp_path, name, text), release)
    assert loaded.openid is not None
    assert (loaded.openid.client_id, loaded.openid.client_secret) == (client_id, client_secret)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("oidc.json", '{"clientid": "zot"}', r"unset keys \['clientsecret'\]"),
        ("oidc.json", '{"clientsecret": "s"}', r"unset keys \['clientid'\]"),
        (
            "oidc.json",
            '{"clientid": "zot", "clientsecret": "s", "issuer": "x"}',
            r"unknown keys \['issuer'\]",
        ),
        ("oidc.json", "{}", "absence of any key:value pair"),
        ("oidc", '{"clientid": "zot", "clientsecret": "s"}', "Unsupported Config Type"),
        ("oidc.txt", '{"clientid": "zot", "clientsecret": "s"}', "Unsupported Config Type"),
        ("oidc.json", "clientid: zot", "cannot read"),
    ],
)
@pytest.mark.parametrize("release", ZOT_RELEASES)
def test_the_credentials_file_is_strict(
    tmp_path: Path, release: str, name: str, text: str, message: str
) -> None:
    with pytest.raises(ConfigRefused, match=message):
        load_zot_config(config_with_credentials(tmp_path, name, text), release)


def test_a_missing_credentials_file_is_refused(tmp_path: Path) -> None:
    config = copy.deepcopy(BASE)
    config["http"]["auth"]["openid"]["providers"]["oidc"]["credentialsFile"] = str(
        tmp_path / "absent.json"
    )
    with pytest.raises(ConfigRefused, match="cannot read openid credentialsFile"):
        load_zot_config(write(tmp_path, config))
