"""Organisations: list, get, create, update, delete; their feature-flag overrides and
property values (their members are in members.py)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import inputs, lookup, values
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.members import without_org
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.management.shapes import created_on, org_entry
from mockauth.management.values import (
    override_value,
)
from mockauth.tenant.access import resolve_flag
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.flagvalues import FLAG_TYPE_NAMES, flag_text
from mockauth.tenant.people import Org, org_table, parse_org_table
from mockauth.tenant.validate import Table

SORTS = ("name_asc", "name_desc", "email_asc", "email_desc", "id_asc", "id_desc")
_ORG_FIELDS = {"external_id", "handle"}
# Branding and settings Kinde keeps; mockauth accepts and ignores them.
_IGNORED = {
    "feature_flags",
    "background_color",
    "button_color",
    "button_text_color",
    "link_color",
    "background_color_dark",
    "button_color_dark",
    "button_text_color_dark",
    "link_color_dark",
    "theme_code",
    "is_auto_membership_enabled",
    "sender_name",
    "sender_email",
    "is_create_billing_customer",
    "billing_email",
    "billing_plan_code",
    "is_auto_join_domain_list",
    "allowed_domains",
    "is_enable_advanced_orgs",
    "is_enforce_mfa",
    "is_suspended",
}


def _org_changes(body: Table) -> dict[str, Any]:
    body.only({"name", "is_allow_registrations"} | _ORG_FIELDS | _IGNORED)
    changes: dict[str, Any] = {}
    name = inputs.text(body, "name")
    if name is not None:
        changes["name"] = name
    for field in _ORG_FIELDS:
        value = inputs.text(body, field)
        if value is not None:
            changes[field] = value or None
    allow = inputs.boolean(body, "is_allow_registrations")
    if allow is not None:
        changes["is_allow_registrations"] = allow
    return changes


def _parsed(config: ServerConfig, table: dict[str, Any]) -> Org:
    org = parse_org_table(
        {k: v for k, v in table.items() if v is not None},
        source="request",
        catalog=config.catalog,
    )
    for other in config.orgs:
        if other.code == org.code:
            continue
        for field in _ORG_FIELDS:
            value = getattr(org, field)
            if value and getattr(other, field) == value:
                raise ManagementConflict(
                    f"Another organization has the {field} {value[:100]!r}.",
                    code=f"{field.upper()}_ALREADY_EXISTS",
                )
    return org


def full_org(org: Org, started: float) -> dict[str, Any]:
    return {
        **org_entry(org),
        "created_on": created_on(org.created_on, started),
        "is_allow_registrations": org.is_allow_registrations,
        "is_suspended": False,
        "allowed_domains": [],
    }


@op("GET", "/organizations", "read:organizations", "getOrganizations")
def get_organizations(call: Call) -> Reply:
    orgs = list(call.config.orgs)
    sort = call.q("sort")
    if sort is not None:
        if sort not in SORTS[:4]:
            raise ManagementBadRequest(f"sort must be one of {', '.join(SORTS[:4])}.")
        orgs.sort(key=lambda o: o.name.lower(), reverse=sort.endswith("_desc"))
    page, token = token_page(orgs, call.page_size(), call.q("next_token"))
    return success(organizations=[org_entry(o) for o in page], next_token=token)


@op("GET", "/organization", "read:organizations", "getOrganization")
def get_organization(call: Call) -> Reply:
    org = lookup.org(call.config, call.required("code"))
    return 200, full_org(org, call.tenant.started_at)


@op("POST", "/organization", "create:organizations", "createOrganization")
def create_organization(call: Call) -> Reply:
    body = call.table()
    changes = _org_changes(body)
    if not changes.get("name"):
        raise body.fail("name", body.data.get("name"), "required: a non-empty string")
    table = {"code": inputs.new_org_code(), **changes}
    table["created_on"] = created_on(None, call.tenant.clock())

    def change(config: ServerConfig) -> tuple[ServerConfig, str]:
        org = _parsed(config, table)
        return replace(config, orgs=(*config.orgs, org)), org.code

    code = call.tenant.update(change)
    return success(organization={"code": code, "billing_customer_id": None})


@op("PATCH", "/organization/{org_code}", "update:organizations", "updateOrganization")
def update_organization(call: Call) -> Reply:
    changes = _org_changes(call.table(optional=True))

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        return lookup.put_org(config, _parsed(config, {**org_table(org), **changes})), None

    call.tenant.update(change)
    return success()


@op("DELETE", "/organization/{org_code}", "delete:organizations", "deleteOrganization")
def delete_organization(call: Call) -> Reply:
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        lookup.org(config, code)
        users = tuple(without_org(u, code) if code in u.orgs else u for u in config.users)
        orgs = tuple(o for o in config.orgs if o.code != code)
        return replace(config, orgs=orgs, users=users), None

    call.tenant.update(change)
    return success()


@op(
    "DELETE",
    "/organization/{org_code}/handle",
    "delete:organization_handles",
    "DeleteOrganizationHandle",
)
def delete_organization_handle(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        return lookup.put_org(config, replace(org, handle=None)), None

    call.tenant.update(change)
    return success()


# --- feature flags and properties ----------------------------------------------------------


@op(
    "GET",
    "/organizations/{org_code}/feature_flags",
    "read:organization_feature_flags",
    "GetOrganizationFeatureFlags",
)
def get_organization_feature_flags(call: Call) -> Reply:
    org = lookup.org(call.config, call.params["org_code"])
    flags = {
        f.key: {
            "type": FLAG_TYPE_NAMES[f.type],
            "value": flag_text(resolve_flag(f, org.feature_flags, None)),
        }
        for f in call.config.catalog.feature_flags
    }
    return success(feature_flags=flags)


@op(
    "PATCH",
    "/organizations/{org_code}/feature_flags/{feature_flag_key}",
    "update:organization_feature_flags",
    "UpdateOrganizationFeatureFlagOverride",
)
def update_organization_feature_flag_override(call: Call) -> Reply:
    text = call.required("value")
    key = call.params["feature_flag_key"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        flag = lookup.flag(config, key)
        if flag.allow_override_level == "env":
            raise ManagementBadRequest(
                f"The flag {key!r} cannot be overridden for an organization.",
                code="OVERRIDE_NOT_ALLOWED",
            )
        flags = MappingProxyType({**org.feature_flags, key: override_value(flag.type, text)})
        return lookup.put_org(config, replace(org, feature_flags=flags)), None

    call.tenant.update(change)
    return success()


def _drop_overrides(call: Call, key: str | None) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        if key is not None:
            lookup.flag(config, key)
        kept = {k: v for k, v in org.feature_flags.items() if key is not None and k != key}
        return lookup.put_org(config, replace(org, feature_flags=MappingProxyType(kept))), None

    call.tenant.update(change)
    return success()


@op(
    "DELETE",
    "/organizations/{org_code}/feature_flags/{feature_flag_key}",
    "delete:organization_feature_flags",
    "DeleteOrganizationFeatureFlagOverride",
)
def delete_organization_feature_flag_override(call: Call) -> Reply:
    return _drop_overrides(call, call.params["feature_flag_key"])


@op(
    "DELETE",
    "/organizations/{org_code}/feature_flags",
    "delete:organization_feature_flags",
    "DeleteOrganizationFeatureFlagOverrides",
)
def delete_organization_feature_flag_overrides(call: Call) -> Reply:
    return _drop_overrides(call, None)


get_organization_property_values = op(
    "GET",
    "/organizations/{org_code}/properties",
    "read:organization_properties",
    "GetOrganizationPropertyValues",
)(values.get_property_values)
update_organization_properties = op(
    "PATCH",
    "/organizations/{org_code}/properties",
    "update:organization_properties",
    "UpdateOrganizationProperties",
)(values.update_property_values)
update_organization_property = op(
    "PUT",
    "/organizations/{org_code}/properties/{property_key}",
    "update:organization_properties",
    "UpdateOrganizationProperty",
)(values.update_property_value)


OPERATIONS = [
    get_organizations,
    get_organization,
    create_organization,
    update_organization,
    delete_organization,
    delete_organization_handle,
    get_organization_feature_flags,
    update_organization_feature_flag_override,
    delete_organization_feature_flag_override,
    delete_organization_feature_flag_overrides,
    get_organization_property_values,
    update_organization_properties,
    update_organization_property,
]
