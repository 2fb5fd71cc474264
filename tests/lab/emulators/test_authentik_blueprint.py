"""The Authentik emulator applies a blueprint as authentik's importer does: entries in order,
identifiers finding what exists, tags resolved, states honoured, one bad entry failing the
whole file with nothing left of it; stricter than Authentik where that catches a typo.

The blueprints are the editor's fixtures, edited by the editor, so the two meet here as the
chain meets them: the repository edit, then what Authentik makes of it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mikado.edit.blueprint import Env, Find, Including, KeyOf, load_blueprint
from mikado.lab.emulators import AuthentikEmulator, EmulatorError
from mikado.lab.emulators.authentik_blueprint import apply_blueprint
from mikado.lab.emulators.releases import RELEASES
from tests.edit.test_blueprint import (
    CONFIGMAP,
    EMPTY_CONFIGMAP,
    PROVIDER,
    create_chat,
    ensure_pushers_binding,
    registry,
)

from .conftest import AUTHENTIK_TOKEN

SECRET = "registry-secret-from-the-worker-env"
ENV = {"LINDENHOF_REGISTRY_SECRET": SECRET}
REDIRECT = "https://images.lindenhof.test/auth/callback/oidc"


@pytest.fixture(params=RELEASES["authentik"])
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthentikEmulator]:
    with AuthentikEmulator(
        token=AUTHENTIK_TOKEN, release=request.param, state_file=tmp_path / "authentik.json"
    ) as started:
        yield started


def blueprint_of(configmap: str, key: str) -> str:
    """The blueprint the worker reads from the mounted ConfigMap key."""
    document = load_blueprint(configmap, path="cm.yaml", data_key=key).document
    assert document == yaml.safe_load(configmap)["data"][key]  # what kubelet would write
    return document


def edited_configmap() -> str:
    return ensure_pushers_binding(registry())[0].text


def apply(emulator: AuthentikEmulator, text: str, env: dict[str, str] | None = None) -> list[str]:
    return apply_blueprint(emulator, text, env=ENV if env is None else env, source="bp.yaml")


def apply_registry(emulator: AuthentikEmulator, configmap: str | None = None) -> list[str]:
    configmap = configmap or edited_configmap()
    apply(emulator, blueprint_of(configmap, "base.yaml"))
    return apply(emulator, blueprint_of(configmap, "registry.yaml"))


def one(emulator: AuthentikEmulator, collection: str, **fields: Any) -> dict[str, Any]:
    found = [
        o for o in emulator.stored(collection) if all(o.get(k) == v for k, v in fields.items())
    ]
    assert len(found) == 1, found
    return found[0]  # type: ignore[return-value]


def pk_of(emulator: AuthentikEmulator, collection: str, **fields: Any) -> Any:
    return one(emulator, collection, **fields)["pk"]


# -- applying --------------------------------------------------------------------------------


def test_applies_the_edited_configmap(emulator: AuthentikEmulator) -> None:
    lines = apply_registry(emulator)
    assert lines == [
        "created authentik_core.group name=pushers",
        "created authentik_core.user username=builder",
        f"created {PROVIDER} name=Registry",
        "created authentik_core.application slug=registry",
        "created authentik_policies.policybinding order=0, target=!KeyOf registry-app, "
        "group=!Find [authentik_core.group, [name, operators]]",
        "created authentik_policies.policybinding order=1, target=!KeyOf registry-app, "
        "group=!KeyOf pushers-group",
    ]
    operators = pk_of(emulator, "groups", name="operators")
    pushers = pk_of(emulator, "groups", name="pushers")
    builder = one(emulator, "users", username="builder")
    assert builder["type"] == "service_account"
    assert builder["name"] == "Build Robot"
    assert builder["groups"] == [pushers]

    provider = one(emulator, "providers", name="Registry")
    assert provider["client_id"] == "registry"
    assert provider["client_secret"] == SECRET  # !Env, from the worker's environment
    assert provider["redirect_uris"] == [{"matching_mode": "strict", "url": REDIRECT}]
    assert provider["authorization_flow"] == pk_of(
        emulator, "flows", slug="default-provider-authorization-implicit-consent"
    )
    assert provider["invalidation_flow"] == pk_of(
        emulator, "flows", slug="default-provider-invalidation-flow"
    )
    assert provider["signing_key"] == pk_of(
        emulator, "keypairs", name="authentik Self-signed Certificate"
    )
    assert provider["property_mappings"] == [
        pk_of(emulator, "scope_mappings", scope_name=scope)
        for scope in ("openid", "email", "profile")
    ]
    app = one(emulator, "applications", slug="registry")
    assert app["provider"] == provider["pk"]  # !KeyOf: the pk of an earlier entry's object
    assert app["name"] == "Image Registry"
    bindings = {(b["order"], b["group"]) for b in emulator.stored("bindings")}
    assert bindings == {(0, operators), (1, pushers)}
    assert all(b["target"] == app["pk"] for b in emulator.stored("bindings"))
    # The second binding is what lets the CI robot through.
    with emulator._lock:
        assert emulator.passes(app, emulator.user_named("builder") or {})


def test_what_a_blueprint_made_is_served_by_the_api(emulator: AuthentikEmulator) -> None:
    apply_registry(emulator)
    with httpx.Client(
        base_url=emulator.api_url, headers={"Authorization": f"Bearer {AUTHENTIK_TOKEN}"}
    ) as api:
        providers = api.get("/providers/oauth2/", params={"client_id": "registry"})
        assert providers.status_code == 200
        (provider,) = providers.json()["results"]
        assert provider["assigned_application_slug"] == "registry"
        assert [u["url"] for u in provider["redirect_uris"]] == [REDIRECT]
        app = api.get("/core/applications/registry/")
        assert app.status_code == 200 and app.json()["provider"] == provider["pk"]


def test_reapplying_changes_nothing(emulator: AuthentikEmulator) -> None:
    apply_registry(emulator)
    before = copy.deepcopy(emulator.objects)
    lines = apply(emulator, blueprint_of(edited_configmap(), "registry.yaml"))
    assert len(lines) == 6 and all(line.startswith("unchanged ") for line in lines), lines
    assert emulator.objects == before


def test_an_added_redirect_uri_updates_the_provider(emulator: AuthentikEmulator) -> None:
    apply_registry(emulator)
    second = {"matching_mode": "strict", "url": "https://images.lindenhof.test/v2/token"}
    done = load_blueprint(edited_configmap(), path="cm.yaml", data_key="registry.yaml").ensure(
        PROVIDER, {"name": "Registry"}, {"redirect_uris": Including((second,))}, comment="x"
    )
    lines = apply(emulator, blueprint_of(done.blueprint.text, "registry.yaml"))
    assert lines[2] == f"updated {PROVIDER} name=Registry: redirect_uris"
    provider = one(emulator, "providers", name="Registry")
    assert provider["redirect_uris"] == [{"matching_mode": "strict", "url": REDIRECT}, second]
    assert provider["client_secret"] == SECRET
    assert len(emulator.stored("providers")) == 1


def test_provider_application_and_binding_created_in_an_empty_blueprint(
    emulator: AuthentikEmulator,
) -> None:
    configmap = create_chat(
        load_blueprint(EMPTY_CONFIGMAP, path="cm.yaml", data_key="chat.yaml")
    ).text
    apply(emulator, blueprint_of(CONFIGMAP, "base.yaml"))
    lines = apply(emulator, blueprint_of(configmap, "chat.yaml"), {"LINDENHOF_CHAT_SECRET": "c"})
    assert [line.split()[0] for line in lines] == ["created"] * 3
    provider = one(emulator, "providers", name="Chat")
    app = one(emulator, "applications", slug="chat")
    assert app["provider"] == provider["pk"] and app["name"] == "Chat: Plaudern"
    binding = one(emulator, "bindings", target=app["pk"])
    assert binding["group"] == pk_of(emulator, "groups", name="operators")
    assert provider["client_secret"] == "c"


# -- states ----------------------------------------------------------------------------------

GROUP_ENTRY = """\
version: 1
entries:
  - model: authentik_core.group
    {state}
    identifiers:
      name: pushers
    attrs:
      name: pushers
      is_superuser: {superuser}
"""


def test_state_created_leaves_an_existing_object_alone(emulator: AuthentikEmulator) -> None:
    apply_registry(emulator)
    text = GROUP_ENTRY.format(state="state: created", superuser="true")
    assert apply(emulator, text) == [
        "exists, left as it is (state: created): authentik_core.group name=pushers"
    ]
    assert one(emulator, "groups", name="pushers")["is_superuser"] is False
    assert apply(emulator, GROUP_ENTRY.format(state="", superuser="true")) == [
        "updated authentik_core.group name=pushers: is_superuser"
    ]
    assert one(emulator, "groups", name="pushers")["is_superuser"] is True
    # A member of a superuser group is a superuser (User.is_superuser is a property).
    assert one(emulator, "users", username="builder")["is_superuser"] is True


def test_state_absent_deletes_and_cascades(emulator: AuthentikEmulator) -> None:
    apply_registry(emulator)
    text = GROUP_ENTRY.format(state="state: absent", superuser="false")
    assert apply(emulator, text) == ["deleted authentik_core.group name=pushers"]
    assert [g for g in emulator.stored("groups") if g["name"] == "pushers"] == []
    assert [b["order"] for b in emulator.stored("bindings")] == [0]  # its binding went too
    assert one(emulator, "users", username="builder")["groups"] == []
    assert apply(emulator, text) == ["absent already: authentik_core.group name=pushers"]


# -- failures: the whole file or nothing -------------------------------------------------------


def assert_refused(
    emulator: AuthentikEmulator, text: str, *patterns: str, env: dict[str, str] | None = None
) -> EmulatorError:
    before = copy.deepcopy(emulator.objects)
    with pytest.raises(EmulatorError) as caught:
        apply(emulator, text, env)
    message = str(caught.value)
    for pattern in patterns:
        assert pattern in message, message
    assert "nothing of the blueprint was applied" in message or "entry" not in patterns[0]
    assert emulator.objects == before
    return caught.value


def test_a_missing_env_fails_the_whole_blueprint(emulator: AuthentikEmulator) -> None:
    apply(emulator, blueprint_of(CONFIGMAP, "base.yaml"))
    text = blueprint_of(edited_configmap(), "registry.yaml")
    error = assert_refused(
        emulator,
        text,
        f"entry 3 ({PROVIDER} name=Registry)",
        "!Env LINDENHOF_REGISTRY_SECRET is not set",
        env={},
    )
    assert error.path == "bp.yaml"
    assert text.split("\n")[(error.line or 0) - 1] == f"  - model: {PROVIDER}"
    # The groups and the user of entries 1 and 2 are gone again, on disk too.
    assert [g for g in emulator.stored("groups") if g["name"] == "pushers"] == []
    emulator.stop()
    emulator.start()
    assert [g for g in emulator.stored("groups") if g["name"] == "pushers"] == []
    assert emulator.user_named("builder") is None


def test_env_falls_back_to_its_default_when_unset_or_empty(emulator: AuthentikEmulator) -> None:
    apply(emulator, blueprint_of(CONFIGMAP, "base.yaml"))
    text = blueprint_of(CONFIGMAP, "registry.yaml").replace(
        "!Env LINDENHOF_REGISTRY_SECRET", "!Env [LINDENHOF_REGISTRY_SECRET, fallback]"
    )
    apply(emulator, text, {"LINDENHOF_REGISTRY_SECRET": ""})  # getenv(...) or default
    assert one(emulator, "providers", name="Registry")["client_secret"] == "fallback"


def test_an_unknown_find_target_fails(emulator: AuthentikEmulator) -> None:
    text = blueprint_of(CONFIGMAP, "registry.yaml")  # `operators` comes from base.yaml
    assert_refused(
        emulator,
        text,
        "entry 5 (authentik_policies.policybinding order=0",
        "!Find [authentik_core.group, [name, operators]] finds nothing",
    )
    assert_refused(
        emulator,
        text.replace("authentik_flows.flow, [slug", "authentik_flows.flow, [title"),
        "knows no field `title`",
    )


def test_an_unknown_field_is_refused_as_the_api_refuses_it(emulator: AuthentikEmulator) -> None:
    apply(emulator, blueprint_of(CONFIGMAP, "base.yaml"))
    text = blueprint_of(CONFIGMAP, "registry.yaml")
    assert_refused(emulator, text.replace("sub_mode:", "sub_mod:"), "Unknown field", "sub_mod")
    assert_refused(emulator, text.replace("type: service_account", "kind: x"), "`kind`")
    assert_refused(
        emulator,
        text.replace("is_active: true", "attributes: {}"),
        "attributes",
        "does not model",
    )
    assert_refused(
        emulator, text.replace("      name: Build Robot\n", ""), "entry 2", "This field is required"
    )


def test_the_release_decides_which_fields_exist(emulator: AuthentikEmulator) -> None:
    apply(emulator, blueprint_of(CONFIGMAP, "base.yaml"))
    text = blueprint_of(CONFIGMAP, "registry.yaml").replace(
        "client_type: confidential",
        "client_type: confidential\n      grant_types: [authorization_code]",
    )
    if emulator.release == "2025.2":  # grant_types arrived in 2026.5
        assert_refused(emulator, text, "grant_types", "Unknown field")
    else:
        apply(emulator, text)
        assert one(emulator, "providers", name="Registry")["grant_types"] == ["authorization_code"]


def test_a_keyof_to_a_later_entry_fails(emulator: AuthentikEmulator) -> None:
    text = """\
version: 1
entries:
  - model: authentik_core.user
    identifiers:
      username: early
    attrs:
      username: early
      name: Early
      groups: [!KeyOf later-group]
  - model: authentik_core.group
    id: later-group
    identifiers:
      name: later
"""
    assert_refused(emulator, text, "entry 1", "KeyOf: failed to find entry with `id` of `later")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\nentries: []\n", "Invalid blueprint version"),
        ("version: 1\nentries:\n  - model: authentik_core.group\n    identifers: {}\n", "unknown"),
        ("version: 1\nentries:\n  - model: authentik_core.group\n    attrs: {name: a}\n", "No or"),
        (
            "version: 1\nentries:\n  - model: authentik_core.role\n    identifiers: {name: a}\n",
            "model",
        ),
        (
            "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {nme: a}\n",
            "nme",
        ),
    ],
)
def test_malformed_blueprints(emulator: AuthentikEmulator, text: str, message: str) -> None:
    before = copy.deepcopy(emulator.objects)
    with pytest.raises(EmulatorError, match=message):
        apply(emulator, text)
    assert emulator.objects == before


def test_a_tag_the_emulator_does_not_model_is_refused(emulator: AuthentikEmulator) -> None:
    assert_refused(emulator, blueprint_of(CONFIGMAP, "wiki.yaml"), "the !Format tag")
    readme = yaml.safe_load(EMPTY_CONFIGMAP)["data"]["README"]
    assert_refused(emulator, readme, "Invalid blueprint version")


def test_a_secret_passed_as_env_never_lands_in_the_file() -> None:
    # The editor's side of the same rule: the file names the variable, the emulator reads it.
    done = registry().ensure(
        PROVIDER, {"name": "Registry"}, {"client_secret": Env("OTHER")}, comment="x"
    )
    assert "OTHER" in done.blueprint.text and SECRET not in done.blueprint.text
    assert isinstance(done.entry.attrs["authorization_flow"], Find)
    assert done.entry.attrs["client_secret"] == Env("OTHER")
    assert KeyOf("registry-provider") == registry().entries[3].attrs["provider"]
