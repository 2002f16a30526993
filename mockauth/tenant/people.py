"""Users and organisations of the mock tenant: who can sign in, and the claims they carry."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockauth.tenant.catalog import Catalog, parse_values
from mockauth.tenant.environment import parse_logos, parse_policy
from mockauth.tenant.flagvalues import FlagValue
from mockauth.tenant.grants import ApiScopes, api_scopes_table, parse_api_scopes
from mockauth.tenant.invites import Invite, invite_table, parse_invites
from mockauth.tenant.validate import EMAIL, PERMISSION, TEXT, Reader, Text

ORG_CODE = Text(
    "^org_[0-9a-z]{1,32}$",
    "must be org_ and 1 to 32 lowercase letters or digits (Kinde's: org_ + 11 hex)",
)
# What a user's extra claims may not set: the access token's own claims, and at_hash (it
# marks ID tokens, which are refused as access tokens).
USER_RESERVED_CLAIMS = frozenset(
    {"aud", "azp", "exp", "iat", "iss", "jti", "nbf", "sub", "scp", "scope", "gty", "v"}
    | {"org_code", "org_name", "permissions", "roles", "at_hash", "nonce"}
)
USER_ID = Text("^kp_[0-9A-Za-z_]{1,64}$", "must be kp_ and 1 to 64 letters, digits or '_'")
ORG_CODE_RE = ORG_CODE.regex
USER_ID_RE = USER_ID.regex
EMAIL_RE = EMAIL.regex
PERMISSION_RE = PERMISSION.regex


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
    invites: tuple[Invite, ...] = ()
    # Logo file names by type (light, dark); its own passkey policy (None: the environment's).
    logos: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    passkey_policy: str | None = None


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
    # API scopes held in one organisation, by org code.
    org_api_scopes: Mapping[str, ApiScopes] = field(default_factory=lambda: MappingProxyType({}))

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
        ("org_api_scopes", {k: api_scopes_table(v) for k, v in user.org_api_scopes.items()}),
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
        ("invites", [invite_table(i) for i in org.invites]),
        ("logos", dict(org.logos)),
        ("passkey_policy", org.passkey_policy),
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


def _ipv6(hexdigit: str = "0-9A-Fa-f") -> str:
    """RFC 3986's IPv6address, as a regular expression."""
    h16 = f"[{hexdigit}]{{1,4}}"
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    ls32 = f"(?:{h16}:{h16}|{octet}(?:[.]{octet}){{3}})"
    forms = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}"]
    for before, after in ((0, 4), (1, 3), (2, 2), (3, 1), (4, 0)):
        tail = f"(?:{h16}:){{{after}}}{ls32}"
        forms.append(f"(?:(?:{h16}:){{0,{before}}}{h16})?::{tail}")
    forms += [f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}", f"(?:(?:{h16}:){{0,6}}{h16})?::"]
    return "(?:" + "|".join(forms) + ")"


def _redirect_uri() -> Text:
    """An absolute URI in RFC 3986's characters, with a scheme and a host or a path; no
    fragment, no script scheme, and brackets only around an IPv6 host (so that every URI
    it admits splits: urllib refuses ``http://[``)."""
    char = "!$-;=?-Z_a-z~"  # RFC 3986's characters but '#', '[' and ']'
    no_query, no_slash, neither = "!$-;=@-Z_a-z~", "!$-.0-;=?-Z_a-z~", "!$-.0-;=@-Z_a-z~"
    user = "!$-.0-;=A-Z_a-z~"
    plain = f"(?://[{no_query}][{char}]*|/(?:[{no_slash}][{char}]*)?|[{neither}][{char}]*)"
    ipv6 = f"//(?:[{user}]*@)?\\[{_ipv6()}\\](?::[0-9]*)?(?:[/?][{char}]*)?"
    script = "|".join(
        "".join(f"[{c.upper()}{c}]" for c in scheme) for scheme in sorted(_SCRIPT_SCHEMES)
    )
    return Text(
        f"^(?!(?:{script}):)[A-Za-z][A-Za-z0-9+.-]*:(?:{plain}|{ipv6})$",
        "must be an absolute URI such as http://localhost:3000/callback",
        REDIRECT_URI_LENGTH,
    )


def _origin() -> Text:
    """An origin exactly as a browser sends it in ``Origin``: lowercase scheme and host, and a
    port only when it is not the scheme's default."""
    host = f"(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\\[{_ipv6('0-9a-f')}\\])"
    port = (
        "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    )
    return Text(
        f"^(?:http://{host}(?::(?!80$){port})?|https://{host}(?::(?!443$){port})?)$",
        "must be an origin as a browser sends it: scheme://host[:port], lowercase, "
        "without the scheme's default port",
        REDIRECT_URI_LENGTH,
    )


_SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
REDIRECT_URI_LENGTH = 2048
REDIRECT_URI = _redirect_uri()
ORIGIN = _origin()


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a registered redirect URI (RFC 6749 3.1.2), or None."""
    if REDIRECT_URI.ok(uri):
        return None
    scheme = uri.partition(":")[0].lower()
    if len(uri) > REDIRECT_URI_LENGTH:
        return f"must be at most {REDIRECT_URI_LENGTH} characters"
    if any(c.isspace() for c in uri):
        return "must not contain whitespace"
    if "#" in uri:
        return "must not contain a fragment"
    if scheme in _SCRIPT_SCHEMES:
        return f"must not use the {scheme}: scheme"
    return REDIRECT_URI.reason


# What an [[orgs]] table may hold; the admin API's document states the same (admin/schemas.py).
ORG_TEXT = {
    name: Text(TEXT.pattern, TEXT.reason, 256) for name in ("external_id", "handle", "created_on")
}
ORG_KEYS = frozenset(
    {"code", "name", "is_allow_registrations", "feature_flags", "properties", *ORG_TEXT}
    | {"invites", "logos", "passkey_policy"}
)


def parse_user_table(
    value: object,
    *,
    source: str,
    orgs: tuple[Org, ...],
    key: str = "user",
    catalog: Catalog | None = None,
) -> User:
    """Validate one ``[[users]]`` table (or its JSON form) against the defined ``orgs``."""
    return parse_user(Reader(source), value, key, {o.code for o in orgs}, catalog)


def parse_org_table(
    value: object, *, source: str, key: str = "org", catalog: Catalog | None = None
) -> Org:
    """Validate one ``[[orgs]]`` table (or its JSON form)."""
    return parse_org(Reader(source), value, key, catalog)


def parse_orgs(v: Reader, items: list[Any], catalog: Catalog | None = None) -> tuple[Org, ...]:
    orgs = tuple(parse_org(v, value, f"orgs[{i}]", catalog) for i, value in enumerate(items))
    v.unique([o.code for o in orgs], "orgs", "code")
    return orgs


def parse_org(v: Reader, value: object, key: str, catalog: Catalog | None = None) -> Org:
    """One ``[[orgs]]`` table; ``catalog``: the flags and properties it may set."""
    data = v.table(value, key, ORG_KEYS)
    code = v.matches(f"{key}.code", v.typed(data, "code", f"{key}.code", str), ORG_CODE)
    flags, props = parse_values(v, data, key, catalog or Catalog(), "org")
    texts = {name: v.text(data, name, f"{key}.{name}", rule) for name, rule in ORG_TEXT.items()}
    return Org(
        code=code,
        name=v.text(data, "name", f"{key}.name", NAME, default=""),
        external_id=texts["external_id"],
        handle=texts["handle"],
        is_allow_registrations=v.typed(
            data, "is_allow_registrations", f"{key}.is_allow_registrations", bool, False
        ),
        created_on=texts["created_on"],
        feature_flags=MappingProxyType(flags),
        properties=MappingProxyType(props),
        invites=parse_invites(v, data.get("invites", []), f"{key}.invites"),
        logos=parse_logos(v, data, key),
        passkey_policy=parse_policy(v, data, key),
    )


NAME = Text(TEXT.pattern, TEXT.reason, 256)
# A user's text fields, with generous lengths.
USER_TEXT = {
    "given_name": NAME,
    "family_name": NAME,
    "username": NAME,
    "picture": Text(TEXT.pattern, TEXT.reason, 2048),
    "provided_id": NAME,
    "phone": NAME,
    "created_on": NAME,
}
USER_KEYS = frozenset(
    {"id", "email", "email_verified", "orgs", "permissions", "roles", "claims", *USER_TEXT}
    | {"org_roles", "org_permissions", "feature_flags", "properties", "is_suspended"}
    | {"org_api_scopes"}
)


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
    data = v.table(value, key, USER_KEYS)
    texts = {name: v.text(data, name, f"{key}.{name}", rule) for name, rule in USER_TEXT.items()}
    email = v.matches(f"{key}.email", v.typed(data, "email", f"{key}.email", str), EMAIL)
    user_id = v.text(data, "id", f"{key}.id", USER_ID) or user_id_for(email)
    orgs = v.strings(data.get("orgs", []), f"{key}.orgs", ORG_CODE)
    for i, code in enumerate(orgs):
        if code not in codes:
            raise v.conflict(f"{key}.orgs[{i}]", code, "must be a code in [[orgs]]")
    defined = catalog or Catalog()
    flags, props = parse_values(v, data, key, defined, "usr")
    return User(
        id=user_id,
        email=email,
        given_name=texts["given_name"] or "",
        family_name=texts["family_name"] or "",
        email_verified=v.typed(data, "email_verified", f"{key}.email_verified", bool, True),
        picture=texts["picture"],
        username=texts["username"],
        orgs=orgs,
        permissions=v.strings(data.get("permissions", []), f"{key}.permissions", PERMISSION),
        roles=v.strings(data.get("roles", []), f"{key}.roles", PERMISSION),
        claims=MappingProxyType(v.claims(data, key, USER_RESERVED_CLAIMS)),
        org_roles=_per_org(v, data, "org_roles", key, orgs, lambda r: defined.role(r) is not None),
        org_permissions=_per_org(
            v, data, "org_permissions", key, orgs, lambda p: defined.permission(p) is not None
        ),
        feature_flags=MappingProxyType(flags),
        properties=MappingProxyType(props),
        is_suspended=v.typed(data, "is_suspended", f"{key}.is_suspended", bool, False),
        provided_id=texts["provided_id"],
        phone=texts["phone"],
        created_on=texts["created_on"],
        org_api_scopes=_org_api_scopes(v, data, key, orgs),
    )


def _org_api_scopes(
    v: Reader, data: dict[str, Any], key: str, orgs: tuple[str, ...]
) -> Mapping[str, ApiScopes]:
    """``{org_code = {audience = [scopes]}}`` for orgs the user belongs to."""
    where = f"{key}.org_api_scopes"
    table = v.typed(data, "org_api_scopes", where, dict, {})
    out = {}
    for code, scopes in table.items():
        v.matches(f"{where}.{code} (the org code)", code, ORG_CODE)
        found = parse_api_scopes(v, scopes, f"{where}.{code}")
        if code not in orgs:
            raise v.conflict(f"{where}.{code}", scopes, "the user is not in this organisation")
        if found:
            out[code] = found
    return MappingProxyType(out)


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
        where = f"{key}.{name}.{code}"
        v.matches(f"{where} (the org code)", code, ORG_CODE)
        found = v.strings(keys, where, PERMISSION)
        if code not in orgs:
            raise v.conflict(where, keys, "the user is not in this organisation")
        for i, item in enumerate(found):
            if not defined(item):
                raise v.conflict(f"{where}[{i}]", item, f"must be {what}")
        if found:
            out[code] = found
    return MappingProxyType(out)
