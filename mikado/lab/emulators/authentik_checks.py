"""The checks Authentik's serializers make on a write beyond the request model: references
that must exist, values unique per collection, a valid slug and regex, and a binding's single
subject. A stand-in that skipped them would accept writes real Authentik refuses with 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mikado.lab.emulators._models import FieldErrors
from mikado.lab.emulators._server import JSONValue

Objects = Mapping[str, Mapping[str, Mapping[str, Any]]]  # collection → pk → object
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


def provider_errors(objects: Objects, provider: Mapping[str, Any], key: str | None) -> FieldErrors:
    errors: FieldErrors = {}
    for name in ("authorization_flow", "invalidation_flow", "authentication_flow"):
        _check_reference(errors, name, provider.get(name), objects["flows"])
    for name in ("signing_key", "encryption_key"):
        _check_reference(errors, name, provider.get(name), objects["keypairs"])
    for mapping in _as_list(provider.get("property_mappings")):
        _check_reference(errors, "property_mappings", mapping, objects["scope_mappings"])
    for other_key, other in objects["providers"].items():
        if other_key == key:
            continue
        if other["name"] == provider.get("name"):
            errors.setdefault("name", []).append("Provider with this name already exists.")
        if "client_id" in provider and other["client_id"] == provider["client_id"]:
            errors.setdefault("client_id", []).append(
                "OAuth2/OpenID Provider with this Client ID already exists."
            )
    for redirect in _as_list(provider.get("redirect_uris")):
        if isinstance(redirect, dict) and redirect.get("matching_mode") == "regex":
            try:
                re.compile(str(redirect.get("url", "")))
            except re.error:
                errors.setdefault("redirect_uris", []).append("Invalid Regex Pattern")
    return errors


def application_errors(
    objects: Objects, application: Mapping[str, Any], key: str | None
) -> FieldErrors:
    errors: FieldErrors = {}
    slug = str(application.get("slug", ""))
    if not _SLUG.match(slug):
        errors["slug"] = [
            "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."
        ]
    provider = application.get("provider")
    if provider is not None and str(provider) not in objects["providers"]:
        errors["provider"] = [f'Invalid pk "{provider}" - object does not exist.']
    for other_key, other in objects["applications"].items():
        if other_key == key:
            continue
        if other["slug"] == slug:
            errors.setdefault("slug", []).append("Application with this slug already exists.")
        if provider is not None and other.get("provider") == provider:
            errors.setdefault("provider", []).append(
                "Application with this provider already exists."
            )
    return errors


def binding_errors(objects: Objects, binding: Mapping[str, Any], key: str | None) -> FieldErrors:
    """authentik/policies/api/bindings.py: the target resolves to a policy-binding model
    (an application or a flow, by its pk); exactly one of policy, group, user is set."""
    errors: FieldErrors = {}
    target = str(binding.get("target"))
    if target not in objects["applications"] and target not in objects["flows"]:
        errors["target"] = [f'Invalid pk "{target}" - object does not exist.']
    _check_reference(errors, "group", binding.get("group"), objects["groups"])
    _check_reference(errors, "user", binding.get("user"), objects["users"])
    if binding.get("policy") is not None:  # no policies are emulated
        errors["policy"] = [f'Invalid pk "{binding["policy"]}" - object does not exist.']
    chosen = [name for name in ("policy", "group", "user") if binding.get(name) is not None]
    if len(chosen) > 1:
        errors.setdefault("non_field_errors", []).append(
            "Only one of 'policy', 'user', 'group' can be set."
        )
    elif not chosen:
        errors.setdefault("non_field_errors", []).append(
            "One of 'policy', 'user', 'group' must be set."
        )
    return errors


def _as_list(value: JSONValue) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _check_reference(
    errors: FieldErrors, name: str, value: JSONValue, objects: Mapping[str, object]
) -> None:
    if value is not None and str(value) not in objects:
        errors.setdefault(name, []).append(f'Invalid pk "{value}" - object does not exist.')
