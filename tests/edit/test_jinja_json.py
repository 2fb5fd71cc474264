"""Editing a Jinja-templated JSON file (an Ansible role's ``config.json.j2``): the edited member
is written in the file's style, every other byte stays, and rendering behaves like Ansible's
``template`` module."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikado.edit.ansible_vars import Variables, parse_var_file, set_scalar
from mikado.edit.jinja_json import parse, render, render_json, set_member, set_members
from mikado.errors import ConfigError

# Our own template of the shape an operator keeps for zot: 2-space JSON, `{{ }}` inside strings
# (the port too), a `{% for %}` at column 0 in an array with the comma written by
# `{% if not loop.last %}` and a blank line before `{% endfor %}` (trim_blocks eats the newline
# after a block tag), plus a `{# #}` comment, which JSON itself could not hold.
TEMPLATE = """\
{
  "distSpecVersion": "1.1.0",
  {# blobs live on the archive disk #}
  "storage": {
    "rootDirectory": "{{ oci_store_dir }}",
    "dedupe": true,
    "gcDelay": "2h"
  },
  "http": {
    "address": "{{ oci_listen_address }}",
    "port": "{{ oci_port }}"
  },
  "log": {
    "level": "debug"
  },
  "extensions": {
    "sync": {
      "enable": true,
      "registries": [
{% for mirror in oci_mirrors %}
        {
          "urls": ["{{ mirror.endpoint }}"],
          "content": [{"prefix": "**", "destination": "/{{ mirror.alias }}"}],
          "onDemand": true
        }{% if not loop.last %},{% endif %}

{% endfor %}
      ]
    },
    "ui": {
      "enable": true
    }
  }
}
"""

DEFAULTS = """\
---
oci_home: /srv/oci
oci_store_dir: "{{ oci_home }}/blobs"
oci_config_dir: /etc/oci-registry
oci_listen_address: 127.0.0.1
oci_port: 5151
oci_log_dir: /var/log/oci

# Upstreams mirrored on demand
oci_mirrors:
  - alias: hub
    endpoint: https://mirror-a.example.test
  - alias: gh
    endpoint: https://mirror-b.example.test
"""

AUTH: dict[str, Any] = {
    "externalUrl": "{{ oci_external_url }}",
    "auth": {
        "openid": {
            "providers": {
                "oidc": {
                    "credentialsFile": "{{ oci_config_dir }}/oidc-credentials.json",
                    "issuer": "{{ oci_oidc_issuer }}",
                    "scopes": ["openid", "email", "profile"],
                    "claimMapping": {"username": "preferred_username"},
                }
            }
        },
        "apikey": True,
    },
    "accessControl": {
        "repositories": {
            "**": {
                "policies": [
                    {"groups": ["ci-pushers"], "actions": ["read", "create"]},
                    {
                        "groups": ["registry-admins"],
                        "actions": ["read", "create", "update", "delete"],
                    },
                ],
                "anonymousPolicy": ["read"],
                "defaultPolicy": ["read"],
            }
        }
    },
}

HTTP_AFTER = """\
  "http": {
    "address": "{{ oci_listen_address }}",
    "port": "{{ oci_port }}",
    "externalUrl": "{{ oci_external_url }}",
    "auth": {
      "openid": {
        "providers": {
          "oidc": {
            "credentialsFile": "{{ oci_config_dir }}/oidc-credentials.json",
            "issuer": "{{ oci_oidc_issuer }}",
            "scopes": ["openid", "email", "profile"],
            "claimMapping": {
              "username": "preferred_username"
            }
          }
        }
      },
      "apikey": true
    },
    "accessControl": {
      "repositories": {
        "**": {
          "policies": [
            {
              "groups": ["ci-pushers"],
              "actions": ["read", "create"]
            },
            {
              "groups": ["registry-admins"],
              "actions": ["read", "create", "update", "delete"]
            }
          ],
          "anonymousPolicy": ["read"],
          "defaultPolicy": ["read"]
        }
      }
    }
  },
"""

HTTP_BEFORE = """\
  "http": {
    "address": "{{ oci_listen_address }}",
    "port": "{{ oci_port }}"
  },
"""


def _variables(defaults: str) -> Variables:
    return Variables([parse_var_file(defaults, path="roles/oci/defaults/main.yml")])


# -- the seed-like edit ----------------------------------------------------------------------------


def test_the_auth_edit_is_written_in_the_files_style_and_nothing_else_moves() -> None:
    new = set_members(TEMPLATE, ("http",), AUTH, path="config.json.j2")

    assert new == TEMPLATE.replace(HTTP_BEFORE, HTTP_AFTER)
    assert TEMPLATE.count(HTTP_BEFORE) == 1  # so the comparison above pins every other byte


def test_the_edited_template_renders_to_the_config_zot_reads() -> None:
    defaults = set_scalar(DEFAULTS, "oci_external_url", "https://oci.example.test")
    defaults = set_scalar(defaults, "oci_oidc_issuer", "https://id.example.test/app/o/oci/")
    new = set_members(TEMPLATE, ("http",), AUTH, path="config.json.j2")

    config = render_json(new, _variables(defaults), path="config.json.j2")

    mirror = {"prefix": "**", "onDemand": True}
    assert config == {
        "distSpecVersion": "1.1.0",
        "storage": {"rootDirectory": "/srv/oci/blobs", "dedupe": True, "gcDelay": "2h"},
        "http": {
            "address": "127.0.0.1",
            "port": "5151",  # a string: the template quotes it
            "externalUrl": "https://oci.example.test",
            "auth": {
                "openid": {
                    "providers": {
                        "oidc": {
                            "credentialsFile": "/etc/oci-registry/oidc-credentials.json",
                            "issuer": "https://id.example.test/app/o/oci/",
                            "scopes": ["openid", "email", "profile"],
                            "claimMapping": {"username": "preferred_username"},
                        }
                    }
                },
                "apikey": True,
            },
            "accessControl": AUTH["accessControl"],
        },
        "log": {"level": "debug"},
        "extensions": {
            "sync": {
                "enable": True,
                "registries": [
                    {
                        "urls": ["https://mirror-a.example.test"],
                        "content": [{"prefix": mirror["prefix"], "destination": "/hub"}],
                        "onDemand": True,
                    },
                    {
                        "urls": ["https://mirror-b.example.test"],
                        "content": [{"prefix": mirror["prefix"], "destination": "/gh"}],
                        "onDemand": True,
                    },
                ],
            },
            "ui": {"enable": True},
        },
    }


def test_setting_the_same_members_again_changes_nothing() -> None:
    once = set_members(TEMPLATE, ("http",), AUTH)

    assert set_members(once, ("http",), AUTH) == once
    # Equal data written in another layout is equal too: the operator's layout stays.
    spread = once.replace(
        '"scopes": ["openid", "email", "profile"]', '"scopes": [\n"openid",\n"email", "profile"]'
    )
    assert set_members(spread, ("http",), AUTH) == spread


def test_replacing_a_value_touches_only_that_value() -> None:
    new = set_member(TEMPLATE, ("storage",), "gcDelay", {"min": "1h", "max": ["a", "b"]})

    old_value = '"gcDelay": "2h"'
    start = TEMPLATE.index(old_value) + len('"gcDelay": ')
    end = TEMPLATE.index(old_value) + len(old_value)
    written = '{\n      "min": "1h",\n      "max": ["a", "b"]\n    }'
    assert new == TEMPLATE[:start] + written + TEMPLATE[end:]


def test_a_bare_jinja_value_can_be_replaced_and_a_one_line_object_stays_one_line() -> None:
    text = '{\n  "port": {{ oci_port }},\n  "tls": {"cert": "/c.pem"}\n}\n'

    new = set_member(text, (), "port", "{{ oci_port }}")
    new = set_member(new, ("tls",), "key", "/k.pem")
    new = set_member(new, ("tls",), "cert", {"path": "/d.pem", "mode": [4, 0]})

    assert new == (
        '{\n  "port": "{{ oci_port }}",\n'
        '  "tls": {"cert": {"path": "/d.pem", "mode": [4, 0]}, "key": "/k.pem"}\n}\n'
    )


def test_several_inserts_keep_their_order_and_an_empty_object_is_expanded() -> None:
    text = '{\n    "a": {},\n    "b": {\n    }\n}'

    new = set_members(text, ("a",), {"z": 1, "y": [{"q": None}]})
    new = set_members(new, ("b",), {"x": False, "w": 1.5})

    assert new == (
        '{\n    "a": {\n        "z": 1,\n        "y": [\n            {\n'
        '                "q": null\n            }\n        ]\n    },\n'
        '    "b": {\n        "x": false,\n        "w": 1.5\n    }\n}'
    )


def test_the_indentation_unit_tabs_and_crlf_are_the_files() -> None:
    text = '{\r\n\t"outer": {\r\n\t\t"a": 1\r\n\t}\r\n}\r\n'

    new = set_member(text, ("outer",), "b", {"c": ["d"]})

    assert new == (
        '{\r\n\t"outer": {\r\n\t\t"a": 1,\r\n'
        '\t\t"b": {\r\n\t\t\t"c": ["d"]\r\n\t\t}\r\n\t}\r\n}\r\n'
    )


def test_jinja_inside_a_new_string_is_written_as_jinja_reads_it() -> None:
    # Jinja reads the file first: the quotes inside `{{ }}` must not become JSON's `\"`.
    value = 'x"{{ oci_region | default("eu") }}\\'

    new = set_member('{\n  "a": 1\n}\n', (), "region", value)

    assert '"region": "x\\"{{ oci_region | default("eu") }}\\\\"' in new
    assert render_json(new, {}) == {"a": 1, "region": 'x"eu\\'}
    assert set_member(new, (), "region", value) == new


# -- comments and whitespace control -------------------------------------------------------------

TRIMMED = """\
{#- the service's settings; rendered by the oci role -#}
{
  "mirrors": [
{%- for mirror in oci_mirrors %}
    {{ mirror | to_json }}{% if not loop.last %},{% endif %}
{%- endfor %}
  ],
  "workers": {{- oci_workers -}},
  "http": {
    "port": "{{ oci_port }}" {# quoted on purpose #}
  }
}
"""


def test_comments_and_whitespace_control_survive_an_edit() -> None:
    new = set_member(TRIMMED, ("http",), "realm", "{{ oci_realm }}")

    assert new == TRIMMED.replace(
        '"port": "{{ oci_port }}" {# quoted on purpose #}\n',
        '"port": "{{ oci_port }}", {# quoted on purpose #}\n    "realm": "{{ oci_realm }}"\n',
    )
    variables = {"oci_mirrors": ["a", {"b": 2}], "oci_workers": 4, "oci_port": 1, "oci_realm": "r"}
    assert render_json(new, variables) == {
        "mirrors": ["a", {"b": 2}],
        "workers": 4,
        "http": {"port": "1", "realm": "r"},
    }


def test_members_are_recorded_with_their_keys_spans_and_lines() -> None:
    doc = parse(TRIMMED, path="t.j2")

    assert [(m.key, m.line) for m in doc.root.members] == [
        ("mirrors", 3),
        ("workers", 8),
        ("http", 9),
    ]
    http = doc.object_at(("http",))
    (port,) = http.members
    assert TRIMMED[port.key_start : port.key_end] == '"port"'
    assert TRIMMED[port.value_start : port.value_end] == '"{{ oci_port }}"'
    assert port.line == 10
    mirrors = doc.root.members[0].value
    assert mirrors is not None and mirrors.kind == "array" and mirrors.generated
    assert doc.root.members[1].value is not None and doc.root.members[1].value.kind == "jinja"


def test_a_value_chosen_by_block_tags_is_one_member() -> None:
    text = '{\n  "level": {% if debug %}"debug"{% else %}"info"{% endif %},\n  "b": 1\n}\n'

    doc = parse(text)

    assert [m.key for m in doc.root.members] == ["level", "b"]
    level = doc.root.members[0]
    assert level.value is None
    assert text[level.value_start : level.value_end].endswith("{% endif %}")
    assert render_json(text, {"debug": False}) == {"level": "info", "b": 1}
    with pytest.raises(ConfigError) as raised:
        set_member(text, (), "level", "warn", path="t.j2")
    assert raised.value.line == 2
    assert "holds Jinja block tags (`{% if debug %}` at line 2)" in raised.value.message


# -- refusals ------------------------------------------------------------------------------------


def _refusal(text: str, at: tuple[str, ...], key: str, value: object = 1) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        set_member(text, at, key, value, path="roles/oci/templates/config.json.j2")
    assert raised.value.path == "roles/oci/templates/config.json.j2"
    return raised.value


def test_a_value_holding_a_loop_is_not_replaced() -> None:
    error = _refusal(TEMPLATE, ("extensions", "sync"), "registries", [])

    assert error.line == 19
    assert error.message == (
        "the value of `registries` in the object at `extensions → sync` holds Jinja block tags "
        "(`{% for mirror in oci_mirrors %}` at line 20): mikado does not replace what a "
        "template generates; edit it by hand"
    )


def test_an_object_whose_members_a_loop_writes_takes_no_new_member() -> None:
    text = (
        "{\n"
        '  "labels": {\n'
        "{% for name, value in oci_labels.items() %}\n"
        '    "{{ name }}": "{{ value }}"{% if not loop.last %},{% endif %}\n'
        "\n"
        "{% endfor %}\n"
        "  }\n"
        "}\n"
    )

    error = _refusal(text, ("labels",), "team")

    assert error.line == 2
    assert error.message == (
        "the object at `labels` is made by Jinja block tags (`{% for name, value in "
        "oci_labels.items() %}` at line 3): a member inserted there would repeat or vanish "
        "with them; edit it by hand"
    )
    assert render_json(text, {"oci_labels": {"a": "1", "b": "2"}}) == {
        "labels": {"a": "1", "b": "2"}
    }


def test_a_path_through_an_array_is_refused() -> None:
    error = _refusal(TEMPLATE, ("extensions", "sync", "registries", "urls"), "x")

    assert error.line == 19
    assert error.message == (
        "the value at `extensions → sync → registries` is an array: a path cannot go through "
        "an array"
    )


def test_a_missing_key_is_named() -> None:
    error = _refusal(TEMPLATE, ("extensions", "search", "cve"), "x")

    assert error.line == 16
    assert error.message == "no key `search` in the object at `extensions`"


def test_a_path_ending_at_a_non_object_is_refused() -> None:
    error = _refusal(TEMPLATE, ("http", "port"), "x")

    assert error.line == 11
    assert error.message == (
        "the value at `http → port` is not an object: mikado edits members of objects only"
    )


def test_a_key_written_twice_is_refused() -> None:
    error = _refusal('{\n  "a": 1,\n  "a": 2\n}\n', (), "a")

    assert error.line == 3
    assert "key `a` appears 2 times in the object at the top level (lines 2, 3)" in error.message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{\n  "a": "{{ x"\n}\n', 2, "`{{` is not closed"),
        ('{\n  "a": 1\n  "b": 2\n}\n', 3, "expected `,` or `}`"),
        ('{\n  "a": 1,\n}\n', 2, "unexpected `,`"),
        ('{\n  "a": yes\n}\n', 2, "`yes` is not a JSON value"),
        ('{\n  "a": 1\n}\n{% if x %}\n[\n{% endif %}\n', 5, "text after the JSON value"),
        ('{\n  "a": [1, 2\n}\n', 3, "expected `,` or `]`"),
    ],
)
def test_text_that_is_not_json_with_jinja_is_reported_with_its_line(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(text, path="t.j2")

    assert raised.value.line == line
    assert raised.value.message == f"cannot read as JSON with Jinja: {message}"


def test_a_value_that_is_not_json_data_is_refused() -> None:
    with pytest.raises(TypeError, match="set is not JSON data"):
        set_member('{"a": 1}', (), "b", {1, 2})


# -- rendering -------------------------------------------------------------------------------------


def test_an_undefined_variable_is_named_with_the_template_and_line() -> None:
    with pytest.raises(ConfigError) as raised:
        render(TEMPLATE, {"oci_store_dir": "/s", "oci_listen_address": "::"}, path="c.json.j2")

    assert (raised.value.path, raised.value.line) == ("c.json.j2", 11)
    assert raised.value.message == "undefined variable `oci_port`"


def test_an_undefined_attribute_in_a_loop_is_reported_at_its_line() -> None:
    variables = {
        "oci_store_dir": "/s",
        "oci_listen_address": "::",
        "oci_port": 1,
        "oci_mirrors": [{"alias": "hub"}],
    }
    with pytest.raises(ConfigError) as raised:
        render(TEMPLATE, variables, path="c.json.j2")

    assert raised.value.line == 22
    assert raised.value.message == "undefined value: 'dict object' has no attribute 'endpoint'"


def test_an_undefined_variable_of_a_defaults_file_names_that_variable_and_file() -> None:
    defaults = DEFAULTS.replace('"{{ oci_home }}/blobs"', '"{{ oci_hmoe }}/blobs"')

    with pytest.raises(ConfigError) as raised:
        render(TEMPLATE, _variables(defaults), path="c.json.j2")

    assert (raised.value.path, raised.value.line) == ("roles/oci/defaults/main.yml", 3)
    assert raised.value.message == "variable `oci_store_dir` uses an undefined variable `oci_hmoe`"


def test_an_ansible_only_filter_is_refused_by_name() -> None:
    text = (
        '{\n  "a": "{{ x }}",\n  {% if y %}\n'
        "  \"b\": \"{{ y | regex_replace('a', 'b') }}\",\n"
        '  {% endif %}\n  "c": 1\n}\n'
    )

    with pytest.raises(ConfigError) as raised:
        render(text, {"x": 1, "y": ""}, path="c.json.j2")

    assert raised.value.line == 4
    assert raised.value.message.startswith(
        "the template uses the filter `regex_replace`, which mikado cannot render"
    )
    assert "bool, mandatory, to_json, to_nice_json" in raised.value.message


def test_the_four_ansible_filters() -> None:
    text = (
        '{"a": {{ data | to_json }}, "b": {{ data | to_nice_json }}, '
        '"c": {{ (flag | bool) | to_json }}, "d": {{ flag2 | bool | to_json }}, '
        '"e": "{{ name | mandatory }}"}'
    )
    variables = {"data": {"z": [1], "a": "é"}, "flag": "Yes", "flag2": "0", "name": "n"}

    assert render_json(text, variables) == {
        "a": {"z": [1], "a": "é"},
        "b": {"z": [1], "a": "é"},
        "c": True,
        "d": False,
        "e": "n",
    }
    assert render("{{ data | to_nice_json }}", {"data": {"b": 1, "a": [2]}}) == (
        '{\n    "a": [\n        2\n    ],\n    "b": 1\n}'
    )
    with pytest.raises(ConfigError) as raised:
        render('{"e": "{{ name | mandatory }}"}', {}, path="t.j2")
    assert (raised.value.line, raised.value.message) == (
        1,
        "mandatory variable `name` is not defined",
    )


def test_rendering_follows_ansible_trim_blocks_and_prints_null_as_nothing() -> None:
    text = "{% if a %}\nx\n{% endif %}\n[{{ none }}]\n"

    assert render(text, {"a": True, "none": None}) == "x\n[]\n"


def test_rendered_text_that_is_not_json_is_quoted_with_its_rendered_line() -> None:
    broken = TEMPLATE.replace("{% if not loop.last %},{% endif %}", "")
    variables = {
        "oci_store_dir": "/s",
        "oci_listen_address": "::",
        "oci_port": 1,
        "oci_mirrors": [{"alias": "a", "endpoint": "e"}, {"alias": "b", "endpoint": "f"}],
    }

    with pytest.raises(ConfigError) as raised:
        render_json(broken, variables, path="c.json.j2")

    # The rendered line, not the template's: the comment's line is gone (trim_blocks eats the
    # newline after it) and the loop body is there twice.
    assert raised.value.path == "c.json.j2"
    assert raised.value.message == (
        "the rendered template is not JSON: Expecting ',' delimiter at rendered line 25, "
        "column 9: '{'"
    )


# -- any data, anywhere ----------------------------------------------------------------------------

# No `{`: a generated string must not open a Jinja tag by chance.
TEXT = st.characters(codec="utf-8", exclude_characters="{")
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(TEXT, max_size=8),
)
DATA = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(TEXT, max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(["gcDelay", "new", "rootDirectory"]), value=DATA)
def test_any_data_set_anywhere_renders_as_that_data_and_leaves_the_rest(
    key: str, value: Any
) -> None:
    variables = {
        "oci_store_dir": "/s",
        "oci_listen_address": "::",
        "oci_port": 1,
        "oci_mirrors": [{"alias": "a", "endpoint": "e"}],
    }
    before = render_json(TEMPLATE, variables)

    new = set_member(TEMPLATE, ("storage",), key, value)

    after = render_json(new, variables)
    assert json.dumps(after["storage"][key]) == json.dumps(value)
    after["storage"].pop(key)
    before["storage"].pop(key, None)
    assert after == before
    storage = TEMPLATE.index('"storage"')
    assert new[:storage] == TEMPLATE[:storage]
    http = TEMPLATE.index('  "http"')
    assert new.endswith(TEMPLATE[http:])
    assert set_member(new, ("storage",), key, value) == new
