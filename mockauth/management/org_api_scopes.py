"""API scopes a member holds in an organisation (kept on the user, ``[[users]]
org_api_scopes``; searchUsers lists them as ``api_scopes``)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from mockauth.management import lookup
from mockauth.management.apis import find_scope
from mockauth.management.errors import ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.grants import with_scope
from mockauth.tenant.people import User

PATH = "/organizations/{org_code}/users/{user_id}/apis/{api_id}/scopes/{scope_id}"


def api_scope_entries(config: ServerConfig, user: User) -> list[dict[str, str]]:
    """``[{org_code, scope, api_id}]`` as searchUsers lists a user's scopes."""
    ids = {a.audience: a.id for a in config.apis}
    return [
        {"org_code": code, "scope": key, "api_id": ids[audience]}
        for code, scopes in user.org_api_scopes.items()
        for audience, keys in scopes.items()
        if audience in ids
        for key in keys
    ]


def _scope(call: Call, held: bool) -> Reply:
    code = call.params["org_code"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        _, user = lookup.member(config, code, call.params["user_id"])
        api = lookup.api(config, call.params["api_id"])
        scope = find_scope(api, call.params["scope_id"])
        scopes = user.org_api_scopes.get(code, MappingProxyType({}))
        has = scope in scopes.get(api.audience, ())
        if held and has:
            raise ManagementConflict(
                "The user holds this scope in the organization already.",
                code="USER_SCOPE_ALREADY_EXISTS",
            )
        if not held and not has:
            raise lookup.not_found("organization user scope", call.params["scope_id"])
        per_org = {c: s for c, s in user.org_api_scopes.items() if c != code}
        changed = with_scope(scopes, api.audience, scope, held=held)
        if changed:
            per_org[code] = changed
        new = replace(user, org_api_scopes=MappingProxyType(per_org))
        return lookup.put_user(config, new), None

    call.tenant.update(change)
    return success()


@op("POST", PATH, "create:organization_user_api_scopes", "addOrganizationUserAPIScope")
def add_organization_user_api_scope(call: Call) -> Reply:
    return _scope(call, True)


@op("DELETE", PATH, "delete:organization_user_api_scopes", "deleteOrganizationUserAPIScope")
def delete_organization_user_api_scope(call: Call) -> Reply:
    return _scope(call, False)


OPERATIONS = [add_organization_user_api_scope, delete_organization_user_api_scope]
