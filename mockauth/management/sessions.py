"""Sign-in sessions: a user's (listed: none, as the sessions live in the browsers' sealed
cookies; deleted: every one ends) and an organisation's session policy (checked and
accepted; mockauth's sessions keep their own lifetime)."""

from __future__ import annotations

from mockauth.management import inputs, lookup
from mockauth.management.operations import Call, Reply, op, success
from mockauth.oauth.signin import end_user_sessions

TEN_YEARS = 10 * 365 * 86_400


@op("GET", "/users/{user_id}/sessions", "read:user_sessions", "GetUserSessions")
def get_user_sessions(call: Call) -> Reply:
    lookup.user(call.config, call.params["user_id"])
    return success(has_more=False, sessions=[])


@op("DELETE", "/users/{user_id}/sessions", "delete:user_sessions", "DeleteUserSessions")
def delete_user_sessions(call: Call) -> Reply:
    user = lookup.user(call.config, call.params["user_id"])
    end_user_sessions(call.tenant, user.id)
    return success()


@op(
    "PATCH",
    "/organizations/{org_code}/sessions",
    "update:organizations",
    "UpdateOrganizationSessions",
)
def update_organization_sessions(call: Call) -> Reply:
    body = call.table()
    flags = ("is_use_org_sso_session_policy", "is_use_org_authenticated_session_lifetime")
    body.only({*flags, "sso_session_persistence_mode", "authenticated_session_lifetime"})
    for name in flags:
        inputs.boolean(body, name)
    inputs.choice(body, "sso_session_persistence_mode", ("persistent", "non_persistent"))
    body.integer("authenticated_session_lifetime", low=1, high=TEN_YEARS)
    lookup.org(call.config, call.params["org_code"])
    return success()


OPERATIONS = [get_user_sessions, delete_user_sessions, update_organization_sessions]
