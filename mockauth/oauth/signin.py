"""Signing a user in: who (``login_hint``, the session, the first user), to which
organisation, the code that carries it, the sign-in session at the server, and sign-up.

A session is a sealed cookie on the server's own origin (not worker memory): any worker
reads it, and ``prompt=none`` uses it as Kinde's does for silent re-authentication and
``switchOrg``. Ending it (``/logout``) spends its id, so a copy of the cookie is dead too;
ending all of a user's (the Management API's DeleteUserSessions) notes the time, and every
session of theirs that started by then is dead.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from mockauth.errors import AccessDeniedError, ConfigError, shown
from mockauth.tenant.apps import App
from mockauth.tenant.people import EMAIL_RE, Org, User
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.sealed import Code, Session

CODE_LIFETIME = 600  # seconds, as Kinde's OAuth layer (Ory Fosite) defaults
SESSION_COOKIE = "mockauth_session"
# Where Kinde keeps a browser's refresh token on a custom domain (the JS SDKs' cookie mode).
REFRESH_COOKIE = "_kbrte"
SESSION_LIFETIME = 30 * 86_400  # real seconds a sign-in session lasts without a logout
MAX_ORG_NAME = 256
_ENDED = "sessions_ended:"  # + user id: when their sessions were ended (tenant clock)


def find_user(tenant: Tenant, hint: str) -> User | None:
    """The user ``login_hint`` names: an id, or an email in any case."""
    for user in tenant.config.users:
        if hint == user.id or hint.lower() == user.email.lower():
            return user
    return None


def first_user(tenant: Tenant) -> User:
    users = tenant.config.users
    if not users:
        raise AccessDeniedError("No user can sign in: the config has no [[users]] table.")
    return users[0]


def signed_in_user(tenant: Tenant, hint: str | None) -> User:
    """The user ``login_hint`` names (email, any case, or id), or the first user."""
    if not hint:
        return first_user(tenant)
    user = find_user(tenant, hint)
    if user is None:
        raise AccessDeniedError(f"No configured user has the email or id {shown(hint)!r}.")
    return user


def org_for(tenant: Tenant, user: User, code: str | None) -> Org | None:
    """The organisation a user signs in to: ``code`` if a member, else their first."""
    if not code:
        return tenant.org(user.orgs[0]) if user.orgs else None
    if code not in user.orgs:
        raise AccessDeniedError(f"The user is not a member of the organization {shown(code)!r}.")
    return tenant.org(code)


@dataclass(frozen=True, kw_only=True)
class AuthRequest:
    """An authorization request as checked: the app, where to send the code, and what the
    code is for."""

    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    nonce: str | None
    challenge: str | None  # PKCE S256


def issue_code(
    tenant: Tenant, request: AuthRequest, user: User, org: Org | None, auth_time: int
) -> str:
    """The sealed code of a checked authorization request for a signed-in user."""
    now = tenant.clock()
    code = Code(
        id=secrets.token_urlsafe(16),
        client_id=request.app.client_id,
        user_id=user.id,
        org_code=org.code if org else None,
        redirect_uri=request.redirect_uri,
        scopes=request.scopes,
        audiences=request.audiences,
        nonce=request.nonce,
        challenge=request.challenge,
        auth_time=auth_time,
        exp=now + CODE_LIFETIME,
        real_exp=int(time.time()) + CODE_LIFETIME,
    )
    return code.seal(tenant.sealer)


# --- the session -------------------------------------------------------------------------------


def start_session(tenant: Tenant, app: App, user: User) -> Session:
    return Session(
        id=secrets.token_urlsafe(16),
        client_id=app.client_id,
        user_id=user.id,
        auth_time=tenant.clock(),
        exp=tenant.clock() + SESSION_LIFETIME,
        real_exp=int(time.time()) + SESSION_LIFETIME,
    )


def session_of(tenant: Tenant, cookie: str | None) -> tuple[Session, User] | None:
    """The live session in a cookie and its user, or None (none, ended, expired, the user
    removed)."""
    session = Session.open(tenant.sealer, cookie) if cookie else None
    if session is None or session.real_exp <= time.time() or session.exp <= tenant.clock():
        return None
    user = tenant.user(session.user_id)
    if user is None or tenant.store.is_spent("session_" + session.id):
        return None
    ended = tenant.store.note_of(_ENDED + user.id)
    if ended is not None and session.auth_time <= int(ended):
        return None  # one started in the second they were ended counts as ended too
    return session, user


def end_session(tenant: Tenant, cookie: str | None) -> None:
    session = Session.open(tenant.sealer, cookie) if cookie else None
    if session is not None:
        tenant.store.spend("session_" + session.id, session.real_exp)


def end_user_sessions(tenant: Tenant, user_id: str) -> None:
    """End every sign-in session ``user_id`` has (the cookies are the browsers': none is
    listed, each is refused from now on)."""
    tenant.store.note(_ENDED + user_id, str(tenant.clock()), time.time() + SESSION_LIFETIME)


def session_cookie(tenant: Tenant, session: Session | None) -> str:
    """The Set-Cookie value that keeps ``session`` (None: that ends it)."""
    secure = "; Secure" if tenant.issuer.startswith("https:") else ""
    if session is None:
        return f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}"
    value = session.seal(tenant.sealer)
    return f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"


def refresh_cookie(tenant: Tenant, refresh_token: str | None) -> str:
    """The Set-Cookie value that keeps a browser's refresh token (None: that drops it)."""
    secure = "; Secure" if tenant.issuer.startswith("https:") else ""
    value = refresh_token or ""
    age = "" if refresh_token else "; Max-Age=0"
    return f"{REFRESH_COOKIE}={value}{age}; Path=/; HttpOnly; SameSite=Lax{secure}"


# --- sign-up -------------------------------------------------------------------------------------


def sign_up(
    tenant: Tenant,
    *,
    email: str,
    given_name: str = "",
    family_name: str = "",
    org_name: str | None = None,
) -> tuple[User, Org | None]:
    """Add a user to the running tenant (and, with ``org_name``, a new organisation with
    the user as its first member), as Kinde's sign-up does. ConfigError names a bad field."""
    if not EMAIL_RE.match(email):
        raise ConfigError("sign-up", "email", email, "must be an email address")
    org = None
    if org_name is not None:
        name = org_name.strip()
        if not name or len(name) > MAX_ORG_NAME:
            raise ConfigError("sign-up", "org_name", org_name, "must be 1 to 256 characters")
        org = {"code": "org_" + secrets.token_hex(6)[:11], "name": name}
    table = {
        "email": email,
        "given_name": given_name.strip(),
        "family_name": family_name.strip(),
        "orgs": [org["code"]] if org else [],
    }
    return tenant.sign_up(table, org)
