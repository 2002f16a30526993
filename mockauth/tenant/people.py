"""Users and organisations of the mock tenant: who can sign in, and the claims they carry."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from mockauth.tenant.validate import Reader

ORG_CODE_RE = re.compile(r"^org_[0-9a-z]{1,32}\Z")
# What a user's extra claims may not set: the access token's own claims, and at_hash (it
# marks ID tokens, which are refused as access tokens).
USER_RESERVED_CLAIMS = frozenset(
    {"aud", "azp", "exp", "iat", "iss", "jti", "nbf", "sub", "scp", "scope", "gty", "v"}
    | {"org_code", "org_name", "permissions", "roles", "at_hash", "nonce"}
)
USER_ID_RE = re.compile(r"^kp_[0-9A-Za-z_]{1,64}\Z")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\Z")
PERMISSION_RE = re.compile(r"^[\x21-\x7e]{1,200}\Z")


@dataclass(frozen=True, kw_only=True)
class Org:
    """A Kinde organisation: users sign in to one, and tokens carry its code."""

    code: str
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class User:
    """A user who can sign in; ``orgs[0]`` is the org they sign in to by default."""

    id: str
    email: str
    given_name: str = ""
    family_name: str = ""
    email_verified: bool = True
    picture: str | None = None
    username: str | None = None
    orgs: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


def user_table(user: User) -> dict[str, Any]:
    """A user as its ``[[users]]`` table (JSON-ready): what parses back to the same user."""
    out: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email_verified": user.email_verified,
    }
    if user.picture is not None:
        out["picture"] = user.picture
    if user.username is not None:
        out["username"] = user.username
    out["orgs"] = list(user.orgs)
    out["permissions"] = list(user.permissions)
    out["roles"] = list(user.roles)
    out["claims"] = dict(user.claims)
    return out


def org_table(org: Org) -> dict[str, Any]:
    """An organisation as its ``[[orgs]]`` table."""
    return {"code": org.code, "name": org.name}


def user_id_for(email: str) -> str:
    """A stable Kinde-style id (``kp_`` + 32 hex) for a user configured without one."""
    return "kp_" + hashlib.sha256(email.lower().encode()).hexdigest()[:32]


def role_claim(role: str) -> dict[str, str]:
    """A role as Kinde's ``roles`` claim lists it; the id is stable per key."""
    digest = hashlib.sha256(role.encode()).hexdigest()
    uuid_like = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return {"id": uuid_like, "key": role, "name": role}


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a registered redirect URI (RFC 6749 3.1.2), or None."""
    if len(uri) > 2048:
        return "must be at most 2048 characters"
    if any(c.isspace() for c in uri):
        return "must not contain whitespace"
    parts = urlsplit(uri)
    if not parts.scheme or not (parts.netloc or parts.path):
        return "must be an absolute URI such as http://localhost:3000/callback"
    if parts.fragment or uri.endswith("#"):
        return "must not contain a fragment"
    if parts.scheme.lower() in ("javascript", "data", "vbscript", "file"):
        return f"must not use the {parts.scheme}: scheme"
    return None


def parse_orgs(v: Reader, items: list[Any]) -> tuple[Org, ...]:
    orgs = tuple(parse_org(v, value, f"orgs[{i}]") for i, value in enumerate(items))
    v.unique([o.code for o in orgs], "orgs", "code")
    return orgs


def parse_org(v: Reader, value: object, key: str) -> Org:
    """One ``[[orgs]]`` table."""
    data = v.table(value, key, {"code", "name"})
    code = v.typed(data, "code", f"{key}.code", str)
    if not ORG_CODE_RE.match(code):
        raise v.fail(f"{key}.code", code, "must be org_ and 1 to 32 lowercase letters or digits")
    return Org(code=code, name=v.typed(data, "name", f"{key}.name", str, ""))


# Longest accepted values: an email's limit (RFC 5321), generous ones elsewhere.
_LENGTHS = {"email": 254, "given_name": 256, "family_name": 256, "username": 256, "picture": 2048}
_USER_KEYS = {
    "id",
    "email",
    "given_name",
    "family_name",
    "email_verified",
    "picture",
    "username",
    "orgs",
    "permissions",
    "roles",
    "claims",
}


def parse_users(v: Reader, items: list[Any], orgs: tuple[Org, ...]) -> tuple[User, ...]:
    codes = {o.code for o in orgs}
    users = tuple(parse_user(v, value, f"users[{i}]", codes) for i, value in enumerate(items))
    emails: set[str] = set()
    for i, user in enumerate(users):  # sign-in matches emails case-insensitively
        if user.email.lower() in emails:
            raise v.fail(f"users[{i}].email", user.email, "duplicate email (case ignored)")
        emails.add(user.email.lower())
    v.unique([u.id for u in users], "users", "id")
    return users


def parse_user(v: Reader, value: object, key: str, codes: set[str]) -> User:
    """One ``[[users]]`` table; ``codes``: the org codes it may name."""
    data = v.table(value, key, _USER_KEYS)
    for name, limit in _LENGTHS.items():
        if isinstance(data.get(name), str) and len(data[name]) > limit:
            raise v.fail(f"{key}.{name}", data[name][:40] + "...", f"must be at most {limit} chars")
    email = v.typed(data, "email", f"{key}.email", str)
    if not EMAIL_RE.match(email):
        raise v.fail(f"{key}.email", email, "must be an email address")
    user_id = v.typed(data, "id", f"{key}.id", str, None) or user_id_for(email)
    if not USER_ID_RE.match(user_id):
        raise v.fail(f"{key}.id", user_id, "must be kp_ and 1 to 64 letters, digits or '_'")
    orgs = v.strings(
        data.get("orgs", []), f"{key}.orgs", lambda c: c in codes, "a code in [[orgs]]"
    )
    return User(
        id=user_id,
        email=email,
        given_name=v.typed(data, "given_name", f"{key}.given_name", str, ""),
        family_name=v.typed(data, "family_name", f"{key}.family_name", str, ""),
        email_verified=v.typed(data, "email_verified", f"{key}.email_verified", bool, True),
        picture=v.typed(data, "picture", f"{key}.picture", str, None),
        username=v.typed(data, "username", f"{key}.username", str, None),
        orgs=orgs,
        permissions=v.strings(
            data.get("permissions", []), f"{key}.permissions", _permission, "a permission"
        ),
        roles=v.strings(data.get("roles", []), f"{key}.roles", _permission, "a role key"),
        claims=MappingProxyType(v.claims(data, key, USER_RESERVED_CLAIMS)),
    )


def _permission(value: str) -> bool:
    return bool(PERMISSION_RE.match(value))
