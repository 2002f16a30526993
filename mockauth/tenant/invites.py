"""Invitations to an organisation (``[[orgs.invites]]``): who is invited, with which roles,
and whether the invitation was revoked. mockauth sends no email and has no page that
accepts one: an invitation is a record the Management API lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockauth.tenant.validate import EMAIL, PERMISSION, TEXT, Reader, Text

INVITE_CODE = Text("^inv_[0-9a-z]{1,64}$", "must be inv_ and 1 to 64 lowercase letters or digits")
# Kinde caps names at 64 characters (EMAIL_TOO_LONG, FIRST_NAME_TOO_LONG, ...).
INVITE_NAME = Text(TEXT.pattern, TEXT.reason, 64)
INVITE_TEXT = {"first_name": INVITE_NAME, "last_name": INVITE_NAME, "created_on": INVITE_NAME}
INVITE_KEYS = frozenset({"code", "email", "roles", "is_revoked", *INVITE_TEXT})


@dataclass(frozen=True, kw_only=True)
class Invite:
    code: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    roles: tuple[str, ...] = ()  # role keys
    created_on: str | None = None
    is_revoked: bool = False

    @property
    def full_name(self) -> str:
        return " ".join(n for n in (self.first_name, self.last_name) if n)


def invite_table(invite: Invite) -> dict[str, Any]:
    out: dict[str, Any] = {"code": invite.code, "email": invite.email, "roles": list(invite.roles)}
    for name in ("first_name", "last_name", "created_on"):
        value = getattr(invite, name)
        if value is not None:
            out[name] = value
    if invite.is_revoked:
        out["is_revoked"] = True
    return out


def parse_invites(v: Reader, value: object, key: str) -> tuple[Invite, ...]:
    """An organisation's ``invites`` array; codes are unique within it."""
    if not isinstance(value, list):
        raise v.fail(key, value, "must be an array of invitation tables")
    invites = tuple(_invite(v, item, f"{key}[{i}]") for i, item in enumerate(value))
    codes = [i.code for i in invites]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise v.conflict(f"{key}[{i}].code", code, "another invitation has this code")
    return invites


def _invite(v: Reader, value: object, key: str) -> Invite:
    data = v.table(value, key, INVITE_KEYS)
    texts = {name: v.text(data, name, f"{key}.{name}", rule) for name, rule in INVITE_TEXT.items()}
    return Invite(
        code=v.matches(f"{key}.code", v.typed(data, "code", f"{key}.code", str), INVITE_CODE),
        email=v.matches(f"{key}.email", v.typed(data, "email", f"{key}.email", str), EMAIL),
        roles=v.strings(data.get("roles", []), f"{key}.roles", PERMISSION),
        is_revoked=v.typed(data, "is_revoked", f"{key}.is_revoked", bool, False),
        **texts,
    )
