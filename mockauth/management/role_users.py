"""Who holds a role: every user (with the organisations they hold it in), the members of
one organisation who hold it, and how many. A role held in every organisation (a user's
``roles``) counts in each of theirs."""

from __future__ import annotations

from mockauth.management import lookup
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.tenant import access
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.people import User

ORG_PATH = "/organizations/{org_code}/roles/{role_id}/users"


def _holders(config: ServerConfig, code: str, key: str) -> list[User]:
    """Members of the organisation ``code`` who hold the role ``key`` there."""
    return [u for u in config.users if code in u.orgs and key in access.role_keys(u, code)]


@op("GET", "/roles/{role_id}/users", "read:organization_user_roles", "getRoleUsers")
def get_role_users(call: Call) -> Reply:
    config = call.config
    role = lookup.role(config, call.params["role_id"])
    users = []
    for user in config.users:
        codes = [c for c in user.orgs if role.key in access.role_keys(user, c)]
        if role.key in user.roles or codes:
            users.append({"id": user.id, "org_codes": codes})
    page, token = token_page(users, call.page_size(), call.q("next_token"))
    return success(users=page, next_token=token)


@op("GET", ORG_PATH, "read:organization_user_roles", "getOrganizationRoleUsers")
def get_organization_role_users(call: Call) -> Reply:
    config = call.config
    org = lookup.org(config, call.params["org_code"])
    role = lookup.role(config, call.params["role_id"])
    users = [{"id": u.id} for u in _holders(config, org.code, role.key)]
    page, token = token_page(users, call.page_size(), call.q("next_token"))
    return success(users=page, next_token=token)


@op("GET", ORG_PATH + "/count", "read:organization_user_roles", "getOrganizationRoleUsersCount")
def get_organization_role_users_count(call: Call) -> Reply:
    config = call.config
    org = lookup.org(config, call.params["org_code"])
    role = lookup.role(config, call.params["role_id"])
    return success(count=len(_holders(config, org.code, role.key)))


OPERATIONS = [get_role_users, get_organization_role_users, get_organization_role_users_count]
