"""The blueprint editor: entries read with their tags, an entry appended or its attrs changed as
a text splice (every other byte of the file kept), the same wish twice changing nothing, and
edits it cannot make safely refused with the line to change by hand.

The fixtures have the shapes of a real infrastructure repository (a ConfigMap of several
blueprints, the edited one last; entries preceded by comments with non-ASCII text; policy
bindings without `id`), with content of our own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mikado.edit.blueprint import (
    Blueprint,
    Env,
    Find,
    Including,
    KeyOf,
    Tagged,
    load_blueprint,
    read_blueprint,
    write_blueprint,
)
from mikado.errors import ConfigError

AUTHORIZATION_FLOW = Find(
    "authentik_flows.flow", "slug", "default-provider-authorization-implicit-consent"
)
INVALIDATION_FLOW = Find("authentik_flows.flow", "slug", "default-provider-invalidation-flow")
SIGNING_KEY = Find(
    "authentik_crypto.certificatekeypair", "name", "authentik Self-signed Certificate"
)
SCOPE_MAPPING = "authentik_providers_oauth2.scopemapping"
SCOPES = [Find(SCOPE_MAPPING, "scope_name", s) for s in ("openid", "email", "profile")]
BINDING = "authentik_policies.policybinding"
PROVIDER = "authentik_providers_oauth2.oauth2provider"
APPLICATION = "authentik_core.application"
GROUP = "authentik_core.group"

# A ConfigMap of blueprints: three data keys, the registry's last (it runs to the end of the
# file). Its lines follow the layout such repositories use: the blueprint indented 4, entries
# 6, entry fields 8, attrs 10, a blank line between entries and between keys.
CONFIGMAP = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: idp-blueprints
  namespace: identity
data:
  base.yaml: |
    version: 1
    metadata:
      name: Lindenhof Base Identity
      labels:
        blueprints.goauthentik.io/description: "Groups every service shares"
    entries:
      # operators group — may open the operator-only tools
      - model: authentik_core.group
        id: operators-group
        identifiers:
          name: operators
        attrs:
          name: operators

  wiki.yaml: |
    version: 1
    metadata:
      name: Lindenhof Wiki SSO
    entries:
      # wiki application — its description uses a tag mikado does not model
      - model: authentik_core.application
        identifiers:
          slug: wiki
        attrs:
          name: Wiki
          slug: wiki
          meta_description: !Format ["%s wiki", Lindenhof]

  registry.yaml: |
    version: 1
    metadata:
      name: Lindenhof Registry SSO
      labels:
        blueprints.goauthentik.io/description: "Registry OIDC client, application and CI robot"
    entries:
      # pushers group — CI identities that publish images (Grüße an die Build-Farm)
      - model: authentik_core.group
        id: pushers-group
        identifiers:
          name: pushers
        attrs:
          name: pushers

      # robot account for CI — its password is set in the UI after the first sync
      - model: authentik_core.user
        id: builder-user
        identifiers:
          username: builder
        attrs:
          username: builder
          name: Build Robot
          type: service_account
          is_active: true
          groups:
            - !KeyOf pushers-group

      # OAuth2 provider for the registry
      - model: authentik_providers_oauth2.oauth2provider
        id: registry-provider
        identifiers:
          name: Registry
        attrs:
          name: Registry
          authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
          invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
          client_type: confidential
          client_id: registry
          client_secret: !Env LINDENHOF_REGISTRY_SECRET
          redirect_uris:
            - matching_mode: strict
              url: https://images.lindenhof.test/auth/callback/oidc
          signing_key: !Find [authentik_crypto.certificatekeypair, [name, authentik Self-signed Certificate]]
          property_mappings:
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, openid]]
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, email]]
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, profile]]
          sub_mode: hashed_user_id  # what the registry maps to its user names
          include_claims_in_id_token: true

      # registry application — tied to its provider
      - model: authentik_core.application
        id: registry-app
        identifiers:
          slug: registry
        attrs:
          name: Image Registry
          slug: registry
          provider: !KeyOf registry-provider
          meta_launch_url: https://images.lindenhof.test
          policy_engine_mode: any

      # binding — only operators may open the registry
      - model: authentik_policies.policybinding
        identifiers:
          order: 0
          target: !KeyOf registry-app
          group: !Find [authentik_core.group, [name, operators]]
        attrs:
          target: !KeyOf registry-app
          group: !Find [authentik_core.group, [name, operators]]
          order: 0
          enabled: true
          negate: false
          timeout: 30
"""  # noqa: E501 - the long !Find lines are part of the shape

# What appending the pushers binding adds at the end of the file, and nothing else.
PUSHERS_BINDING = """
      # binding — pushers may log in too (the CI robot mints its registry key over OIDC)
      - model: authentik_policies.policybinding
        identifiers:
          order: 1
          target: !KeyOf registry-app
          group: !KeyOf pushers-group
        attrs:
          target: !KeyOf registry-app
          group: !KeyOf pushers-group
          order: 1
          enabled: true
          negate: false
          timeout: 30
"""

# A blueprint of its own, in a ConfigMap with nothing in it yet.
EMPTY_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: chat-blueprints
data:
  chat.yaml: |
    version: 1
    metadata:
      name: Lindenhof Chat SSO — noch leer
    entries: []
  README: |
    One blueprint per service — Authentik applies every key ending in .yaml.
"""


def registry(text: str = CONFIGMAP) -> Blueprint:
    return load_blueprint(text, path="blueprints.yaml", data_key="registry.yaml")


def binding_attrs(order: int, target: KeyOf, group: KeyOf | Find) -> dict[str, object]:
    return {
        "target": target,
        "group": group,
        "order": order,
        "enabled": True,
        "negate": False,
        "timeout": 30,
    }


def ensure_pushers_binding(blueprint: Blueprint) -> tuple[Blueprint, bool]:
    group = blueprint.reference(GROUP, "name", "pushers")
    app = KeyOf("registry-app")
    done = blueprint.ensure(
        BINDING,
        {"order": 1, "target": app, "group": group},
        binding_attrs(1, app, group),  # type: ignore[arg-type]
        comment="binding — pushers may log in too (the CI robot mints its registry key over OIDC)",
    )
    return done.blueprint, done.changed


def dedented(lines: str) -> str:
    """Lines of the registry blueprint as the blueprint has them (the ConfigMap indents 4)."""
    return "".join(line[4:] if line.strip() else line for line in lines.splitlines(True))


def data_values(text: str) -> dict[str, str]:
    document = yaml.safe_load(text)
    return dict(document["data"])


# -- reading ---------------------------------------------------------------------------------


def test_reads_entries_with_their_tags_lines_and_comments() -> None:
    blueprint = registry()
    lines = CONFIGMAP.split("\n")
    assert [(e.model, e.id) for e in blueprint.entries] == [
        (GROUP, "pushers-group"),
        ("authentik_core.user", "builder-user"),
        (PROVIDER, "registry-provider"),
        (APPLICATION, "registry-app"),
        (BINDING, None),
    ]
    for entry in blueprint.entries:
        assert lines[entry.line - 1] == f"      - model: {entry.model}"
        assert entry.state == "present"
    group, user, provider, app, binding = blueprint.entries
    assert group.comment == (
        "pushers group — CI identities that publish images (Grüße an die Build-Farm)"
    )
    assert user.attrs["groups"] == [KeyOf("pushers-group")]
    assert user.attrs["is_active"] is True
    assert provider.attrs["client_secret"] == Env("LINDENHOF_REGISTRY_SECRET")
    assert provider.attrs["authorization_flow"] == AUTHORIZATION_FLOW
    assert provider.attrs["signing_key"] == SIGNING_KEY
    assert provider.attrs["property_mappings"] == SCOPES
    assert provider.attrs["redirect_uris"] == [
        {"matching_mode": "strict", "url": "https://images.lindenhof.test/auth/callback/oidc"}
    ]
    assert app.attrs["provider"] == KeyOf("registry-provider")
    assert binding.identifiers == {
        "order": 0,
        "target": KeyOf("registry-app"),
        "group": Find(GROUP, "name", "operators"),
    }
    assert binding.attrs["timeout"] == 30 and binding.attrs["negate"] is False


def test_other_tags_are_kept_as_written() -> None:
    wiki = load_blueprint(CONFIGMAP, path="blueprints.yaml", data_key="wiki.yaml")
    (entry,) = wiki.entries
    assert entry.attrs["meta_description"] == Tagged("!Format", '!Format ["%s wiki", Lindenhof]')
    assert entry.identifiers == {"slug": "wiki"}
    assert entry.attrs["name"] == "Wiki"


def test_find_and_reference() -> None:
    blueprint = registry()
    assert blueprint.find(PROVIDER, {"name": "Registry"}) is blueprint.entries[2]
    # Model names are matched as Django does: the case of the model's name does not matter.
    assert blueprint.find("authentik_core.Application", {"slug": "registry"}) is not None
    assert blueprint.find(PROVIDER, {"name": "Other"}) is None
    # A group this blueprint defines is named by its entry id; any other is looked up.
    assert blueprint.reference(GROUP, "name", "pushers") == KeyOf("pushers-group")
    assert blueprint.reference(GROUP, "name", "operators") == Find(GROUP, "name", "operators")
    assert blueprint.with_id("registry-app") is blueprint.entries[3]


def test_a_blueprint_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    inner = data_values(CONFIGMAP)["registry.yaml"]
    path.write_text(inner, encoding="utf-8")
    blueprint = read_blueprint(path)
    assert blueprint.data_key is None
    assert [e.id for e in blueprint.entries] == [e.id for e in registry().entries]
    assert blueprint.entries[0].line == 8  # lines of the file itself
    edited, changed = ensure_pushers_binding(blueprint)
    assert changed
    assert edited.text == inner + dedented(PUSHERS_BINDING)
    assert write_blueprint(path, edited) is True
    assert path.read_text(encoding="utf-8") == edited.text
    assert write_blueprint(path, edited) is False


def test_loading_unchanged_keeps_every_byte() -> None:
    for key in ("base.yaml", "wiki.yaml", "registry.yaml"):
        blueprint = load_blueprint(CONFIGMAP, path="x.yaml", data_key=key)
        assert blueprint.text == CONFIGMAP
        # A wish already true writes nothing, so no byte can move.
        if key == "registry.yaml":
            done = blueprint.ensure(
                PROVIDER, {"name": "Registry"}, {"client_id": "registry"}, comment="unused"
            )
            assert not done.changed and done.blueprint.text == CONFIGMAP


# -- appending -------------------------------------------------------------------------------


def test_appends_a_binding_for_a_second_group_and_keeps_every_other_byte() -> None:
    edited, changed = ensure_pushers_binding(registry())
    assert changed
    assert edited.text == CONFIGMAP + PUSHERS_BINDING
    new = edited.entries[-1]
    assert new.model == BINDING and new.id is None
    assert new.identifiers == {
        "order": 1,
        "target": KeyOf("registry-app"),
        "group": KeyOf("pushers-group"),
    }
    assert new.comment is not None and new.comment.startswith("binding — pushers")
    assert edited.text.split("\n")[new.line - 1] == f"      - model: {BINDING}"
    # The other data keys are untouched, and the edited one still is one literal block.
    before, after = data_values(CONFIGMAP), data_values(edited.text)
    assert {k: v for k, v in after.items() if k != "registry.yaml"} == {
        k: v for k, v in before.items() if k != "registry.yaml"
    }
    assert after["registry.yaml"] == before["registry.yaml"] + dedented(PUSHERS_BINDING)


def test_the_same_wish_twice_changes_nothing() -> None:
    once, _ = ensure_pushers_binding(registry())
    twice, changed = ensure_pushers_binding(once)
    assert not changed
    assert twice.text == once.text


def test_a_group_defined_elsewhere_is_found_not_keyed() -> None:
    blueprint = registry()
    group = blueprint.reference(GROUP, "name", "auditors")
    app = KeyOf("registry-app")
    done = blueprint.ensure(
        BINDING,
        {"order": 2, "target": app, "group": group},
        binding_attrs(2, app, group),  # type: ignore[arg-type]
        comment="binding — auditors read along",
    )
    tail = done.blueprint.text[len(CONFIGMAP) :]
    assert "          group: !Find [authentik_core.group, [name, auditors]]\n" in tail
    assert done.changes == (
        f"appended {BINDING} order=2, target=!KeyOf registry-app, "
        "group=!Find [authentik_core.group, [name, auditors]]",
    )


def test_appends_to_a_blueprint_that_is_not_the_last_data_key() -> None:
    wiki = load_blueprint(CONFIGMAP, path="blueprints.yaml", data_key="wiki.yaml")
    done = wiki.ensure(
        GROUP, {"name": "editors"}, {"name": "editors"}, comment="editors — may change pages",
        id="editors-group",
    )  # fmt: skip
    added = (
        "\n"
        "      # editors — may change pages\n"
        "      - model: authentik_core.group\n"
        "        id: editors-group\n"
        "        identifiers:\n"
        "          name: editors\n"
        "        attrs:\n"
        "          name: editors\n"
    )
    marker = '          meta_description: !Format ["%s wiki", Lindenhof]\n'
    assert done.blueprint.text == CONFIGMAP.replace(marker, marker + added)
    assert done.blueprint.entries[0].attrs["meta_description"] == Tagged(
        "!Format", '!Format ["%s wiki", Lindenhof]'
    )


def test_creates_provider_application_and_bindings_in_an_empty_blueprint() -> None:
    blueprint = load_blueprint(EMPTY_CONFIGMAP, path="chat.yaml", data_key="chat.yaml")
    assert blueprint.entries == ()
    blueprint = create_chat(blueprint)
    assert blueprint.text == EMPTY_CONFIGMAP.replace("    entries: []\n", CHAT_ENTRIES)
    assert data_values(blueprint.text)["README"].startswith("One blueprint per service —")
    assert create_chat(blueprint).text == blueprint.text  # idempotent as a whole


CHAT_ENTRIES = """\
    entries:
      # chat provider — confidential client; the secret comes from the worker's env
      - model: authentik_providers_oauth2.oauth2provider
        id: chat-provider
        identifiers:
          name: Chat
        attrs:
          name: Chat
          authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
          invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
          client_type: confidential
          client_id: chat
          client_secret: !Env LINDENHOF_CHAT_SECRET
          redirect_uris:
            - matching_mode: strict
              url: https://chat.lindenhof.test/oauth/callback
          signing_key: !Find [authentik_crypto.certificatekeypair, [name, authentik Self-signed Certificate]]
          property_mappings:
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, openid]]
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, email]]
            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, profile]]

      # chat application — „Plaudern“ for everyone bound below
      - model: authentik_core.application
        id: chat-app
        identifiers:
          slug: chat
        attrs:
          name: "Chat: Plaudern"
          slug: chat
          provider: !KeyOf chat-provider
          meta_launch_url: https://chat.lindenhof.test
          policy_engine_mode: any

      # binding — operators may chat
      - model: authentik_policies.policybinding
        identifiers:
          order: 0
          target: !KeyOf chat-app
          group: !Find [authentik_core.group, [name, operators]]
        attrs:
          target: !KeyOf chat-app
          group: !Find [authentik_core.group, [name, operators]]
          order: 0
          enabled: true
          negate: false
          timeout: 30
"""  # noqa: E501 - the long !Find lines are part of the shape


def create_chat(blueprint: Blueprint) -> Blueprint:
    blueprint = blueprint.ensure(
        PROVIDER,
        {"name": "Chat"},
        {
            "name": "Chat",
            "authorization_flow": AUTHORIZATION_FLOW,
            "invalidation_flow": INVALIDATION_FLOW,
            "client_type": "confidential",
            "client_id": "chat",
            "client_secret": Env("LINDENHOF_CHAT_SECRET"),
            "redirect_uris": [
                {"matching_mode": "strict", "url": "https://chat.lindenhof.test/oauth/callback"}
            ],
            "signing_key": SIGNING_KEY,
            "property_mappings": list(SCOPES),  # type: ignore[dict-item]
        },
        comment="chat provider — confidential client; the secret comes from the worker's env",
        id="chat-provider",
    ).blueprint
    blueprint = blueprint.ensure(
        APPLICATION,
        {"slug": "chat"},
        {
            "name": "Chat: Plaudern",
            "slug": "chat",
            "provider": KeyOf("chat-provider"),
            "meta_launch_url": "https://chat.lindenhof.test",
            "policy_engine_mode": "any",
        },
        comment="chat application — „Plaudern“ for everyone bound below",
        id="chat-app",
    ).blueprint
    group = blueprint.reference(GROUP, "name", "operators")
    app = KeyOf("chat-app")
    return blueprint.ensure(
        BINDING,
        {"order": 0, "target": app, "group": group},
        binding_attrs(0, app, group),  # type: ignore[arg-type]
        comment="binding — operators may chat",
    ).blueprint


@pytest.mark.parametrize(
    ("original", "expected_entries"),
    [
        ("version: 1\nentries:\n", "version: 1\nentries:\n"),
        ("version: 1\nentries: []  # none yet\n", "version: 1\nentries:  # none yet\n"),
        (
            "version: 1\nmetadata:\n  name: Bare\n",
            "version: 1\nmetadata:\n  name: Bare\nentries:\n",
        ),
    ],
)
def test_the_first_entry_of_a_blueprint_file(original: str, expected_entries: str) -> None:
    done = load_blueprint(original, path="b.yaml").ensure(
        GROUP, {"name": "ops"}, {"name": "ops"}, comment="ops — on call", id="ops"
    )
    assert done.blueprint.text == expected_entries + (
        "  # ops — on call\n"
        "  - model: authentik_core.group\n"
        "    id: ops\n"
        "    identifiers:\n"
        "      name: ops\n"
        "    attrs:\n"
        "      name: ops\n"
    )


def test_a_file_without_a_final_line_break_keeps_ending_without_one() -> None:
    original = (
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers:\n      name: a"
    )
    done = load_blueprint(original, path="b.yaml").ensure(
        GROUP, {"name": "b"}, {"name": "b"}, comment="b"
    )
    assert done.blueprint.text == original + (
        "\n\n  # b\n  - model: authentik_core.group\n    identifiers:\n      name: b\n"
        "    attrs:\n      name: b"
    )


def test_values_are_quoted_only_where_yaml_needs_it() -> None:
    wanted = {
        "name": "Bücher — Team",
        "slug": "yes",  # a bool in YAML 1.1, as Authentik reads it
        "meta_publisher": "1.5",
        "meta_description": "a: b # c",
        "meta_launch_url": "",
        "open_in_new_tab": False,
        "group": None,
        "weight": 1e20,  # `1e+20` is a string to YAML 1.1
    }
    done = load_blueprint("version: 1\nentries: []\n", path="b.yaml").ensure(
        APPLICATION, {"slug": "yes"}, wanted, comment="quoting"
    )
    assert "      name: Bücher — Team\n" in done.blueprint.text
    assert '      slug: "yes"\n' in done.blueprint.text
    assert '      meta_publisher: "1.5"\n' in done.blueprint.text
    assert "      weight: 1.0e+20\n" in done.blueprint.text
    assert done.entry.attrs == wanted
    assert done.entry.identifiers == {"slug": "yes"}


# -- changing an existing entry --------------------------------------------------------------


def test_adds_a_redirect_uri_to_an_existing_provider() -> None:
    second = {"matching_mode": "strict", "url": "https://images.lindenhof.test/v2/token/oidc"}
    first = registry().entries[2].attrs["redirect_uris"][0]  # type: ignore[index]
    done = registry().ensure(
        PROVIDER,
        {"name": "Registry"},
        {"redirect_uris": Including((first, second))},  # the first is there already
        comment="unused for an existing entry",
    )
    old = "              url: https://images.lindenhof.test/auth/callback/oidc\n"
    assert done.blueprint.text == CONFIGMAP.replace(
        old,
        old + "            - matching_mode: strict\n"
        "              url: https://images.lindenhof.test/v2/token/oidc\n",
    )
    assert done.entry.attrs["redirect_uris"] == [first, second]
    assert done.changes == (f"{PROVIDER} name=Registry: redirect_uris gains 1",)
    again = done.blueprint.ensure(
        PROVIDER, {"name": "Registry"}, {"redirect_uris": Including((second,))}, comment="x"
    )
    assert not again.changed and again.blueprint.text == done.blueprint.text


def test_only_the_attrs_that_differ_change() -> None:
    done = registry().ensure(
        PROVIDER,
        {"name": "Registry"},
        {
            "client_id": "registry",  # the same: untouched
            "sub_mode": "user_username",  # the comment after it stays
            "client_secret": Env("LINDENHOF_REGISTRY_OIDC_SECRET"),
            "access_token_validity": "minutes=10",  # new: after the last attr
            "property_mappings": SCOPES[:1],  # type: ignore[dict-item]
        },
        comment="unused",
    )
    expected = (
        CONFIGMAP.replace(
            "client_secret: !Env LINDENHOF_REGISTRY_SECRET",
            "client_secret: !Env LINDENHOF_REGISTRY_OIDC_SECRET",
        )
        .replace("sub_mode: hashed_user_id  # what", "sub_mode: user_username  # what")
        .replace(
            "          include_claims_in_id_token: true\n",
            "          include_claims_in_id_token: true\n"
            "          access_token_validity: minutes=10\n",
        )
        .replace(
            f"            - !Find [{SCOPE_MAPPING}, [scope_name, email]]\n"
            f"            - !Find [{SCOPE_MAPPING}, [scope_name, profile]]\n",
            "",
        )
    )
    assert done.blueprint.text == expected
    assert len(done.changes) == 4


def test_values_read_as_authentiks_pyyaml_reads_them() -> None:
    # ruamel's YAML 1.1 resolver makes `y` a bool; PyYAML, which Authentik uses, does not.
    original = (
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers:\n"
        "      name: a\n    attrs:\n      tags: [y, n, yes, 010]   # flow, on purpose\n"
    )
    blueprint = load_blueprint(original, path="b.yaml")
    assert blueprint.entries[0].attrs["tags"] == ["y", "n", True, 8]
    done = blueprint.ensure(GROUP, {"name": "a"}, {"tags": Including(("no",))}, comment="x")
    assert done.blueprint.text == original.replace("010]", '010, "no"]')
    assert done.entry.attrs["tags"] == ["y", "n", True, 8, "no"]


def test_an_id_is_added_to_an_entry_without_one() -> None:
    done = registry().ensure(
        BINDING,
        registry().entries[4].identifiers,  # type: ignore[arg-type]
        {"timeout": 30},
        comment="unused",
        id="operators-binding",
    )
    assert done.blueprint.text == CONFIGMAP.replace(
        f"      - model: {BINDING}\n", f"      - model: {BINDING}\n        id: operators-binding\n"
    )
    assert done.entry.id == "operators-binding"


def test_attrs_added_to_an_entry_without_attrs() -> None:
    original = (
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers:\n      name: a\n"
    )
    done = load_blueprint(original, path="b.yaml").ensure(
        GROUP, {"name": "a"}, {"is_superuser": False}, comment="unused"
    )
    assert done.blueprint.text == original + "    attrs:\n      is_superuser: false\n"


# -- refusals --------------------------------------------------------------------------------


def test_a_literal_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"client_secret.*Env\('NAME'\)") as caught:
        registry().ensure(PROVIDER, {"name": "Registry"}, {"client_secret": "hunter2"}, comment="x")
    assert caught.value.path == "blueprints.yaml"
    with pytest.raises(ConfigError, match="password"):
        registry().ensure(
            "authentik_core.user", {"username": "x"}, {"password": "hunter2"}, comment="x"
        )


def test_an_edit_that_would_lose_a_comment_is_refused() -> None:
    text = CONFIGMAP.replace(
        "            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, email]]\n",
        "            # email for the registry's audit log\n"
        "            - !Find [authentik_providers_oauth2.scopemapping, [scope_name, email]]\n",
    )
    with pytest.raises(ConfigError, match="by hand") as caught:
        registry(text).ensure(
            PROVIDER, {"name": "Registry"}, {"property_mappings": []}, comment="x"
        )
    assert (
        caught.value.line
        == text.split("\n").index("            # email for the registry's audit log") + 1
    )
    # Adding an item is a splice after the list: the comment is not in its way.
    done = registry(text).ensure(
        PROVIDER,
        {"name": "Registry"},
        {"property_mappings": Including((Find(SCOPE_MAPPING, "scope_name", "groups"),))},
        comment="x",
    )
    assert "# email for the registry's audit log" in done.blueprint.text


@pytest.mark.parametrize(
    ("attrs", "id_", "message"),
    [
        ({"name": "x"}, "registry-app", "id `registry-app` is taken"),
        ({"name": "x"}, "another-id", "has id `registry-provider`"),
        ({"redirect_uris": Including(("x",)), "name": "Registry"}, None, None),
        ({"name": Including(("x",))}, None, "`name` is not a list"),
    ],
)
def test_refused_wishes(attrs: dict[str, object], id_: str | None, message: str | None) -> None:
    if message is None:  # the control: a wish of the same shape that is fine
        assert registry().ensure(PROVIDER, {"name": "Registry"}, attrs, comment="x", id=id_).changed  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigError, match=message) as caught:
        registry().ensure(PROVIDER, {"name": "Registry"}, attrs, comment="x", id=id_)  # type: ignore[arg-type]
    assert caught.value.line is not None


def test_an_absent_entry_and_duplicates_are_refused() -> None:
    text = CONFIGMAP.replace(
        "        identifiers:\n          name: pushers\n",
        "        state: absent\n        identifiers:\n          name: pushers\n",
    )
    with pytest.raises(ConfigError, match="state: absent"):
        registry(text).ensure(GROUP, {"name": "pushers"}, {"name": "pushers"}, comment="x")
    twice = CONFIGMAP + PUSHERS_BINDING.replace("order: 1", "order: 0").replace(
        "group: !KeyOf pushers-group", "group: !Find [authentik_core.group, [name, operators]]"
    )
    with pytest.raises(ConfigError, match="several entries"):
        registry(twice).ensure(
            BINDING,
            registry(twice).entries[4].identifiers,
            {"timeout": 5},
            comment="x",  # type: ignore[arg-type]
        )


def test_flow_style_attrs_are_refused() -> None:
    original = (
        "version: 1\nentries:\n"
        "  - model: authentik_core.group\n    identifiers: {name: a}\n    attrs: {name: a}\n"
    )
    blueprint = load_blueprint(original, path="b.yaml")
    assert blueprint.entries[0].identifiers == {"name": "a"}
    with pytest.raises(ConfigError, match="flow mapping") as caught:
        blueprint.ensure(GROUP, {"name": "a"}, {"is_superuser": True}, comment="x")
    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("comment", "model", "message"),
    [
        ("two\nlines", GROUP, "one line"),
        ("fine", "Group", "not an Authentik model name"),
    ],
)
def test_malformed_wishes(comment: str, model: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry().ensure(model, {"name": "x"}, {"name": "x"}, comment=comment)


@pytest.mark.parametrize(
    ("text", "data_key", "message", "line"),
    [
        (CONFIGMAP, "mail.yaml", "no ConfigMap data key `mail.yaml`.*base.yaml, wiki.yaml", None),
        (EMPTY_CONFIGMAP, "README", "not an Authentik blueprint", None),
        (
            CONFIGMAP.replace("  wiki.yaml: |\n", "  wiki.yaml: >\n"),
            "wiki.yaml",
            "not a literal block scalar",
            23,
        ),
        (CONFIGMAP, None, "a ConfigMap: name the data key", None),
        ("version: 1\nentries: [\n", None, "not valid YAML", None),
        (CONFIGMAP.replace("\n", "\r\n"), "registry.yaml", "line break", None),
        ("version: 1\nentries: {a: []}\n", None, "not a list", 2),
    ],
)
def test_files_that_are_not_blueprints(
    text: str, data_key: str | None, message: str, line: int | None
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_blueprint(text, path="where.yaml", data_key=data_key)
    assert caught.value.path == "where.yaml"
    if line is not None:
        assert caught.value.line == line


def test_read_blueprint_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as caught:
        read_blueprint(tmp_path / "nope.yaml", data_key="x.yaml")
    assert caught.value.path == str(tmp_path / "nope.yaml")
