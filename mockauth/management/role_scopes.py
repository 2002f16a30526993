"""A role's API scopes (kept on the role, ``[[roles]] api_scopes``) and its system
permissions. System permissions govern Kinde's self-serve portal, which mockauth does not
have: it defines none, so the lists are empty and no id names one (404)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.apis import scope_id
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.tenant.apis import Api
from mockauth.tenant.catalog import Role
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.grants import with_scope

SYSTEM_SORTS = ("name_asc", "name_desc", "id_asc", "id_desc")


def _held(config: ServerConfig, role: Role) -> list[tuple[Api, str]]:
    """The role's scopes that an API still defines, as (API, scope key)."""
    apis = {a.audience: a for a in config.apis}
    return [
        (apis[audience], key)
        for audience, keys in role.api_scopes.items()
        if audience in apis
        for key in keys
        if key in apis[audience].scopes
    ]


def scope_by_id(config: ServerConfig, ident: str) -> tuple[Api, str]:
    """The API and scope key an API scope id names (404 if none)."""
    for api in config.apis:
        for key in api.scopes:
            if scope_id(api, key) == ident:
                return api, key
    raise lookup.not_found("scope", ident)


def _entry(api: Api, key: str) -> dict[str, Any]:
    description = api.scope_descriptions.get(key, "")
    return {"id": scope_id(api, key), "key": key, "description": description, "api_id": api.id}


@op("GET", "/roles/{role_id}/scopes", "read:role_scopes", "GetRoleScopes")
def get_role_scopes(call: Call) -> Reply:
    role = lookup.role(call.config, call.params["role_id"])
    return success(scopes=[_entry(api, key) for api, key in _held(call.config, role)])


@op("POST", "/roles/{role_id}/scopes", "create:role_scopes", "AddRoleScope")
def add_role_scope(call: Call) -> Reply:
    body = call.table()
    body.only({"scope_id"})
    ident = inputs.text(body, "scope_id", required=True) or ""

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        role = lookup.role(config, call.params["role_id"])
        api, key = scope_by_id(config, ident)
        if key in role.api_scopes.get(api.audience, ()):
            raise ManagementConflict(
                "The role has this scope already.", code="ROLE_SCOPE_ALREADY_EXISTS"
            )
        scopes = with_scope(role.api_scopes, api.audience, key, held=True)
        return lookup.put_role(config, replace(role, api_scopes=scopes)), None

    call.tenant.update(change)
    return 201, {"code": "ROLE_SCOPE_ADDED", "message": "Scope added to role"}


@op("DELETE", "/roles/{role_id}/scopes/{scope_id}", "delete:role_scopes", "DeleteRoleScope")
def delete_role_scope(call: Call) -> Reply:
    ident = call.params["scope_id"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        role = lookup.role(config, call.params["role_id"])
        held = {scope_id(api, key): (api, key) for api, key in _held(config, role)}
        if ident not in held:
            raise lookup.not_found("role scope", ident)
        api, key = held[ident]
        scopes = with_scope(role.api_scopes, api.audience, key, held=False)
        return lookup.put_role(config, replace(role, api_scopes=scopes)), None

    call.tenant.update(change)
    return 200, {"code": "SCOPE_DELETED", "message": "Scope deleted from role"}


# --- system permissions (none) -------------------------------------------------------------


def _no_system_permissions(call: Call) -> Reply:
    sort = call.q("sort")
    if sort is not None and sort not in SYSTEM_SORTS:
        raise ManagementBadRequest(f"sort must be one of {', '.join(SYSTEM_SORTS)}.")
    none: list[dict[str, str]] = []
    page, token = token_page(none, call.page_size(), call.q("next_token"))
    return success(system_permissions=page, next_token=token)


@op("GET", "/system_permissions", "read:system_permissions", "getSystemPermissions")
def get_system_permissions(call: Call) -> Reply:
    return _no_system_permissions(call)


@op(
    "GET",
    "/roles/{role_id}/system_permissions",
    "read:role_system_permissions",
    "getRoleSystemPermissions",
)
def get_role_system_permissions(call: Call) -> Reply:
    lookup.role(call.config, call.params["role_id"])
    return _no_system_permissions(call)


@op(
    "PATCH",
    "/roles/{role_id}/system_permissions",
    "update:role_system_permissions",
    "updateRoleSystemPermissions",
)
def update_role_system_permissions(call: Call) -> Reply:
    body = call.table()
    body.only({"system_permissions"})
    items = inputs.items(body, "system_permissions")
    lookup.role(call.config, call.params["role_id"])
    for item in items:
        item.only({"id", "operation"})
        inputs.choice(item, "operation", ("delete",))
        ident = inputs.text(item, "id", required=True) or ""
        raise lookup.not_found("system permission", ident)
    return success(system_permissions_added=[], system_permissions_removed=[])


OPERATIONS = [
    get_role_scopes,
    add_role_scope,
    delete_role_scope,
    get_system_permissions,
    get_role_system_permissions,
    update_role_system_permissions,
]
