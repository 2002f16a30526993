"""Users and organisations of the mock tenant: who can sign in, and the claims they carry."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockauth.tenant.validate import CONTROLS, SPACES, TEXT, Reader, Text

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
# An email's limit (RFC 5321).
EMAIL = Text(f"^[^@{CONTROLS}{SPACES}]+@[^@{CONTROLS}{SPACES}]+$", "must be an email address", 254)
PERMISSION = Text("^[\\x21-\\x7e]{1,200}$", "must be 1 to 200 printable ASCII characters")
ORG_CODE_RE = ORG_CODE.regex
USER_ID_RE = USER_ID.regex
EMAIL_RE = EMAIL.regex
PERMISSION_RE = PERMISSION.regex


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


def _ipv6() -> str:
    """RFC 3986's IPv6address, as a regular expression."""
    h16 = "[0-9A-Fa-f]{1,4}"
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


_SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
REDIRECT_URI_LENGTH = 2048
REDIRECT_URI = _redirect_uri()


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


def parse_orgs(v: Reader, items: list[Any]) -> tuple[Org, ...]:
    orgs = tuple(parse_org(v, value, f"orgs[{i}]") for i, value in enumerate(items))
    v.unique([o.code for o in orgs], "orgs", "code")
    return orgs


ORG_KEYS = frozenset({"code", "name"})


def parse_org(v: Reader, value: object, key: str) -> Org:
    """One ``[[orgs]]`` table."""
    data = v.table(value, key, ORG_KEYS)
    code = v.matches(f"{key}.code", v.typed(data, "code", f"{key}.code", str), ORG_CODE)
    return Org(code=code, name=v.text(data, "name", f"{key}.name", TEXT, default=""))


# A user's text fields, with generous lengths.
USER_TEXT = {
    "given_name": Text(TEXT.pattern, TEXT.reason, 256),
    "family_name": Text(TEXT.pattern, TEXT.reason, 256),
    "username": Text(TEXT.pattern, TEXT.reason, 256),
    "picture": Text(TEXT.pattern, TEXT.reason, 2048),
}
USER_KEYS = frozenset(
    {"id", "email", "email_verified", "orgs", "permissions", "roles", "claims", *USER_TEXT}
)


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
    data = v.table(value, key, USER_KEYS)
    texts = {name: v.text(data, name, f"{key}.{name}", rule) for name, rule in USER_TEXT.items()}
    email = v.matches(f"{key}.email", v.typed(data, "email", f"{key}.email", str), EMAIL)
    user_id = v.text(data, "id", f"{key}.id", USER_ID) or user_id_for(email)
    orgs = v.strings(data.get("orgs", []), f"{key}.orgs", ORG_CODE)
    for i, code in enumerate(orgs):
        if code not in codes:
            raise v.conflict(f"{key}.orgs[{i}]", code, "must be a code in [[orgs]]")
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
    )
