"""Entities as the Management API shows them (field names and types as Kinde's clients
parse them: strict strings, ints and booleans, dates as ISO 8601 text)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from mockauth.tenant.catalog import Permission, Role
from mockauth.tenant.people import Org, User


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).isoformat().replace("+00:00", "Z")


def created_on(value: str | None, started_at: float) -> str:
    return value or iso(started_at)


def identities(user: User) -> list[tuple[str, str, str]]:
    """(id, type, value) of a user's identities: their email, username and phone."""
    out = [("email", user.email)]
    if user.username:
        out.append(("username", user.username))
    if user.phone:
        out.append(("phone", user.phone))
    return [(identity_id(user.id, kind), kind, value) for kind, value in out]


def identity_id(user_id: str, kind: str) -> str:
    return "identity_" + hashlib.sha256(f"{user_id}:{kind}".encode()).hexdigest()[:32]


def user_entry(user: User, started_at: float, *, email_key: str = "email") -> dict[str, Any]:
    return {
        "id": user.id,
        "provided_id": user.provided_id,
        email_key: user.email,
        "phone": user.phone,
        "username": user.username,
        "last_name": user.family_name,
        "first_name": user.given_name,
        "is_suspended": user.is_suspended,
        "picture": user.picture,
        "total_sign_ins": 0,
        "failed_sign_ins": 0,
        "last_signed_in": None,
        "created_on": created_on(user.created_on, started_at),
    }


def expanded(entry: dict[str, Any], user: User, expand: str | None) -> dict[str, Any]:
    wanted = {part.strip() for part in (expand or "").split(",")}
    if "organizations" in wanted:
        entry["organizations"] = list(user.orgs)
    if "identities" in wanted:
        entry["identities"] = [{"type": t, "identity": v} for _, t, v in identities(user)]
    return entry


def org_entry(org: Org) -> dict[str, Any]:
    return {
        "code": org.code,
        "name": org.name,
        "handle": org.handle,
        "is_default": False,
        "external_id": org.external_id,
        "is_auto_membership_enabled": False,
    }


def role_entry(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "is_default_role": role.is_default_role,
    }


def permission_entry(permission: Permission) -> dict[str, Any]:
    return {
        "id": permission.id,
        "key": permission.key,
        "name": permission.name,
        "description": permission.description,
    }
