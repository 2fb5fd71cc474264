"""zot's config loader: unknown keys are fatal, the parts that matter are interpreted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mikado.lab.emulators.zot_config import SCHEMA, ConfigRefused, load_zot_config, unknown_keys

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


def write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_a_plain_registry_config_loads_with_everything_open(tmp_path: Path) -> None:
    config = load_zot_config(write(tmp_path, BEFORE))
    assert config.access_control is None
    assert not config.basic_auth
    assert config.metrics_path == "/metrics"


def test_keys_match_case_insensitively_like_viper(tmp_path: Path) -> None:
    config = load_zot_config(
        write(
            tmp_path,
            {"HTTP": {"AccessControl": {"Repositories": {"**": {"AnonymousPolicy": ["read"]}}}}},
        )
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
    ],
)
def test_unknown_keys_are_fatal_and_named(
    tmp_path: Path, config: dict[str, Any], where: str
) -> None:
    assert any(where in problem for problem in unknown_keys(config, SCHEMA))
    with pytest.raises(ConfigRefused, match="unknown key"):
        load_zot_config(write(tmp_path, config))


def test_unsupported_openid_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigRefused, match="unsupported openid provider"):
        load_zot_config(
            write(tmp_path, {"http": {"auth": {"openid": {"providers": {"authentik": {}}}}}})
        )


def test_openid_forces_api_keys_and_compat_enables_docker_types(tmp_path: Path) -> None:
    config = load_zot_config(
        write(
            tmp_path,
            {
                "http": {
                    "auth": {"openid": {"providers": {"github": {"clientid": "x"}}}},
                    "compat": ["docker2s2"],
                }
            },
        )
    )
    assert config.api_keys and config.basic_auth and config.docker_media_types


def test_not_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(ConfigRefused, match="cannot read"):
        load_zot_config(path)
