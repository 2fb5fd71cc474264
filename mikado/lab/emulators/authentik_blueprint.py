"""The Authentik emulator applying a blueprint, as authentik's blueprint importer does.

After ``authentik/blueprints/v1/importer.py@02a34d22`` (the 2024.x-2025.x importer) and the
tags of ``authentik/blueprints/v1/common.py@02df9eb9``, read in the file index (the monorepo
could not be read at a release tag; /work/research/authentik.md §8). Both imitated releases
get these rules: nothing read says 2026.8 applies entries differently.

- the file is read by PyYAML's SafeLoader with the blueprint tags added, and must say
  ``version: 1``;
- entries are applied in order; an entry's ``identifiers`` find an existing object (the AND
  of them, or ``pk``), which is then updated with the entry's ``attrs`` through the API's own
  serializer, ``partial=True``; without one a new object is made from the attrs with the
  identifiers merged over them (``always_merger``: lists appended, dicts merged, the rest
  overridden) and the API's required fields apply;
- ``state``: ``present`` creates or updates; ``created`` leaves an existing object as it is
  (its validation still runs); ``must_created``'s guard cannot be reached for ordinary models
  in that importer, so it behaves as ``present``; ``absent`` deletes the object if found;
- ``!KeyOf id`` is the pk of the object an *earlier* entry with that ``id`` made or found (a
  later one is an error), and inside a policy binding an application's ``pbm_uuid`` (here
  the same value as its pk); ``!Find [model, [field, value], ...]`` the pk of the first
  object matching every condition, or null; ``!Env NAME`` / ``!Env [NAME, default]`` is
  ``os.getenv(NAME) or default``, so an unset (or empty) variable is null;
- one invalid entry fails the whole file and nothing of it stays (``atomic()``).

Deliberately stricter than Authentik, to catch mistakes the real server lets through
silently: attrs are held to the release's request models with unknown fields refused (DRF
ignores them), as the emulator's API does; a ``!Find`` that finds nothing and an ``!Env``
that is unset are refused instead of becoming null; unknown entry keys are refused (dacite
drops them); fields and tags the emulator does not model are refused, never ignored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from mikado.lab.emulators._server import EmulatorError, Request
from mikado.lab.emulators.authentik import AuthentikEmulator, _digest

# Blueprint model → (the emulator's collection, the request model its attrs are held to).
# Groups and users have no request model in the shipped schemas: their response model's
# fields are the known ones, and only _GROUP_FIELDS / _USER_FIELDS of those are modelled.
_MODELS: dict[str, tuple[str, str]] = {
    "authentik_core.group": ("groups", "Group"),
    "authentik_core.user": ("users", "User"),
    "authentik_providers_oauth2.oauth2provider": ("providers", "OAuth2ProviderRequest"),
    "authentik_core.application": ("applications", "ApplicationRequest"),
    "authentik_policies.policybinding": ("bindings", "PolicyBindingRequest"),
}
# What !Find can look in, besides the models above.
_FINDABLE: dict[str, str] = {
    **{model: collection for model, (collection, _) in _MODELS.items()},
    "authentik_flows.flow": "flows",
    "authentik_crypto.certificatekeypair": "keypairs",
    "authentik_providers_oauth2.scopemapping": "scope_mappings",
}
_GROUP_FIELDS = frozenset({"name", "is_superuser"})
_USER_FIELDS = frozenset({"username", "name", "email", "type", "groups", "is_active", "path"})
# authentik/core/api/users.py: UserSerializer adds `password` when it runs for a blueprint.
_USER_BLUEPRINT_FIELDS = frozenset({"password"})
_READ_ONLY = frozenset(
    {"pk", "num_pk", "uuid", "uid", "avatar", "last_login", "date_joined", "last_updated"}
)
_ENTRY_KEYS = frozenset(
    {"model", "state", "conditions", "identifiers", "attrs", "permissions", "id"}
)
_STATES = ("present", "created", "must_created", "absent")


@dataclass(frozen=True, slots=True)
class _KeyOf:
    id: str


@dataclass(frozen=True, slots=True)
class _Find:
    model: Any
    conditions: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True, slots=True)
class _Env:
    name: Any
    default: Any = None


@dataclass(frozen=True, slots=True)
class _Unmodelled:
    tag: str


class _Loader(yaml.SafeLoader):
    """authentik's BlueprintLoader: a SafeLoader with the blueprint tags."""


def _construct_keyof(loader: yaml.SafeLoader, node: yaml.Node) -> _KeyOf:
    return _KeyOf(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


def _construct_find(loader: yaml.SafeLoader, node: yaml.Node) -> _Find:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        return _Find(None, ())
    model = loader.construct_object(node.value[0], deep=True)
    conditions = []
    for condition in node.value[1:]:
        values = loader.construct_object(condition, deep=True)
        if not isinstance(values, list) or len(values) != 2:
            raise yaml.constructor.ConstructorError(
                None, None, "a !Find condition is a [field, value] pair", condition.start_mark
            )
        conditions.append((values[0], values[1]))
    return _Find(model, tuple(conditions))


def _construct_env(loader: yaml.SafeLoader, node: yaml.Node) -> _Env:
    if isinstance(node, yaml.SequenceNode):
        values = loader.construct_sequence(node, deep=True)
        return _Env(values[0] if values else None, values[1] if len(values) > 1 else None)
    return _Env(loader.construct_scalar(node))  # type: ignore[arg-type]


def _construct_other(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Unmodelled:
    return _Unmodelled("!" + suffix)


_Loader.add_constructor("!KeyOf", _construct_keyof)
_Loader.add_constructor("!Find", _construct_find)
_Loader.add_constructor("!Env", _construct_env)
_Loader.add_multi_constructor("!", _construct_other)  # !Format, !If, !Context...


class _Invalid(Exception):
    """An entry authentik's importer (or the emulator, stricter) refuses."""


@dataclass(frozen=True, slots=True)
class _Entry:
    number: int
    line: int
    model: str
    state: Any
    identifiers: Mapping[str, Any]
    attrs: Mapping[str, Any]
    conditions: list[Any]
    id: str | None

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in self.identifiers.items())
        return f"{self.model} {shown}".rstrip()


def apply_blueprint(
    emulator: AuthentikEmulator, text: str, *, env: Mapping[str, str], source: str
) -> list[str]:
    """Apply the blueprint ``text`` (the blueprint document itself) to ``emulator`` as
    Authentik's importer would, with ``env`` as the worker's environment for ``!Env``.

    Returns one line per entry saying what became of it. Raises :class:`EmulatorError`
    naming ``source``, the entry's line and its model and identifiers when an entry is
    invalid; the emulator's objects are then as they were before the call.
    """
    entries = _entries(text, source)
    with emulator._lock:
        if "groups" not in emulator.objects:
            raise EmulatorError("start the Authentik emulator before applying a blueprint")
        saved_objects = copy.deepcopy(emulator.objects)
        saved_counters = dict(emulator._counters)
        importer = _Importer(emulator, env)
        done: list[str] = []
        try:
            for entry in entries:
                try:
                    done.append(importer.apply(entry))
                except _Invalid as error:
                    raise EmulatorError(
                        f"entry {entry.number} ({entry.describe()}): {error}; nothing of the "
                        "blueprint was applied (Authentik rolls it back as a whole)",
                        path=source,
                        line=entry.line,
                    ) from None
        except BaseException:
            # In place: the renderer holds the same dict.
            for collection, objects in saved_objects.items():
                emulator.objects[collection] = objects
            emulator._counters = saved_counters
            emulator._changed("applications")  # flushes the application cache and saves
            raise
    return done


def _entries(text: str, source: str) -> list[_Entry]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise EmulatorError(f"not a blueprint: {error}", path=source, line=line) from None
    finally:
        loader.dispose()
    if not isinstance(document, dict) or document.get("version") != 1:
        raise EmulatorError(
            "Invalid blueprint version (a blueprint says `version: 1`)", path=source
        )
    raw = document.get("entries") or []
    if not isinstance(raw, list):
        raise EmulatorError("the emulator does not model sections of entries", path=source)
    assert isinstance(root, yaml.MappingNode)
    entries_node = next(v for k, v in root.value if k.value == "entries") if raw else None
    result = []
    for number, item in enumerate(raw, start=1):
        line = entries_node.value[number - 1].start_mark.line + 1 if entries_node else 0
        if not isinstance(item, dict) or not isinstance(item.get("model"), str):
            raise EmulatorError(f"entry {number} has no `model`", path=source, line=line)
        unknown = sorted(set(item) - _ENTRY_KEYS)
        if unknown:
            raise EmulatorError(
                f"entry {number} has unknown keys {unknown} (Authentik drops them silently)",
                path=source,
                line=line,
            )
        if item.get("permissions"):
            raise EmulatorError(
                f"entry {number}: the emulator does not model `permissions`", path=source, line=line
            )
        conditions = item.get("conditions") or []
        result.append(
            _Entry(
                number=number,
                line=line,
                model=item["model"],
                state=item.get("state", "present"),
                identifiers=item.get("identifiers") or {},
                attrs=item.get("attrs") or {},
                conditions=conditions if isinstance(conditions, list) else [conditions],
                id=str(item["id"]) if item.get("id") is not None else None,
            )
        )
    return result


def _shown(value: Any) -> str:
    if isinstance(value, _KeyOf):
        return f"!KeyOf {value.id}"
    if isinstance(value, _Find):
        conditions = ", ".join(f"[{f}, {v}]" for f, v in value.conditions)
        return f"!Find [{value.model}, {conditions}]"
    if isinstance(value, _Env):
        return f"!Env {value.name}"
    if isinstance(value, _Unmodelled):
        return value.tag
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


class _Importer:
    def __init__(self, emulator: AuthentikEmulator, env: Mapping[str, str]):
        self.emulator = emulator
        self.env = env
        self.instances: dict[str, Any] = {}  # entry id → pk of its object

    @property
    def objects(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.emulator.objects

    # tags ----------------------------------------------------------------------------------

    def resolve(self, value: Any, entry: _Entry) -> Any:
        """``BlueprintEntry.tag_resolver`` (common.py): tags anywhere in lists and dicts."""
        if isinstance(value, _KeyOf):
            # KeyOf.resolve: only entries already applied have an instance. For a binding's
            # target it returns an application's pbm_uuid, which is the emulator's pk.
            if value.id not in self.instances:
                raise _Invalid(
                    f"KeyOf: failed to find entry with `id` of `{value.id}` and a model instance "
                    "(it must come before this entry)"
                )
            return self.instances[value.id]
        if isinstance(value, _Find):
            return self.find(value, entry)
        if isinstance(value, _Env):  # Env.resolve: `getenv(key) or default`
            found = self.env.get(str(value.name)) or self.resolve(value.default, entry)
            if found is None:
                raise _Invalid(
                    f"!Env {value.name} is not set in Authentik's environment (Authentik "
                    "would write null; the lab refuses)"
                )
            return found
        if isinstance(value, _Unmodelled):
            raise _Invalid(f"the emulator does not model the {value.tag} tag")
        if isinstance(value, dict):
            return {k: self.resolve(v, entry) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, entry) for item in value]
        return value

    def find(self, tag: _Find, entry: _Entry) -> Any:
        """Find.resolve: the first object matching every [field, value] (ANDed)."""
        model = self.resolve(tag.model, entry)
        collection = _FINDABLE.get(str(model).lower())
        if collection is None:
            raise _Invalid(f"!Find: the emulator has no objects of model {model}")
        conditions = [(self.resolve(f, entry), self.resolve(v, entry)) for f, v in tag.conditions]
        for name, _ in conditions:
            known = {"pk"} | {key for obj in self.objects[collection].values() for key in obj}
            if name not in known:
                raise _Invalid(f"!Find: the emulator knows no field `{name}` of {model}")
        for obj in self.objects[collection].values():
            if all(_same(obj.get(name), value) for name, value in conditions):
                return obj["pk"]
        raise _Invalid(f"{_shown(tag)} finds nothing (Authentik would write null; the lab refuses)")

    # entries -------------------------------------------------------------------------------

    def apply(self, entry: _Entry) -> str:
        """importer.py ``_validate_single`` and ``_apply_models`` for one entry."""
        what = entry.describe()
        model = entry.model.lower()
        if model not in _MODELS:
            raise _Invalid(f"the emulator does not model {entry.model}")
        collection, request_model = _MODELS[model]
        state = entry.state
        if state not in _STATES:
            raise _Invalid(f"'{state}' is not a valid BlueprintEntryDesiredState")
        if not all(self.resolve(entry.conditions, entry)):
            return f"skipped {what}: its conditions do not hold"
        try:
            identifiers = self.resolve(dict(entry.identifiers), entry)
        except _Invalid:
            if state == "absent":  # the importer skips a delete it cannot resolve
                return f"skipped {what}: nothing to delete"
            raise
        if not identifiers:
            raise _Invalid("No or invalid identifiers")
        known = self.known_fields(collection, request_model) | {"pk"}
        for name in identifiers:
            if name not in known:
                raise _Invalid(f"Invalid identifier field: Cannot resolve keyword '{name}'")
        key = self.existing(collection, identifiers)
        if state == "absent":
            if key is None:
                return f"absent already: {what}"
            self.delete(collection, key)
            return f"deleted {what}"
        data = _merged(self.resolve(dict(entry.attrs), entry), identifiers)
        data.pop("pk", None)
        before = copy.deepcopy(self.objects[collection].get(key)) if key else None
        # `created` validates an existing object but does not save it; `must_created` would
        # refuse one, but its guard sits after the "existing instance" branch in
        # _validate_single and is never reached for a model object: it updates, as here.
        if key is not None and state == "created":
            self.validate(collection, request_model, data, key)
            line = f"exists, left as it is (state: created): {what}"
        else:
            key = self.write(collection, request_model, data, key)
            if before is None:
                line = f"created {what}"
            else:
                after = self.objects[collection][key]
                changed = sorted(k for k in after if after.get(k) != before.get(k))
                line = f"updated {what}: {', '.join(changed)}" if changed else f"unchanged {what}"
        if entry.id is not None:
            self.instances[entry.id] = self.objects[collection][key]["pk"]
        return line

    def known_fields(self, collection: str, request_model: str) -> frozenset[str]:
        models = self.emulator.models
        if collection in ("groups", "users"):
            extra = _USER_BLUEPRINT_FIELDS if collection == "users" else frozenset()
            return (models.properties(request_model) - _READ_ONLY) | extra
        return models.properties(request_model)

    def existing(self, collection: str, identifiers: Mapping[str, Any]) -> str | None:
        """The first object matching ``pk``, or all the other identifiers
        (importer.py ``__query_from_identifier``: ``Q(pk=...) | (Q(a=...) & Q(b=...))``)."""
        others = {k: v for k, v in identifiers.items() if k != "pk"}
        for key, obj in self.objects[collection].items():
            if "pk" in identifiers and _same(obj["pk"], identifiers["pk"]):
                return key
            if others and all(_same(obj.get(k), v) for k, v in others.items()):
                return key
        return None

    # writes --------------------------------------------------------------------------------

    def write(
        self, collection: str, request_model: str, data: dict[str, Any], key: str | None
    ) -> str:
        if collection in ("groups", "users"):
            self.validate(collection, request_model, data, key)
            return self.write_identity(collection, data, key)
        # The importer saves through the API's serializer: so does this, through the API.
        status, body = self.request(collection, data, key)
        if status >= 400:
            raise _Invalid(f"Serializer errors {body}")
        if key is not None:
            return key
        return str(body["pk"])

    def request(self, collection: str, data: dict[str, Any], key: str | None) -> tuple[int, Any]:
        request = Request(
            method="POST" if key is None else "PATCH",
            path="",
            query={},
            headers={},
            body=json.dumps(data).encode(),
        )
        response = self.emulator._write(request, collection, key)
        return response.status, json.loads(response.body)

    def validate(
        self, collection: str, request_model: str, data: dict[str, Any], key: str | None
    ) -> None:
        if collection not in ("groups", "users"):
            if key is None:
                return
            # A PATCH's request-model checks, without the write.
            problems = self.emulator.models.problems(f"Patched{request_model}", data)
            if problems:
                raise _Invalid(f"Serializer errors {problems}")
            return
        modelled = _GROUP_FIELDS if collection == "groups" else _USER_FIELDS
        known = self.known_fields(collection, request_model)
        errors: dict[str, list[str]] = {}
        for name in data:
            if name not in known:
                errors[name] = [
                    f"Unknown field: the {self.emulator.release} API has no `{name}` (the "
                    "real server would ignore it without a word)."
                ]
            elif name not in modelled and name not in _USER_BLUEPRINT_FIELDS:
                errors[name] = ["The emulator does not model this field."]
        checked = {k: v for k, v in data.items() if k in modelled}
        for name, found in self.emulator.models.problems(request_model, checked).items():
            if name in checked:
                errors.setdefault(name, []).extend(found)
        if not isinstance(data.get("password", ""), str | None):
            errors["password"] = ["Not a valid string."]
        errors.update(self.identity_errors(collection, data, key))
        if errors:
            raise _Invalid(f"Serializer errors {errors}")

    def identity_errors(
        self, collection: str, data: Mapping[str, Any], key: str | None
    ) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        unique = "name" if collection == "groups" else "username"
        required = ("name",) if collection == "groups" else ("username", "name")
        for name in required if key is None else ():
            if name not in data:
                errors[name] = ["This field is required."]
        for other_key, other in self.objects[collection].items():
            if other_key != key and unique in data and other[unique] == data[unique]:
                errors[unique] = [f"{collection[:-1]} with this {unique} already exists."]
        for group in data.get("groups") or [] if collection == "users" else []:
            if str(group) not in self.objects["groups"]:
                errors.setdefault("groups", []).append(
                    f'Invalid pk "{group}" - object does not exist.'
                )
        if data.get("is_active") is False:
            errors["is_active"] = ["The emulator does not model inactive users."]
        return errors

    def write_identity(self, collection: str, data: dict[str, Any], key: str | None) -> str:
        """Groups and users have no API writes in the emulator: the admin helpers make them,
        and an update sets the stored fields."""
        emulator = self.emulator
        if key is None and collection == "groups":
            key = emulator.add_group(data["name"], superuser=bool(data.get("is_superuser")))
        elif key is None:
            names = [self.objects["groups"][str(pk)]["name"] for pk in data.get("groups") or []]
            key = str(
                emulator.add_user(
                    data["username"],
                    email=data.get("email"),
                    groups=names,
                    password=data.get("password"),
                    service_account=data.get("type") == "service_account",
                )
            )
        stored = self.objects[collection][key]
        for name, value in data.items():
            if name == "password":
                stored["password"] = _digest(value) if value else None
            elif name == "groups":
                stored["groups"] = [str(pk) for pk in value]
            elif name != "is_active":  # always true here (inactive users are refused)
                stored[name] = value
        # User.is_superuser is a property (a member of a superuser group is one); the emulator
        # stores it, so whatever changes it is followed here.
        groups = self.objects["groups"]
        if collection == "users" and "groups" in data:
            members = [stored]
        elif collection == "groups" and "is_superuser" in data:
            members = [u for u in self.objects["users"].values() if key in u["groups"]]
        else:
            members = []
        for user in members:
            user["is_superuser"] = any(groups[pk].get("is_superuser") for pk in user["groups"])
        emulator._changed(collection)
        return key

    def delete(self, collection: str, key: str) -> None:
        if collection not in ("groups", "users"):
            self.emulator._delete(collection, key)
            return
        removed = self.objects[collection].pop(key)
        field = "group" if collection == "groups" else "user"
        bindings = self.objects["bindings"]
        # PolicyBinding.group and .user cascade.
        for pk in [pk for pk, b in bindings.items() if _same(b.get(field), removed["pk"])]:
            del bindings[pk]
        if collection == "groups":
            for user in self.objects["users"].values():
                user["groups"] = [pk for pk in user["groups"] if pk != key]
        self.emulator._changed(collection)


def _merged(attrs: Any, identifiers: Mapping[str, Any]) -> dict[str, Any]:
    """deepmerge's ``always_merger.merge(attrs, identifiers)``, as ``_validate_single`` merges
    the identifiers into the data it saves."""
    result = dict(attrs) if isinstance(attrs, dict) else {}
    for name, value in identifiers.items():
        current = result.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            result[name] = _merged(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            result[name] = current + value
        else:
            result[name] = value
    return result


def _same(stored: Any, wanted: Any) -> bool:
    """A database lookup's equality: a uuid or number matches its text, a bool only a bool."""
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return stored is wanted
    if stored is None or wanted is None:
        return stored is wanted
    if _uuid_like(stored):
        return str(stored).lower() == str(wanted).lower()
    return str(stored) == str(wanted)


def _uuid_like(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36 and value.count("-") == 4
