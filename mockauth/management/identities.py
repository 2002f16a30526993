"""A user's identities: their email, username and phone (one of each at most, so each is the
primary of its type). List, add a username or phone, read, update, delete."""

from __future__ import annotations

from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.shapes import created_on, identities
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.people import User, user_table


def identity_entry(user: User, ident: str, kind: str, value: str, started: float) -> dict[str, Any]:
    return {
        "id": ident,
        "type": kind,
        "is_confirmed": user.email_verified if kind == "email" else True,
        "created_on": created_on(user.created_on, started),
        "last_login_on": None,
        "total_logins": 0,
        "name": value,
        "email": user.email if kind == "email" else None,
        "connection_id": None,
        "is_primary": kind == "email",
    }


def _identity(config: ServerConfig, ident: str) -> tuple[User, str, str]:
    """The user an identity id belongs to, its type and value (404 if none)."""
    for user in config.users:
        for found, kind, value in identities(user):
            if found == ident:
                return user, kind, value
    raise lookup.not_found("identity", ident)


@op("GET", "/users/{user_id}/identities", "read:user_identities", "GetUserIdentities")
def get_user_identities(call: Call) -> Reply:
    user = lookup.user(call.config, call.params["user_id"])
    found = identities(user)
    page, more = call.cursor_page(found, lambda i: i[0], 50)
    started = call.tenant.started_at
    entries = [identity_entry(user, i, kind, value, started) for i, kind, value in page]
    return success(identities=entries, has_more=more)


@op("POST", "/users/{user_id}/identities", "create:user_identities", "CreateUserIdentity")
def create_user_identity(call: Call) -> Reply:
    body = call.table()
    body.only({"value", "type", "phone_country_id", "connection_id"})
    kind = inputs.choice(body, "type", ("email", "username", "phone", "enterprise", "social"))
    value = inputs.text(body, "value", required=True)
    if kind not in ("username", "phone"):
        raise body.fail(
            "type", kind, "mockauth adds username and phone identities (a user has one email)"
        )

    def change(config: ServerConfig) -> tuple[ServerConfig, str]:
        user = lookup.user(config, call.params["user_id"])
        if getattr(user, kind):
            raise ManagementConflict(f"The user already has a {kind} identity.")
        new = lookup.parsed_user(config, {**user_table(user), kind: value})
        ident = next(i for i, t, _ in identities(new) if t == kind)
        return lookup.put_user(config, new), ident

    ident = call.tenant.update(change)
    return success(201, identity={"id": ident})


@op("GET", "/identities/{identity_id}", "read:identities", "GetIdentity")
def get_identity(call: Call) -> Reply:
    ident = call.params["identity_id"]
    user, kind, value = _identity(call.config, ident)
    return 200, identity_entry(user, ident, kind, value, call.tenant.started_at)


@op("PATCH", "/identities/{identity_id}", "update:identities", "UpdateIdentity")
def update_identity(call: Call) -> Reply:
    body = call.table()
    body.only({"is_primary"})
    primary = inputs.boolean(body, "is_primary")
    _identity(call.config, call.params["identity_id"])
    if primary is False:  # the only identity of its type stays its primary one
        raise ManagementBadRequest(
            "A mockauth user has one identity of each type, and it is the primary one.",
            code="PRIMARY_IDENTITY_REQUIRED",
        )
    return success()


@op("DELETE", "/identities/{identity_id}", "delete:identities", "DeleteIdentity")
def delete_identity(call: Call) -> Reply:
    ident = call.params["identity_id"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        user, kind, _ = _identity(config, ident)
        if kind == "email":
            raise ManagementBadRequest(
                "mockauth users sign in with their email: its identity cannot be deleted.",
                code="EMAIL_IDENTITY_REQUIRED",
            )
        table = {k: v for k, v in user_table(user).items() if k != kind}
        return lookup.put_user(config, lookup.parsed_user(config, table)), None

    call.tenant.update(change)
    return success()


OPERATIONS = [
    get_user_identities,
    create_user_identity,
    get_identity,
    update_identity,
    delete_identity,
]
