"""Users: list, search, get, create (with identities), update, delete; their claims,
feature-flag overrides, property values and password (their identities are in
identities.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import inputs, lookup, values
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.org_api_scopes import api_scope_entries
from mockauth.management.pagination import token_page
from mockauth.management.shapes import created_on, expanded, identities, user_entry
from mockauth.management.values import (
    override_value,
)
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.people import EMAIL_RE, User, user_table
from mockauth.tenant.validate import Table


@op("GET", "/users", "read:users", "getUsers")
def get_users(call: Call) -> Reply:
    users = list(call.config.users)
    filters: dict[str, Callable[[User, str], bool]] = {
        "user_id": lambda u, v: u.id == v,
        "email": lambda u, v: u.email.lower() == v.lower(),
        "username": lambda u, v: u.username == v,
        "phone": lambda u, v: u.phone == v,
    }
    for name, match in filters.items():
        wanted = call.q(name)
        if wanted:
            users = [u for u in users if match(u, wanted)]
    has_org = call.flag("has_organization")
    if has_org is not None:
        users = [u for u in users if bool(u.orgs) == has_org]
    page, token = token_page(users, call.page_size(), call.q("next_token"))
    started = call.tenant.started_at
    expand = call.q("expand")
    entries = [expanded(user_entry(u, started), u, expand) for u in page]
    return success(users=entries, next_token=token)


@op("GET", "/search/users", "read:users", "searchUsers")
def search_users(call: Call) -> Reply:
    query = (call.q("query") or "").lower()
    users = [
        u
        for u in call.config.users
        if not query
        or query in u.email.lower()
        or query in u.name.lower()
        or query == u.id.lower()
        or query in (u.username or "").lower()
    ]
    page, _ = call.cursor_page(users, lambda u: u.id)
    started = call.tenant.started_at
    results = []
    for user in page:
        entry = expanded(user_entry(user, started), user, call.q("expand"))
        entry["properties"] = dict(user.properties)
        entry["api_scopes"] = api_scope_entries(call.config, user)
        results.append(entry)
    return success(results=results)


@op("GET", "/user", "read:users", "getUserData")
def get_user_data(call: Call) -> Reply:
    user = lookup.user(call.config, call.required("id"))
    entry = user_entry(user, call.tenant.started_at, email_key="preferred_email")
    entry["organizations"] = list(user.orgs)
    entry["identities"] = [{"type": t, "identity": v} for _, t, v in identities(user)]
    return 200, entry


@op("POST", "/user", "create:users", "createUser")
def create_user(call: Call) -> Reply:
    body = call.table(optional=True)
    body.only({"profile", "organization_code", "provided_id", "identities"})
    profile = inputs.sub(body, "profile")
    profile.only({"given_name", "family_name", "picture"})
    table: dict[str, Any] = {
        "id": inputs.new_user_id(),
        "given_name": inputs.text(profile, "given_name") or "",
        "family_name": inputs.text(profile, "family_name") or "",
        "created_on": created_on(None, call.tenant.clock()),
    }
    picture = inputs.text(profile, "picture", limit=2048)
    if picture:
        table["picture"] = picture
    provided = inputs.text(body, "provided_id")
    if provided:
        table["provided_id"] = provided
    kinds = _identities(body, table)
    if "email" not in table:
        raise ManagementBadRequest(
            "mockauth users need an email identity (identities: [{type: email, details: "
            "{email}}]) to sign in.",
            code="EMAIL_REQUIRED",
        )
    org_code = inputs.text(body, "organization_code")

    def change(config: ServerConfig) -> tuple[ServerConfig, str]:
        _no_email_twin(config, table["email"], None)
        if org_code:
            lookup.org(config, org_code)
            table["orgs"] = [org_code]
        user = lookup.parsed_user(config, table)
        return replace(config, users=(*config.users, user)), user.id

    user_id = call.tenant.update(change)
    created = [{"type": kind, "result": {"created": True}} for kind in kinds]
    return 200, {"id": user_id, "created": True, "identities": created}


def _identities(body: Table, table: dict[str, Any]) -> list[str]:
    kinds = []
    for item in inputs.items(body, "identities"):
        item.only({"type", "is_verified", "details"})
        kind = inputs.choice(item, "type", ("email", "phone", "username"), required=True)
        details = inputs.sub(item, "details")
        details.only({"email", "phone", "phone_country_id", "username"})
        value = inputs.text(details, kind, required=True)
        if kind == "email":
            if "email" in table:
                raise item.fail("type", kind, "mockauth keeps one email per user")
            if not EMAIL_RE.match(value or ""):
                raise details.fail("email", value, "must be an email address")
            table["email"] = value
            verified = inputs.boolean(item, "is_verified")
            table["email_verified"] = True if verified is None else verified
        else:
            table[kind] = value
        kinds.append(kind)
    return kinds


def _no_email_twin(config: ServerConfig, email: str, user_id: str | None) -> None:
    if any(u.email.lower() == email.lower() and u.id != user_id for u in config.users):
        raise ManagementConflict(
            f"Another user has the email {email[:100]!r}.", code="USER_ALREADY_EXISTS"
        )


@op("PATCH", "/user", "update:users", "updateUser")
def update_user(call: Call) -> Reply:
    user_id = call.required("id")
    body = call.table()
    body.only(
        {
            "given_name",
            "family_name",
            "picture",
            "is_suspended",
            "is_password_reset_requested",
            "provided_id",
        }
    )
    changes: dict[str, Any] = {}
    for name in ("given_name", "family_name", "provided_id"):
        value = inputs.text(body, name)
        if value is not None:
            changes[name] = value
    picture = inputs.text(body, "picture", limit=2048)
    if picture is not None:
        changes["picture"] = picture
    suspended = inputs.boolean(body, "is_suspended")
    if suspended is not None:
        changes["is_suspended"] = suspended
    reset = inputs.boolean(body, "is_password_reset_requested")

    def change(config: ServerConfig) -> tuple[ServerConfig, User]:
        user = lookup.user(config, user_id)
        new = lookup.parsed_user(config, {**user_table(user), **changes})
        return lookup.put_user(config, new), new

    user = call.tenant.update(change)
    return 200, {
        "id": user.id,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "is_suspended": user.is_suspended,
        "is_password_reset_requested": bool(reset),
        "picture": user.picture,
    }


@op("DELETE", "/user", "delete:users", "deleteUser")
def delete_user(call: Call) -> Reply:
    user_id = call.required("id")
    call.flag("is_delete_profile")

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        lookup.user(config, user_id)
        return replace(config, users=tuple(u for u in config.users if u.id != user_id)), None

    call.tenant.update(change)
    return success()


@op("POST", "/users/{user_id}/refresh_claims", "update:user_refresh_claims", "refreshUserClaims")
def refresh_user_claims(call: Call) -> Reply:
    # Tokens are built from the tenant as it is at issue time: the user's next refresh
    # carries every change already. The call checks the user and succeeds.
    lookup.user(call.config, call.params["user_id"])
    return success()


@op(
    "PATCH",
    "/users/{user_id}/feature_flags/{feature_flag_key}",
    "update:user_feature_flags",
    "UpdateUserFeatureFlagOverride",
)
def update_user_feature_flag_override(call: Call) -> Reply:
    text = call.required("value")
    key = call.params["feature_flag_key"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        user = lookup.user(config, call.params["user_id"])
        flag = lookup.flag(config, key)
        if flag.allow_override_level != "usr":
            raise ManagementBadRequest(
                f"The flag {key!r} cannot be overridden for a user.", code="OVERRIDE_NOT_ALLOWED"
            )
        value = override_value(flag.type, text)
        flags = MappingProxyType({**user.feature_flags, key: value})
        return lookup.put_user(config, replace(user, feature_flags=flags)), None

    call.tenant.update(change)
    return success()


get_user_property_values = op(
    "GET", "/users/{user_id}/properties", "read:user_properties", "GetUserPropertyValues"
)(values.get_property_values)
update_user_properties = op(
    "PATCH", "/users/{user_id}/properties", "update:user_properties", "UpdateUserProperties"
)(values.update_property_values)
update_user_property = op(
    "PUT",
    "/users/{user_id}/properties/{property_key}",
    "update:user_properties",
    "UpdateUserProperty",
)(values.update_property_value)


@op("PUT", "/users/{user_id}/password", "update:user_passwords", "SetUserPassword")
def set_user_password(call: Call) -> Reply:
    body = call.table()
    inputs.text(body, "hashed_password", limit=4096, required=True)
    lookup.user(call.config, call.params["user_id"])  # mockauth signs users in without one
    return success()


OPERATIONS = [
    get_users,
    search_users,
    get_user_data,
    create_user,
    update_user,
    delete_user,
    refresh_user_claims,
    update_user_feature_flag_override,
    get_user_property_values,
    update_user_properties,
    update_user_property,
    set_user_password,
]
