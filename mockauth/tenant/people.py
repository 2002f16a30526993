"""Users and organisations of the mock tenant: who can sign in, and the claims they carry."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from mockauth.tenant.catalog import Catalog, FlagValue, parse_values
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
    external_id: str | None = None
    handle: str | None = None
    is_allow_registrations: bool = False
    created_on: str | None = None
    # Overrides of feature flags for the organisation's members, and property values.
    feature_flags: Mapping[str, FlagValue] = field(default_factory=lambda: MappingProxyType({}))
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


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
    # Roles and permissions held in one organisation only (``roles``/``permissions`` above
    # hold in every one), by org code.
    org_roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    org_permissions: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    feature_flags: Mapping[str, FlagValue] = field(default_factory=lambda: MappingProxyType({}))
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    is_suspended: bool = False
    provided_id: str | None = None
    phone: str | None = None
    created_on: str | None = None

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
    # Newer keys only when set, so older tables (and their tests) read the same.
    for name, value in (
        ("org_roles", {k: list(v) for k, v in user.org_roles.items()}),
        ("org_permissions", {k: list(v) for k, v in user.org_permissions.items()}),
        ("feature_flags", dict(user.feature_flags)),
        ("properties", dict(user.properties)),
        ("is_suspended", user.is_suspended),
        ("provided_id", user.provided_id),
        ("phone", user.phone),
        ("created_on", user.created_on),
    ):
        if value:
            out[name] = value
    return out


def org_table(org: Org) -> dict[str, Any]:
    """An organisation as its ``[[orgs]]`` table."""
    out: dict[str, Any] = {"code": org.code, "name": org.name}
    for name, value in (
        ("external_id", org.external_id),
        ("handle", org.handle),
        ("is_allow_registrations", org.is_allow_registrations),
        ("created_on", org.created_on),
        ("feature_flags", dict(org.feature_flags)),
        ("properties", dict(org.properties)),
    ):
        if value:
            out[name] = value
    return out


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


_ORG_KEYS = {"code", "name", "external_id", "handle", "is_allow_registrations", "created_on"}


def parse_orgs(v: Reader, items: list[Any], catalog: Catalog | None = None) -> tuple[Org, ...]:
    orgs = tuple(parse_org(v, value, f"orgs[{i}]", catalog) for i, value in enumerate(items))
    v.unique([o.code for o in orgs], "orgs", "code")
    return orgs


def parse_org(v: Reader, value: object, key: str, catalog: Catalog | None = None) -> Org:
    """One ``[[orgs]]`` table; ``catalog``: the flags and properties it may set."""
    data = v.table(value, key, _ORG_KEYS | {"feature_flags", "properties"})
    code = v.typed(data, "code", f"{key}.code", str)
    if not ORG_CODE_RE.match(code):
        raise v.fail(f"{key}.code", code, "must be org_ and 1 to 32 lowercase letters or digits")
    flags, props = parse_values(v, data, key, catalog or Catalog(), "org")
    return Org(
        code=code,
        name=_limited(v, data, "name", key, ""),
        external_id=_limited(v, data, "external_id", key, None),
        handle=_limited(v, data, "handle", key, None),
        is_allow_registrations=v.typed(
            data, "is_allow_registrations", f"{key}.is_allow_registrations", bool, False
        ),
        created_on=_limited(v, data, "created_on", key, None),
        feature_flags=MappingProxyType(flags),
        properties=MappingProxyType(props),
    )


def _limited(v: Reader, data: dict[str, Any], name: str, key: str, default: str | None) -> Any:
    value = v.typed(data, name, f"{key}.{name}", str, default)
    if isinstance(value, str) and len(value) > 256:
        raise v.fail(f"{key}.{name}", value[:40] + "...", "must be at most 256 chars")
    return value


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
    "org_roles",
    "org_permissions",
    "feature_flags",
    "properties",
    "is_suspended",
    "provided_id",
    "phone",
    "created_on",
}


def parse_users(
    v: Reader, items: list[Any], orgs: tuple[Org, ...], catalog: Catalog | None = None
) -> tuple[User, ...]:
    codes = {o.code for o in orgs}
    users = tuple(
        parse_user(v, value, f"users[{i}]", codes, catalog) for i, value in enumerate(items)
    )
    emails: set[str] = set()
    for i, user in enumerate(users):  # sign-in matches emails case-insensitively
        if user.email.lower() in emails:
            raise v.fail(f"users[{i}].email", user.email, "duplicate email (case ignored)")
        emails.add(user.email.lower())
    v.unique([u.id for u in users], "users", "id")
    return users


def parse_user(
    v: Reader, value: object, key: str, codes: set[str], catalog: Catalog | None = None
) -> User:
    """One ``[[users]]`` table; ``codes``: the org codes it may name; ``catalog``: the roles,
    permissions, flags and properties its per-org grants, overrides and values may name."""
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
    defined = catalog or Catalog()
    flags, props = parse_values(v, data, key, defined, "usr")
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
        org_roles=_per_org(v, data, "org_roles", key, orgs, lambda r: defined.role(r) is not None),
        org_permissions=_per_org(
            v, data, "org_permissions", key, orgs, lambda p: defined.permission(p) is not None
        ),
        feature_flags=MappingProxyType(flags),
        properties=MappingProxyType(props),
        is_suspended=v.typed(data, "is_suspended", f"{key}.is_suspended", bool, False),
        provided_id=_limited(v, data, "provided_id", key, None),
        phone=_limited(v, data, "phone", key, None),
        created_on=_limited(v, data, "created_on", key, None),
    )


def _per_org(
    v: Reader,
    data: dict[str, Any],
    name: str,
    key: str,
    orgs: tuple[str, ...],
    defined: Callable[[str], bool],
) -> Mapping[str, tuple[str, ...]]:
    """``{org_code = [role or permission keys]}`` for orgs the user belongs to."""
    table = v.typed(data, name, f"{key}.{name}", dict, {})
    what = "a key in [[roles]]" if name == "org_roles" else "a key in [[permissions]]"
    out: dict[str, tuple[str, ...]] = {}
    for code, keys in table.items():
        if code not in orgs:
            raise v.fail(f"{key}.{name}.{code}", keys, "the user is not in this organisation")
        found = v.strings(keys, f"{key}.{name}.{code}", defined, what)
        if found:
            out[code] = found
    return MappingProxyType(out)


def _permission(value: str) -> bool:
    return bool(PERMISSION_RE.match(value))
