"""Ansible variable files: resolved lazily as Ansible resolves them, and edited as text so every
untouched line stays byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mikado.edit.ansible_vars import (
    Unsafe,
    Variables,
    append_list_item,
    load_vars,
    parse_var_file,
    read_var_file,
    set_scalar,
)
from mikado.errors import ConfigError

# Our own role defaults of the shape the operator keeps: `---`, flat scalars (one quoted and
# built from another variable), a comment introducing a block list of mappings.
DEFAULTS = """\
---
oci_home: /srv/oci
oci_binary: "{{ oci_home }}/bin/oci-registry"
oci_data_dir: /srv/oci/data
oci_port: 5151   # behind the proxy
oci_log_dir: /var/log/oci

# Upstreams mirrored on demand
oci_mirrors:
  - alias: hub
    endpoint: https://mirror-a.example.test
  - alias: gh
    endpoint: https://mirror-b.example.test
"""

# A secrets role's defaults: a comment header, two scalars, and repositories each with a list
# of {name, value_var} secrets.
SECRETS = """\
---
# Pipeline secrets pushed to the forge
#
# Synced by the forge_secrets role.

forge_secrets_api: "https://git.example.test/api/v1"
forge_secrets_owner: builder

# Per repository: {repo: name, secrets: [{name: SECRET, value_var: fact}]}
forge_secrets_repos:
  - repo: platform
    secrets:
      - name: DEPLOY_TOKEN
        value_var: forge_secret_deploy_token
      - name: CACHE_KEY
        value_var: forge_secret_cache_key
  - repo: website
    secrets:
      - name: PAGES_TOKEN
        value_var: forge_pages_token
"""

PLATFORM_SECRETS = ("forge_secrets_repos", ("repo", "platform"), "secrets")
NEW_SECRET = {"name": "REGISTRY_API_KEY", "value_var": "forge_secret_registry_api_key"}


# -- reading and resolving ------------------------------------------------------------------------


def test_later_files_override_earlier_ones_and_templates_resolve(tmp_path: Path) -> None:
    defaults = tmp_path / "defaults.yml"
    defaults.write_text(DEFAULTS)
    group = tmp_path / "group_vars.yml"
    group.write_text(
        "oci_home: /opt/oci\n"
        "oci_urls:\n"
        '  - "http://{{ oci_host }}:{{ oci_port }}"\n'
        '  - {port: "{{ oci_port }}", flag: yes}\n'
    )

    resolved = load_vars(defaults, group, extra={"oci_host": "reg.example.test"})

    assert resolved["oci_binary"] == "/opt/oci/bin/oci-registry"
    assert resolved["oci_urls"] == [
        "http://reg.example.test:5151",
        # A template that is one expression keeps its value's type, as in Ansible.
        {"port": 5151, "flag": True},
    ]
    mirrors = resolved["oci_mirrors"]
    assert isinstance(mirrors, list)
    assert mirrors[1] == {
        "alias": "gh",
        "endpoint": "https://mirror-b.example.test",
    }


def test_a_variable_is_resolved_only_when_asked_for() -> None:
    text = "a: '{{ missing }}'\nb: '{{ c }}-x'\nc: 1\nd: '5050'\ne: '{{ d }}'\n"
    variables = Variables([parse_var_file(text, path="vars.yml")])

    assert variables["b"] == "1-x"
    assert variables["e"] == "5050"  # a string stays a string (Jinja's native mode would not)
    assert variables.raw("a") == "{{ missing }}"
    assert variables.source("c") == ("vars.yml", 3)
    assert "a" in variables  # asking whether it exists resolves nothing
    with pytest.raises(ConfigError):
        variables["a"]


def test_an_undefined_variable_names_the_variable_and_its_file() -> None:
    files = [
        parse_var_file("oci_home: /srv\n", path="roles/oci/defaults/main.yml"),
        parse_var_file(
            "oci_extra: 1\noci_binary: '{{ oci_hoem }}/bin'\n", path="group_vars/all.yml"
        ),
    ]

    with pytest.raises(ConfigError) as raised:
        Variables(files)["oci_binary"]

    assert (raised.value.path, raised.value.line) == ("group_vars/all.yml", 2)
    assert raised.value.message == "variable `oci_binary` uses an undefined variable `oci_hoem`"


def test_a_cycle_is_named_with_its_path() -> None:
    variables = Variables(
        [parse_var_file("a: '{{ b }}/x'\nb: ['{{ c }}']\nc: '{{ a }}'\n", path="v.yml")]
    )

    with pytest.raises(ConfigError) as raised:
        variables.resolve_all()

    assert (raised.value.path, raised.value.line) == ("v.yml", 1)
    assert raised.value.message == "variable `a` refers to itself: a → b → c → a"


def test_an_unknown_filter_in_a_variable_is_refused_by_name() -> None:
    variables = Variables([parse_var_file("x: 1\ny: \"{{ x | ipaddr('net') }}\"\n", path="v.yml")])

    with pytest.raises(ConfigError) as raised:
        variables["y"]

    assert (raised.value.path, raised.value.line) == ("v.yml", 2)
    assert raised.value.message.startswith(
        "variable `y` uses the filter `ipaddr`, which mikado cannot render"
    )


def test_unsafe_values_stay_unrendered_and_vaulted_ones_are_refused_when_read() -> None:
    variables = Variables(
        [
            parse_var_file(
                "raw: !unsafe '{{ not_a_template }}'\n"
                "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n"
                "plain: ok\n",
                path="v.yml",
            )
        ]
    )

    assert variables["raw"] == "{{ not_a_template }}"
    assert isinstance(variables["raw"], Unsafe)
    assert variables["plain"] == "ok"
    with pytest.raises(ConfigError, match="variable `secret` is vault-encrypted"):
        variables["secret"]


def test_a_file_that_is_not_a_mapping_or_not_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_var_file("- a\n- b\n", path="v.yml")
    assert raised.value.message == "a variables file must be a mapping of names"

    with pytest.raises(ConfigError) as raised:
        parse_var_file("a: 1\nb: [2\n", path="v.yml")
    assert raised.value.path == "v.yml" and raised.value.message.startswith("not YAML")

    with pytest.raises(ConfigError) as raised:
        read_var_file(tmp_path / "absent.yml")
    assert raised.value.message.startswith("cannot read")


# -- set_scalar -----------------------------------------------------------------------------------


def test_new_variables_go_after_the_first_run_of_scalar_lines() -> None:
    new = set_scalar(DEFAULTS, "oci_external_url", "https://oci.example.test", path="d.yml")
    new = set_scalar(new, "oci_oidc_issuer", "https://id.example.test/app/o/oci/", path="d.yml")

    assert new == DEFAULTS.replace(
        "oci_log_dir: /var/log/oci\n",
        "oci_log_dir: /var/log/oci\n"
        "oci_external_url: https://oci.example.test\n"
        "oci_oidc_issuer: https://id.example.test/app/o/oci/\n",
    )


def test_setting_a_value_again_changes_nothing() -> None:
    new = set_scalar(DEFAULTS, "oci_external_url", "https://oci.example.test")

    assert set_scalar(new, "oci_external_url", "https://oci.example.test") == new
    assert set_scalar(DEFAULTS, "oci_port", 5151) == DEFAULTS
    assert set_scalar(DEFAULTS, "oci_binary", "{{ oci_home }}/bin/oci-registry") == DEFAULTS


def test_an_existing_value_is_replaced_on_its_line_keeping_its_comment_and_quotes() -> None:
    new = set_scalar(DEFAULTS, "oci_port", 6000)
    assert new == DEFAULTS.replace("oci_port: 5151   #", "oci_port: 6000   #")

    # The value is quoted already: it stays quoted.
    new = set_scalar(DEFAULTS, "oci_binary", "/usr/bin/oci")
    assert new == DEFAULTS.replace('"{{ oci_home }}/bin/oci-registry"', '"/usr/bin/oci"')

    # A string that YAML reads as a number must be quoted to stay a string.
    new = set_scalar(DEFAULTS, "oci_port", "6000")
    assert new == DEFAULTS.replace("oci_port: 5151   #", 'oci_port: "6000"   #')


def test_a_single_quoted_value_stays_single_quoted() -> None:
    text = "a: 'old'  # note\nb: 1\n"

    assert set_scalar(text, "a", "it's new") == "a: 'it''s new'  # note\nb: 1\n"


def test_an_empty_value_is_filled() -> None:
    assert set_scalar("a:\nb: 1\n", "a", "x") == "a: x\nb: 1\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("https://h.example.test/a/", "https://h.example.test/a/"),
        ("plain words", "plain words"),
        ("yes", '"yes"'),
        ("5050", '"5050"'),
        ("null", '"null"'),
        ("{{ oci_home }}/x", '"{{ oci_home }}/x"'),
        ("a: b", '"a: b"'),
        ("x #y", '"x #y"'),
        (" lead", '" lead"'),
        ("", '""'),
        ('say "hi"\n', '"say \\"hi\\"\\n"'),
        ("tab\there", '"tab\\there"'),
        ("line\u2028sep", '"line\\u2028sep"'),
        ("é ü", "é ü"),
        (True, "true"),
        (None, "null"),
        (1.5, "1.5"),
    ],
)
def test_values_are_written_plain_only_when_they_read_back_as_themselves(
    value: str | bool | float | None, written: str
) -> None:
    new = set_scalar("a: 1\n\nlist:\n  - x\n", "b", value)

    assert new == f"a: 1\nb: {written}\n\nlist:\n  - x\n"
    read = yaml.safe_load(new)["b"]
    assert read == value and type(read) is type(value)


def test_without_scalar_lines_a_new_variable_goes_at_the_end() -> None:
    assert set_scalar("---\nl:\n  - 1\n", "v", "x") == "---\nl:\n  - 1\nv: x\n"
    assert set_scalar("l: [1]\n# the end", "v", 2) == "l: [1]\n# the end\nv: 2\n"
    assert set_scalar("---\n# nothing yet\n", "v", 2) == "---\n# nothing yet\nv: 2\n"
    assert set_scalar("", "v", 2) == "v: 2\n"


def test_the_first_run_ends_at_a_blank_line_and_a_last_line_without_break_gets_one() -> None:
    assert set_scalar("a: 1\nb: 2\n\nc: 3\n", "v", 0) == "a: 1\nb: 2\nv: 0\n\nc: 3\n"
    assert set_scalar("l:\n  - 1\na: 1", "v", 0) == "l:\n  - 1\na: 1\nv: 0\n"
    assert set_scalar("a: 1\r\nb: 2\r\n", "v", 0) == "a: 1\r\nb: 2\r\nv: 0\r\n"


@pytest.mark.parametrize(
    ("text", "name", "line", "message"),
    [
        ("a: 1\nl:\n  - x\n", "l", 2, "`l` is not a scalar; edit it by hand"),
        ("a: |\n  x\n  y\n", "a", 1, "`a` spans several lines; edit it by hand"),
        ("x: &anchor 1\ny: *anchor\n", "y", 2, "`y` is not a scalar; edit it by hand"),
        ("x: &anchor 1\ny: *anchor\n", "x", 1, "`x` carries a YAML anchor or tag; edit it by hand"),
        ("a: 1\nb: 2\na: 3\n", "a", 3, "`a` is defined 2 times (lines 1, 3)"),
        ("a: 1\n", "not-a-name", None, "`not-a-name` is not an Ansible variable name"),
    ],
)
def test_set_scalar_refusals(text: str, name: str, line: int | None, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        set_scalar(text, name, "v", path="vars.yml")

    assert (raised.value.path, raised.value.line, raised.value.message) == (
        "vars.yml",
        line,
        message,
    )


# -- append_list_item -----------------------------------------------------------------------------


def test_an_item_is_appended_in_the_style_of_the_list() -> None:
    new = append_list_item(SECRETS, PLATFORM_SECRETS, NEW_SECRET, path="secrets.yml")

    assert new == SECRETS.replace(
        "        value_var: forge_secret_cache_key\n",
        "        value_var: forge_secret_cache_key\n"
        "      - name: REGISTRY_API_KEY\n"
        "        value_var: forge_secret_registry_api_key\n",
    )
    secrets = yaml.safe_load(new)["forge_secrets_repos"][0]["secrets"]
    assert secrets[-1] == NEW_SECRET


def test_an_item_with_the_same_name_is_not_added_again() -> None:
    new = append_list_item(SECRETS, PLATFORM_SECRETS, NEW_SECRET)

    assert append_list_item(new, PLATFORM_SECRETS, NEW_SECRET) == new
    assert append_list_item(SECRETS, PLATFORM_SECRETS, {"name": "CACHE_KEY", "value_var": "z"}) == (
        SECRETS
    )


def test_the_last_list_of_the_file_and_other_item_styles() -> None:
    at = ("forge_secrets_repos", ("repo", "website"), "secrets")
    new = append_list_item(SECRETS.rstrip("\n"), at, {"name": "B", "value_var": "a: b"})
    assert new == SECRETS + '      - name: B\n        value_var: "a: b"\n'

    flow = "repos:\n- repo: x\n  secrets:\n  - {name: A, value_var: a}   # first\n"
    new = append_list_item(
        flow, ("repos", ("repo", "x"), "secrets"), {"name": "B,C", "value_var": "b"}
    )
    assert new == flow + '  - {name: "B,C", value_var: b}\n'

    spaced = "l:\n  -   name: A\n      value_var: a\n\n# after\n"
    new = append_list_item(spaced, ("l",), {"name": "B", "value_var": "b"})
    assert (
        new
        == "l:\n  -   name: A\n      value_var: a\n  -   name: B\n      value_var: b\n\n# after\n"
    )


@pytest.mark.parametrize(
    ("at", "line", "message"),
    [
        (
            ("forge_secrets_repos", ("repo", "docs"), "secrets"),
            11,
            "no item with `repo: docs` in `forge_secrets_repos`",
        ),
        (
            ("forge_secrets_repos", ("repo", "website"), "secret"),
            17,
            "no `secret` in `forge_secrets_repos → [repo: website]`",
        ),
        (
            ("forge_secret_repos", ("repo", "platform"), "secrets"),
            6,
            "no `forge_secret_repos` in the file",
        ),
        (("forge_secrets_owner",), 7, "`forge_secrets_owner` is not a list"),
        (
            ("forge_secrets_repos", ("repo", "platform"), "secrets", ("name", "CACHE_KEY")),
            15,
            "`forge_secrets_repos → [repo: platform] → secrets → [name: CACHE_KEY]` is not a list",
        ),
    ],
)
def test_a_missing_list_or_item_is_named_with_its_line(
    at: tuple[str | tuple[str, str], ...], line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        append_list_item(SECRETS, at, NEW_SECRET, path="secrets.yml")

    assert (raised.value.path, raised.value.line, raised.value.message) == (
        "secrets.yml",
        line,
        message,
    )


def test_lists_it_cannot_follow_are_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        append_list_item("l: []\n", ("l",), NEW_SECRET, path="v.yml")
    assert (raised.value.line, raised.value.message) == (
        1,
        "`l` is not a block list with items to follow; edit it by hand",
    )

    with pytest.raises(ConfigError) as raised:
        append_list_item("l:\n  - a\n", ("l",), NEW_SECRET, path="v.yml")
    assert (raised.value.line, raised.value.message) == (2, "the items of `l` are not mappings")
