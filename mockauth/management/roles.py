"""Roles and permissions: list, create, update, delete; a role's permissions."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.management.shapes import permission_entry, role_entry
from mockauth.tenant.catalog import KEY_RE, Permission, Role
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.validate import Table

SORTS = ("name_asc", "name_desc", "id_asc", "id_desc", "key_asc", "key_desc")


def _sorted(items: list[Any], sort: str | None) -> list[Any]:
    if sort is None:
        return items
    if sort not in SORTS:
        raise ManagementBadRequest(f"sort must be one of {', '.join(SORTS)}.")
    field = sort.rsplit("_", 1)[0]
    return sorted(items, key=lambda i: getattr(i, field).lower(), reverse=sort.endswith("_desc"))


def _key(body: Table, required: bool) -> str | None:
    key = inputs.text(body, "key", limit=200, required=required)
    if key is not None and not KEY_RE.match(key):
        raise body.fail("key", key, "must be 1 to 200 printable ASCII characters, no spaces")
    return key


# --- roles ---------------------------------------------------------------------------------


@op("GET", "/roles", "read:roles", "GetRoles")
def get_roles(call: Call) -> Reply:
    roles = _sorted(list(call.config.catalog.roles), call.q("sort"))
    page, token = token_page(roles, call.page_size(), call.q("next_token"))
    return success(roles=[role_entry(r) for r in page], next_token=token)


@op("GET", "/roles/{role_id}", "read:roles", "GetRole")
def get_role(call: Call) -> Reply:
    return success(role=role_entry(lookup.role(call.config, call.params["role_id"])))


def _role_fields(body: Table, *, creating: bool) -> dict[str, Any]:
    body.only({"name", "description", "key", "is_default_role", "assignment_permission_id"})
    fields: dict[str, Any] = {"key": _key(body, required=True)}
    name = inputs.text(body, "name", required=not creating)
    fields["name"] = name if name else fields["key"]
    description = inputs.text(body, "description", limit=1000)
    if description is not None:
        fields["description"] = description
    default = inputs.boolean(body, "is_default_role")
    if default is not None:
        fields["is_default_role"] = default
    inputs.text(body, "assignment_permission_id")
    return fields


def _unique_key(items: tuple[Any, ...], key: str, ident: str | None, what: str) -> None:
    if any(i.key == key and i.id != ident for i in items):
        raise ManagementConflict(
            f"Another {what} has the key {key[:100]!r}.",
            code=f"{what.upper()}_KEY_ALREADY_EXISTS",
        )


@op("POST", "/roles", "create:roles", "CreateRole")
def create_role(call: Call) -> Reply:
    fields = _role_fields(call.table(), creating=True)
    role = Role(id=inputs.new_uuid(), **fields)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _unique_key(config.catalog.roles, role.key, None, "role")
        return lookup.put_catalog(config, roles=(*config.catalog.roles, role)), None

    call.tenant.update(change)
    return success(201, role={"id": role.id})


@op("PATCH", "/roles/{role_id}", "update:roles", "UpdateRoles")
def update_roles(call: Call) -> Reply:
    fields = _role_fields(call.table(), creating=False)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        role = lookup.role(config, call.params["role_id"])
        _unique_key(config.catalog.roles, fields["key"], role.id, "role")
        new = replace(role, **fields)
        roles = tuple(new if r.id == role.id else r for r in config.catalog.roles)
        config = lookup.put_catalog(config, roles=roles)
        if new.key != role.key:  # users hold roles by key
            config = _rekey_users(config, role.key, new.key, roles=True)
        return config, None

    call.tenant.update(change)
    return success(201)  # Kinde answers this PATCH with 201


@op("DELETE", "/roles/{role_id}", "delete:roles", "DeleteRole")
def delete_role(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        role = lookup.role(config, call.params["role_id"])
        roles = tuple(r for r in config.catalog.roles if r.id != role.id)
        config = lookup.put_catalog(config, roles=roles)
        return _rekey_users(config, role.key, None, roles=True), None

    call.tenant.update(change)
    return success()


def _rekey_users(config: ServerConfig, old: str, new: str | None, *, roles: bool) -> ServerConfig:
    """Users' org roles (or permissions) with ``old`` renamed to ``new`` (None: dropped); for
    roles, the organisations' invitations too (they name roles by key as well)."""

    def renamed(keys: tuple[str, ...]) -> tuple[str, ...]:
        return _renamed(keys, old, new)

    users = []
    for user in config.users:
        held = user.org_roles if roles else user.org_permissions
        changed = MappingProxyType({c: renamed(ks) for c, ks in held.items() if renamed(ks)})
        users.append(
            replace(user, org_roles=changed) if roles else replace(user, org_permissions=changed)
        )
    config = replace(config, users=tuple(users))
    if not roles:
        return config
    orgs = tuple(
        replace(org, invites=tuple(replace(i, roles=renamed(i.roles)) for i in org.invites))
        for org in config.orgs
    )
    return replace(config, orgs=orgs)


@op("GET", "/roles/{role_id}/permissions", "read:role_permissions", "GetRolePermissions")
def get_role_permissions(call: Call) -> Reply:
    config = call.config
    role = lookup.role(config, call.params["role_id"])
    found = [p for p in config.catalog.permissions if p.key in role.permissions]
    page, token = token_page(_sorted(found, call.q("sort")), call.page_size(), call.q("next_token"))
    return success(permissions=[permission_entry(p) for p in page], next_token=token)


@op("PATCH", "/roles/{role_id}/permissions", "update:role_permissions", "UpdateRolePermissions")
def update_role_permissions(call: Call) -> Reply:
    body = call.table()
    body.only({"permissions"})

    def change(config: ServerConfig) -> tuple[ServerConfig, dict[str, list[str]]]:
        role = lookup.role(config, call.params["role_id"])
        keys = list(role.permissions)
        out: dict[str, list[str]] = {"permissions_added": [], "permissions_removed": []}
        for item in inputs.items(body, "permissions"):
            item.only({"id", "operation"})
            permission = lookup.permission(config, inputs.text(item, "id", required=True) or "")
            if inputs.choice(item, "operation", ("delete",)) == "delete":
                keys = [k for k in keys if k != permission.key]
                out["permissions_removed"].append(permission.id)
            elif permission.key not in keys:
                keys.append(permission.key)
                out["permissions_added"].append(permission.id)
        return _with_permissions(config, role, keys), out

    result = call.tenant.update(change)
    return success(**result)


def _with_permissions(config: ServerConfig, role: Role, keys: list[str]) -> ServerConfig:
    return lookup.put_role(config, replace(role, permissions=tuple(keys)))


@op(
    "DELETE",
    "/roles/{role_id}/permissions/{permission_id}",
    "delete:role_permissions",
    "RemoveRolePermission",
)
def remove_role_permission(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        role = lookup.role(config, call.params["role_id"])
        permission = lookup.permission(config, call.params["permission_id"])
        if permission.key not in role.permissions:
            raise lookup.not_found("role permission", permission.id)
        keys = [k for k in role.permissions if k != permission.key]
        return _with_permissions(config, role, keys), None

    call.tenant.update(change)
    return success()


# --- permissions ---------------------------------------------------------------------------


@op("GET", "/permissions", "read:permissions", "GetPermissions")
def get_permissions(call: Call) -> Reply:
    found = _sorted(list(call.config.catalog.permissions), call.q("sort"))
    page, token = token_page(found, call.page_size(), call.q("next_token"))
    return success(permissions=[permission_entry(p) for p in page], next_token=token)


def _permission_fields(body: Table, *, creating: bool) -> dict[str, Any]:
    body.only({"name", "description", "key"})
    fields: dict[str, Any] = {}
    key = _key(body, required=creating)
    if key is not None:
        fields["key"] = key
    name = inputs.text(body, "name")
    if name:
        fields["name"] = name
    elif creating:
        fields["name"] = key
    description = inputs.text(body, "description", limit=1000)
    if description is not None:
        fields["description"] = description
    return fields


@op("POST", "/permissions", "create:permissions", "CreatePermission")
def create_permission(call: Call) -> Reply:
    permission = Permission(id=inputs.new_uuid(), **_permission_fields(call.table(), creating=True))

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _unique_key(config.catalog.permissions, permission.key, None, "permission")
        permissions = (*config.catalog.permissions, permission)
        return lookup.put_catalog(config, permissions=permissions), None

    call.tenant.update(change)
    return success(201, permission={"id": permission.id})


@op("PATCH", "/permissions/{permission_id}", "update:permissions", "UpdatePermissions")
def update_permissions(call: Call) -> Reply:
    fields = _permission_fields(call.table(optional=True), creating=False)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = lookup.permission(config, call.params["permission_id"])
        new = replace(old, **fields)
        _unique_key(config.catalog.permissions, new.key, old.id, "permission")
        permissions = tuple(new if p.id == old.id else p for p in config.catalog.permissions)
        config = lookup.put_catalog(config, permissions=permissions)
        if new.key != old.key:
            config = _rename_permission(config, old.key, new.key)
        return config, None

    call.tenant.update(change)
    return success()


@op("DELETE", "/permissions/{permission_id}", "delete:permissions", "DeletePermission")
def delete_permission(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = lookup.permission(config, call.params["permission_id"])
        permissions = tuple(p for p in config.catalog.permissions if p.id != old.id)
        config = lookup.put_catalog(config, permissions=permissions)
        return _rename_permission(config, old.key, None), None

    call.tenant.update(change)
    return success()


def _rename_permission(config: ServerConfig, old: str, new: str | None) -> ServerConfig:
    """Roles and users that hold ``old`` hold ``new`` instead (None: nothing)."""
    roles = tuple(
        replace(r, permissions=_renamed(r.permissions, old, new)) for r in config.catalog.roles
    )
    config = lookup.put_catalog(config, roles=roles)
    return _rekey_users(config, old, new, roles=False)


def _renamed(keys: tuple[str, ...], old: str, new: str | None) -> tuple[str, ...]:
    out = [k for k in keys if k != old]
    if new is not None and old in keys:
        out.insert(keys.index(old), new)
    return tuple(dict.fromkeys(out))


OPERATIONS = [
    get_roles,
    get_role,
    create_role,
    update_roles,
    delete_role,
    get_role_permissions,
    update_role_permissions,
    remove_role_permission,
    get_permissions,
    create_permission,
    update_permissions,
    delete_permission,
]
