"""ZotRelease: reading zot's release tag, refusing releases the chain cannot use, and what each
release can do (/work/research/zot.md §2.3, §9)."""

from __future__ import annotations

import pytest

from mikado.errors import ConfigError, ExitCode
from mikado.services.zot_release import MINIMUM, ZotRelease


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("2.1.17", (2, 1, 17)),
        ("v2.1.17", (2, 1, 17)),  # zot's releaseTag
        (" v2.1.20\n", (2, 1, 20)),
        ("v2.1.17-rc1", (2, 1, 17)),
        ("2.1.18-rc3-5-gdeadbee", (2, 1, 18)),
        ("2.1.6+build.7", (2, 1, 6)),
        ("v10.20.30", (10, 20, 30)),
    ],
)
def test_parse_reads_the_release_and_drops_prefix_and_suffix(
    text: str, version: tuple[int, int, int]
) -> None:
    release = ZotRelease.parse(text)
    assert release.version == version
    assert str(release) == ".".join(map(str, version))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v",
        "latest",
        "2.1",
        "2.1.",
        "2..17",
        "2.1.17.1",
        "2.x.17",
        "-2.1.17",
        "vv2.1.17",
        "2.1.¹",  # str.isdigit() is True for it, int() is not
        "2.1.\uff11\uff17",  # full-width digits are no release tag either
    ],
)
def test_parse_refuses_garbage_with_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ZotRelease.parse(text)
    assert caught.value.message.endswith("is not a zot release such as 2.1.20")
    assert caught.value.exit_code == ExitCode.USAGE
    assert repr(text) in caught.value.message


def test_parse_error_names_where_the_text_came_from() -> None:
    with pytest.raises(ConfigError) as caught:
        ZotRelease.parse("next", where="[zot] version")
    assert caught.value.message == "[zot] version: 'next' is not a zot release such as 2.1.20"


def test_releases_order_by_number_not_by_text() -> None:
    assert ZotRelease.parse("2.1.9") < ZotRelease.parse("2.1.10") < ZotRelease.parse("2.2.0")
    assert ZotRelease.parse("v2.1.17") == ZotRelease.parse("2.1.17-rc2")
    assert max(map(ZotRelease.parse, ["2.1.20", "2.1.6", "2.1.17"])) == ZotRelease.parse("2.1.20")


@pytest.mark.parametrize("text", ["2.1.6", "v2.1.6-rc1", "2.1.10", "2.1.20", "2.2.0", "3.0.0"])
def test_require_supported_accepts_2_1_6_and_later(text: str) -> None:
    ZotRelease.parse(text).require_supported()


@pytest.mark.parametrize("text", ["2.1.5", "v2.1.0", "2.0.99", "1.4.3", "0.0.0"])
def test_require_supported_refuses_older_releases_clearly(text: str) -> None:
    release = ZotRelease.parse(text)
    with pytest.raises(ConfigError) as caught:
        release.require_supported()
    message = caught.value.message
    assert message.startswith(f"zot {release} cannot take part")
    assert "credentialsFile" in message
    assert "upgrade zot to 2.1.6 or later" in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_the_minimum_is_2_1_6() -> None:
    assert MINIMUM == (2, 1, 6)


@pytest.mark.parametrize(
    ("text", "claim_mapping", "anonymous_policy", "latest_needs_update", "digest_moves_tags"),
    [
        ("2.1.6", False, False, False, False),
        ("2.1.10", False, False, False, False),
        ("2.1.11", True, False, False, False),
        ("2.1.14", True, False, False, False),
        ("2.1.15", True, False, True, False),
        ("2.1.16", True, False, True, True),
        ("2.1.17", True, False, True, True),
        ("2.1.18", True, True, True, True),
        ("2.1.19", True, True, True, False),
        ("2.1.20", True, True, True, False),
    ],
)
def test_capabilities_switch_at_the_release_that_brought_them(
    text: str,
    claim_mapping: bool,
    anonymous_policy: bool,
    latest_needs_update: bool,
    digest_moves_tags: bool,
) -> None:
    release = ZotRelease.parse(text)
    assert release.claim_mapping is claim_mapping
    assert release.metrics_anonymous_policy is anonymous_policy
    assert release.latest_needs_update is latest_needs_update
    assert release.digest_push_moves_tags is digest_moves_tags
