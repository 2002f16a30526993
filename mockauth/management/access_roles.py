"""The roles allowed to use an application (kept on each role, ``[[roles]] applications``;
mockauth's sign-in restricts no app by role)."""

from __future__ import annotations

from dataclasses import replace

from mockauth.management import lookup
from mockauth.management.errors import ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.tenant.config import ServerConfig

PATH = "/applications/{application_id}/access_roles"


@op("GET", PATH, "read:applications", "getApplicationAccessRoles")
def get_application_access_roles(call: Call) -> Reply:
    app = lookup.app(call.config, call.params["application_id"])
    roles = [r for r in call.config.catalog.roles if app.client_id in r.applications]
    page, more = call.cursor_page(roles, lambda r: r.id)
    entries = [
        {"id": r.id, "key": r.key, "name": r.name, "description": r.description} for r in page
    ]
    return success(roles=entries, has_more=more)


def _access(call: Call, allowed: bool) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        app = lookup.app(config, call.params["application_id"])
        role = lookup.role(config, call.params["role_id"])
        if allowed and app.client_id in role.applications:
            raise ManagementConflict(
                "The role may use this application already.", code="ACCESS_ROLE_ALREADY_EXISTS"
            )
        if not allowed and app.client_id not in role.applications:
            raise lookup.not_found("application access role", role.id)
        apps = [c for c in role.applications if c != app.client_id]
        new = replace(role, applications=tuple([*apps, app.client_id] if allowed else apps))
        return lookup.put_role(config, new), None

    call.tenant.update(change)
    return success()


@op("POST", PATH + "/{role_id}", "update:applications", "addApplicationAccessRole")
def add_application_access_role(call: Call) -> Reply:
    return _access(call, True)


@op("DELETE", PATH + "/{role_id}", "update:applications", "removeApplicationAccessRole")
def remove_application_access_role(call: Call) -> Reply:
    return _access(call, False)


OPERATIONS = [
    get_application_access_roles,
    add_application_access_role,
    remove_application_access_role,
]
