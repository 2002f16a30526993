"""An organisation's members: list, add, update, remove; their roles and permissions in
the organisation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.management.shapes import created_on, permission_entry
from mockauth.tenant import access
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.people import User
from mockauth.tenant.validate import Table

SORTS = ("name_asc", "name_desc", "email_asc", "email_desc", "id_asc", "id_desc")


def without_org(user: User, code: str) -> User:
    return replace(
        user,
        orgs=tuple(c for c in user.orgs if c != code),
        org_roles=MappingProxyType({k: v for k, v in user.org_roles.items() if k != code}),
        org_permissions=MappingProxyType(
            {k: v for k, v in user.org_permissions.items() if k != code}
        ),
        org_api_scopes=MappingProxyType(
            {k: v for k, v in user.org_api_scopes.items() if k != code}
        ),
    )


def _grant(user: User, code: str, roles: list[str] | None, permissions: list[str] | None) -> User:
    """``user`` in the organisation ``code``, given these role and permission keys too."""
    orgs = user.orgs if code in user.orgs else (*user.orgs, code)
    org_roles = dict(user.org_roles)
    org_perms = dict(user.org_permissions)
    if roles:
        org_roles[code] = tuple(dict.fromkeys((*org_roles.get(code, ()), *roles)))
    if permissions:
        org_perms[code] = tuple(dict.fromkeys((*org_perms.get(code, ()), *permissions)))
    return replace(
        user,
        orgs=orgs,
        org_roles=MappingProxyType(org_roles),
        org_permissions=MappingProxyType(org_perms),
    )


def _without_key(
    per_org: Mapping[str, tuple[str, ...]], code: str, key: str
) -> Mapping[str, tuple[str, ...]]:
    """Per-org role or permission keys without ``key`` in ``code`` (an org left with none
    drops out)."""
    out = {c: tuple(k for k in keys if c != code or k != key) for c, keys in per_org.items()}
    return MappingProxyType({c: keys for c, keys in out.items() if keys})


def _keys(config: ServerConfig, item: Table, name: str) -> list[str] | None:
    keys = inputs.strings(item, name)
    defined = config.catalog.role if name == "roles" else config.catalog.permission
    for key in keys or []:
        if defined(key) is None:
            raise lookup.not_found(name[:-1], key, by="key")
    return keys


@op("GET", "/organizations/{org_code}/users", "read:organization_users", "GetOrganizationUsers")
def get_organization_users(call: Call) -> Reply:
    code = call.params["org_code"]
    config = call.config
    lookup.org(config, code)
    members = [u for u in config.users if code in u.orgs]
    holds: dict[str, Callable[[User], list[str]]] = {
        "roles": lambda u: access.role_keys(u, code),
        "permissions": lambda u: access.permission_keys(config.catalog, u, code),
    }
    for name, held in holds.items():
        wanted = [k for k in (call.q(name) or "").split(",") if k]
        if wanted:
            members = [u for u in members if set(wanted) <= set(held(u))]
    sort = call.q("sort")
    if sort is not None:
        if sort not in SORTS:
            raise ManagementBadRequest(f"sort must be one of {', '.join(SORTS)}.")
        field = sort.rsplit("_", 1)[0]
        members.sort(
            key=lambda u: {"name": u.name.lower(), "email": u.email.lower(), "id": u.id}[field],
            reverse=sort.endswith("_desc"),
        )
    page, token = token_page(members, call.page_size(), call.q("next_token"))
    started = created_on(None, call.tenant.started_at)
    entries = [
        {
            "id": u.id,
            "email": u.email,
            "full_name": u.name,
            "last_name": u.family_name,
            "first_name": u.given_name,
            "picture": u.picture,
            "joined_on": u.created_on or started,
            "last_accessed_on": None,
            "is_suspended": u.is_suspended,
            "roles": access.role_keys(u, code),
        }
        for u in page
    ]
    return success(organization_users=entries, next_token=token)


@op("POST", "/organizations/{org_code}/users", "create:organization_users", "AddOrganizationUsers")
def add_organization_users(call: Call) -> Reply:
    body = call.table(optional=True)
    body.only({"users"})
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, list[str]]:
        lookup.org(config, code)
        added = []
        for item in inputs.items(body, "users"):
            item.only({"id", "roles", "permissions"})
            user = lookup.user(config, inputs.text(item, "id", required=True) or "")
            roles, perms = _keys(config, item, "roles"), _keys(config, item, "permissions")
            config = lookup.put_user(config, _grant(user, code, roles, perms))
            added.append(user.id)
        return config, added

    added = call.tenant.update(change)
    return success(users_added=added)


@op(
    "PATCH",
    "/organizations/{org_code}/users",
    "update:organization_users",
    "UpdateOrganizationUsers",
)
def update_organization_users(call: Call) -> Reply:
    body = call.table(optional=True)
    body.only({"users"})
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, dict[str, list[str]]]:
        lookup.org(config, code)
        out: dict[str, list[str]] = {"users_added": [], "users_updated": [], "users_removed": []}
        for item in inputs.items(body, "users"):
            item.only({"id", "operation", "roles", "permissions"})
            user = lookup.user(config, inputs.text(item, "id", required=True) or "")
            if inputs.choice(item, "operation", ("delete",)) == "delete":
                config = lookup.put_user(config, without_org(user, code))
                out["users_removed"].append(user.id)
                continue
            roles, perms = _keys(config, item, "roles"), _keys(config, item, "permissions")
            out["users_updated" if code in user.orgs else "users_added"].append(user.id)
            config = lookup.put_user(config, _grant(user, code, roles, perms))
        return config, out

    result = call.tenant.update(change)
    return success(**result)


@op(
    "DELETE",
    "/organizations/{org_code}/users/{user_id}",
    "delete:organization_users",
    "RemoveOrganizationUser",
)
def remove_organization_user(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, call.params["org_code"], call.params["user_id"])
        return lookup.put_user(config, without_org(user, call.params["org_code"])), None

    call.tenant.update(change)
    return success()


@op(
    "GET",
    "/organizations/{org_code}/users/{user_id}/roles",
    "read:organization_user_roles",
    "GetOrganizationUserRoles",
)
def get_organization_user_roles(call: Call) -> Reply:
    code = call.params["org_code"]
    _, user = lookup.member(call.config, code, call.params["user_id"])
    return success(roles=access.roles(call.config.catalog, user, code), next_token=None)


@op(
    "POST",
    "/organizations/{org_code}/users/{user_id}/roles",
    "create:organization_user_roles",
    "CreateOrganizationUserRole",
)
def create_organization_user_role(call: Call) -> Reply:
    body = call.table()
    body.only({"role_id"})
    role_id = inputs.text(body, "role_id", required=True) or ""
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, code, call.params["user_id"])
        role = lookup.role(config, role_id)
        return lookup.put_user(config, _grant(user, code, [role.key], None)), None

    call.tenant.update(change)
    return success()


@op(
    "DELETE",
    "/organizations/{org_code}/users/{user_id}/roles/{role_id}",
    "delete:organization_user_roles",
    "DeleteOrganizationUserRole",
)
def delete_organization_user_role(call: Call) -> Reply:
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, code, call.params["user_id"])
        role = lookup.role(config, call.params["role_id"])
        if role.key not in user.org_roles.get(code, ()):
            raise lookup.not_found("organization user role", role.id)
        new = replace(user, org_roles=_without_key(user.org_roles, code, role.key))
        return lookup.put_user(config, new), None

    call.tenant.update(change)
    return success()


@op(
    "GET",
    "/organizations/{org_code}/users/{user_id}/permissions",
    "read:organization_user_permissions",
    "GetOrganizationUserPermissions",
)
def get_organization_user_permissions(call: Call) -> Reply:
    code = call.params["org_code"]
    config = call.config
    _, user = lookup.member(config, code, call.params["user_id"])
    with_roles = "roles" in (call.q("expand") or "")
    out = []
    for key in access.permission_keys(config.catalog, user, code):
        permission = config.catalog.permission(key)
        entry: dict[str, Any] = (
            permission_entry(permission)
            if permission is not None
            else {"id": None, "key": key, "name": key, "description": None}
        )
        if with_roles:
            entry["roles"] = [
                {"id": r.id, "key": r.key}
                for r in config.catalog.roles
                if key in r.permissions and r.key in access.role_keys(user, code)
            ]
        out.append(entry)
    return success(permissions=out)


@op(
    "POST",
    "/organizations/{org_code}/users/{user_id}/permissions",
    "create:organization_user_permissions",
    "CreateOrganizationUserPermission",
)
def create_organization_user_permission(call: Call) -> Reply:
    body = call.table()
    body.only({"permission_id"})
    permission_id = inputs.text(body, "permission_id", required=True) or ""
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, code, call.params["user_id"])
        permission = lookup.permission(config, permission_id)
        return lookup.put_user(config, _grant(user, code, None, [permission.key])), None

    call.tenant.update(change)
    return success()


@op(
    "DELETE",
    "/organizations/{org_code}/users/{user_id}/permissions/{permission_id}",
    "delete:organization_user_permissions",
    "DeleteOrganizationUserPermission",
)
def delete_organization_user_permission(call: Call) -> Reply:
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, code, call.params["user_id"])
        permission = lookup.permission(config, call.params["permission_id"])
        if permission.key not in user.org_permissions.get(code, ()):
            raise lookup.not_found("organization user permission", permission.id)
        perms = _without_key(user.org_permissions, code, permission.key)
        return lookup.put_user(config, replace(user, org_permissions=perms)), None

    call.tenant.update(change)
    return success()


OPERATIONS = [
    get_organization_users,
    add_organization_users,
    update_organization_users,
    remove_organization_user,
    get_organization_user_roles,
    create_organization_user_role,
    delete_organization_user_role,
    get_organization_user_permissions,
    create_organization_user_permission,
    delete_organization_user_permission,
]
