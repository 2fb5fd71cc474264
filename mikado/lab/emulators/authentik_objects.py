"""The objects the Authentik emulator keeps, and how each release shows them.

Stored objects hold every field any imitated release knows; a release's view of an object
keeps the fields of its response model (``schemas/authentik-<release>/models.json``) and
nothing else. Differences that are more than a missing field (a group's single ``parent``
becoming a ``parents`` list, a keypair's ``private_key_type`` renamed ``key_type``) are
written out per release. Each is taken from the official client of that release; tests hold
every rendered object to the release's response model.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from mikado.lab.emulators._models import ModelSchemas
from mikado.lab.emulators._server import JSONValue

API_PREFIX = "/api/v3"
AUTHORIZATION_FLOW_SLUG = "default-provider-authorization-implicit-consent"
INVALIDATION_FLOW_SLUG = "default-provider-invalidation-flow"
AUTHENTICATION_FLOW_SLUG = "default-authentication-flow"
SIGNING_KEY_NAME = "authentik Self-signed Certificate"
SCOPE_MANAGED_PREFIX = "goauthentik.io/providers/oauth2/scope-"
_FLOW_BACKGROUND = "/static/dist/assets/images/flow_background.jpg"

# What a provider gets for each field a request leaves out: the model defaults of
# authentik/providers/oauth2/models.py. `grant_types` defaults to an empty list since
# migration 0033 (2026.5); `refresh_token_threshold`, `logout_*` arrived in 2025.8-2025.10.
PROVIDER_DEFAULTS: dict[str, JSONValue] = {
    "authentication_flow": None,
    "property_mappings": [],
    "client_type": "confidential",
    "grant_types": [],
    "access_code_validity": "minutes=1",
    "access_token_validity": "hours=1",
    "refresh_token_validity": "days=30",
    "refresh_token_threshold": "seconds=0",
    "include_claims_in_id_token": True,
    "signing_key": None,
    "encryption_key": None,
    "logout_uri": "",
    "logout_method": "backchannel",
    "sub_mode": "hashed_user_id",
    "issuer_mode": "per_provider",
    "jwt_federation_sources": [],
    "jwt_federation_providers": [],
}
APPLICATION_DEFAULTS: dict[str, JSONValue] = {
    "provider": None,
    "backchannel_providers": [],
    "open_in_new_tab": False,
    "meta_launch_url": "",
    "meta_icon": None,
    "meta_description": "",
    "meta_publisher": "",
    "policy_engine_mode": "any",
    "group": "",
    "meta_hide": False,
}
BINDING_DEFAULTS: dict[str, JSONValue] = {
    "policy": None,
    "group": None,
    "user": None,
    "negate": False,
    "enabled": True,
    "timeout": 30,
    "failure_result": False,
}


class Renderer:
    """One release's view of the stored objects."""

    def __init__(self, models: ModelSchemas, objects: Mapping[str, Mapping[str, Any]]):
        self.models = models
        self.release = models.release
        self.objects = objects

    def _keep(self, model: str, rendered: dict[str, JSONValue]) -> dict[str, JSONValue]:
        fields = self.models.properties(model)
        return {name: value for name, value in rendered.items() if name in fields}

    @property
    def newer_groups(self) -> bool:
        """2025.12 turned a group's `parent` into a `parents` list (client 2025.12.6)."""
        return "parents" in self.models.properties("Group")

    def flow(self, flow: Mapping[str, Any]) -> dict[str, JSONValue]:
        return self._keep(
            "Flow",
            {
                "pk": flow["pk"],
                "policybindingmodel_ptr_id": flow["pk"],
                "name": flow["name"],
                "slug": flow["slug"],
                "title": flow["name"],
                "designation": flow["designation"],
                # 2025.2 shows the image URL here (read-only); 2026.x the stored file name,
                # with the URL moved to `background_url`.
                "background": "" if self.newer_groups else _FLOW_BACKGROUND,
                "background_url": _FLOW_BACKGROUND,
                "background_themed_urls": None,
                "stages": [],
                "policies": [],
                "cache_count": 0,
                "policy_engine_mode": "any",
                "compatibility_mode": False,
                "export_url": f"{API_PREFIX}/flows/instances/{flow['slug']}/export/",
                "layout": "stacked",
                "denied_action": "message_continue",
                "authentication": flow.get("authentication", "none"),
            },
        )

    def keypair(self, keypair: Mapping[str, Any]) -> dict[str, JSONValue]:
        digest = hashlib.sha256(str(keypair["pk"]).encode()).hexdigest()
        base = f"{API_PREFIX}/crypto/certificatekeypairs/{keypair['pk']}"
        return self._keep(
            "CertificateKeyPair",
            {
                "pk": keypair["pk"],
                "name": keypair["name"],
                "fingerprint_sha256": digest,
                "fingerprint_sha1": digest[:40],
                "cert_expiry": "2036-01-01T00:00:00Z",
                "cert_subject": f"CN={keypair['name']}",
                "private_key_available": True,
                "private_key_type": "rsa",  # renamed key_type in 2026.x
                "key_type": "rsa",
                "certificate_download_url": f"{base}/view_certificate/?download",
                "private_key_download_url": f"{base}/view_private_key/?download",
                "managed": keypair["managed"],
            },
        )

    def scope_mapping(self, mapping: Mapping[str, Any]) -> dict[str, JSONValue]:
        return self._keep(
            "ScopeMapping",
            {
                "pk": mapping["pk"],
                "managed": mapping["managed"],
                "name": mapping["name"],
                "expression": "return {}",
                "component": "ak-property-mapping-provider-scope-form",
                "verbose_name": "Scope Mapping",
                "verbose_name_plural": "Scope Mappings",
                "meta_model_name": "authentik_providers_oauth2.scopemapping",
                "scope_name": mapping["scope_name"],
                "description": "",
            },
        )

    def group(self, group: Mapping[str, Any]) -> dict[str, JSONValue]:
        members = [
            user["pk"]
            for user in self.objects["users"].values()
            if str(group["pk"]) in user.get("groups", [])
        ]
        return self._keep(
            "Group",
            {
                "pk": group["pk"],
                "num_pk": group["num_pk"],
                "name": group["name"],
                "is_superuser": bool(group.get("is_superuser", False)),
                "parent": None,
                "parent_name": None,
                "parents": [],
                "parents_obj": [],
                "users": members,
                "users_obj": None,
                "attributes": {},
                "roles": [],
                "roles_obj": [],
                "inherited_roles_obj": [],
                "children": [],
                "children_obj": [],
            },
        )

    def user(self, user: Mapping[str, Any]) -> dict[str, JSONValue]:
        groups = [self.objects["groups"][pk] for pk in user.get("groups", [])]
        if self.newer_groups:
            groups_obj: list[JSONValue] = [
                {"pk": g["pk"], "num_pk": g["num_pk"], "name": g["name"],
                 "is_superuser": bool(g.get("is_superuser", False)), "attributes": {}}
                for g in groups
            ]  # fmt: skip
        else:
            groups_obj = [
                {"pk": g["pk"], "num_pk": g["num_pk"], "name": g["name"],
                 "is_superuser": bool(g.get("is_superuser", False)), "parent": None,
                 "parent_name": None, "attributes": {}}
                for g in groups
            ]  # fmt: skip
        return self._keep(
            "User",
            {
                "pk": user["pk"],
                "username": user["username"],
                "name": user["name"],
                "is_active": True,
                "last_login": None,
                "date_joined": "2026-01-01T00:00:00Z",
                "is_superuser": bool(user.get("is_superuser", False)),
                "groups": list(user.get("groups", [])),
                "groups_obj": groups_obj,
                "roles": [],
                "roles_obj": [],
                "email": user.get("email", ""),
                "avatar": "/static/dist/assets/images/user_default.png",
                "attributes": {},
                "uid": hashlib.sha256(user["username"].encode()).hexdigest(),
                "path": "users",
                "type": user.get("type", "internal"),
                "uuid": user["uuid"],
                "password_change_date": "2026-01-01T00:00:00Z",
                "last_updated": "2026-01-01T00:00:00Z",
            },
        )

    def _application_of(self, provider_pk: JSONValue) -> Mapping[str, Any] | None:
        applications: Mapping[str, Mapping[str, Any]] = self.objects["applications"]
        return next((a for a in applications.values() if a.get("provider") == provider_pk), None)

    def provider_summary(self, provider: Mapping[str, Any]) -> dict[str, JSONValue]:
        application = self._application_of(provider["pk"])
        # 2025.2 shows an unassigned provider's application as "" (non-null strings).
        absent: str | None = None if self.newer_groups else ""
        return {
            "pk": provider["pk"],
            "name": provider["name"],
            "authentication_flow": provider.get("authentication_flow"),
            "authorization_flow": provider["authorization_flow"],
            "invalidation_flow": provider["invalidation_flow"],
            "property_mappings": list(provider.get("property_mappings", [])),
            "component": "ak-provider-oauth2-form",
            "assigned_application_slug": application["slug"] if application else absent,
            "assigned_application_name": application["name"] if application else absent,
            "assigned_backchannel_application_slug": absent,
            "assigned_backchannel_application_name": absent,
            "verbose_name": "OAuth2/OpenID Provider",
            "verbose_name_plural": "OAuth2/OpenID Providers",
            "meta_model_name": "authentik_providers_oauth2.oauth2provider",
        }

    def provider(self, provider: Mapping[str, Any]) -> dict[str, JSONValue]:
        rendered = self.provider_summary(provider)
        for name, default in PROVIDER_DEFAULTS.items():
            rendered[name] = provider.get(name, default)
        rendered["client_id"] = provider["client_id"]
        rendered["client_secret"] = provider["client_secret"]
        redirect_fields = self.models.properties("RedirectURI")
        rendered["redirect_uris"] = [
            {name: value for name, value in {"redirect_uri_type": "authorization", **uri}.items()
             if name in redirect_fields}
            for uri in provider["redirect_uris"]
        ]  # fmt: skip
        return self._keep("OAuth2Provider", rendered)

    def application(self, application: Mapping[str, Any]) -> dict[str, JSONValue]:
        provider_pk = application.get("provider")
        provider = (
            self.objects["providers"].get(str(provider_pk)) if provider_pk is not None else None
        )
        rendered = {name: application.get(name, d) for name, d in APPLICATION_DEFAULTS.items()}
        rendered.update(
            {
                "pk": application["pk"],
                # The pk *is* the policy-binding model's uuid (multi-table inheritance); 2026.8
                # also shows it under its own name.
                "pbm_uuid": application["pk"],
                "name": application["name"],
                "slug": application["slug"],
                "provider_obj": self._keep("Provider", self.provider_summary(provider))
                if provider
                else None,
                "backchannel_providers_obj": [],
                "launch_url": application.get("meta_launch_url") or None,
                "meta_icon_url": None,
                "meta_icon_themed_urls": None,
            }
        )
        return self._keep("Application", rendered)

    def binding(self, binding: Mapping[str, Any]) -> dict[str, JSONValue]:
        group = self.objects["groups"].get(str(binding.get("group")))
        user = self.objects["users"].get(str(binding.get("user")))
        user_obj: dict[str, JSONValue] | None = None
        if user is not None:  # 2026.x shows a PartialUser, 2025.2 the whole User
            user_obj = self.user(user)
            if self.newer_groups:
                user_obj = self._keep("PartialUser", user_obj)
        rendered = {name: binding.get(name, d) for name, d in BINDING_DEFAULTS.items()}
        rendered.update(
            {
                "pk": binding["pk"],
                "target": binding["target"],
                "order": binding["order"],
                "policy_obj": None,
                "group_obj": self.group(group) if group else None,
                "user_obj": user_obj,
                "expires": None,
                "expiring": False,
            }
        )
        if group and self.newer_groups:
            rendered["group_obj"] = {
                "pk": group["pk"],
                "num_pk": group["num_pk"],
                "name": group["name"],
                "is_superuser": bool(group.get("is_superuser", False)),
                "attributes": {},
            }
        return self._keep("PolicyBinding", rendered)

    def render(self, collection: str, stored: Mapping[str, Any]) -> dict[str, JSONValue]:
        render = {
            "flows": self.flow,
            "keypairs": self.keypair,
            "scope_mappings": self.scope_mapping,
            "groups": self.group,
            "users": self.user,
            "providers": self.provider,
            "applications": self.application,
            "bindings": self.binding,
        }[collection]
        return render(stored)


_NAMESPACE = uuid.UUID("6f1c1d5e-3b7e-4c1e-9f0e-6d2a3c4b5a69")  # makes seeded pks reproducible


def _seeded_pk(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def seeded_objects() -> dict[str, dict[str, dict[str, Any]]]:
    """What a new Authentik holds that the chain looks up: the default flows, the
    self-signed keypair and the OpenID scope mappings, with the same pks every time."""
    objects: dict[str, dict[str, dict[str, Any]]] = {
        "flows": {},
        "keypairs": {},
        "scope_mappings": {},
    }
    for slug, designation, authentication in (
        (AUTHORIZATION_FLOW_SLUG, "authorization", "require_authenticated"),
        (INVALIDATION_FLOW_SLUG, "invalidation", "none"),
        (AUTHENTICATION_FLOW_SLUG, "authentication", "none"),
    ):
        pk = _seeded_pk("flow", slug)
        objects["flows"][pk] = {
            "pk": pk,
            "slug": slug,
            "name": slug.replace("-", " ").title(),
            "designation": designation,
            "authentication": authentication,
        }
    key_pk = _seeded_pk("keypair", SIGNING_KEY_NAME)
    objects["keypairs"][key_pk] = {
        "pk": key_pk,
        "name": SIGNING_KEY_NAME,
        "managed": "goauthentik.io/crypto/certificate/self-signed",
    }
    for scope in ("openid", "email", "profile"):
        managed = SCOPE_MANAGED_PREFIX + scope
        pk = _seeded_pk("scope", managed)
        objects["scope_mappings"][pk] = {
            "pk": pk,
            "managed": managed,
            "name": f"authentik default OAuth Mapping: OpenID '{scope}'",
            "scope_name": scope,
        }
    return objects
