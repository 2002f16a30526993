"""Minting tokens without HTTP: what the token endpoint's grants answer, and what the CLI and
the test helpers mint directly.

``m2m_token`` is the client_credentials answer for an authenticated M2M app;
``user_tokens`` the answer for a signed-in user (access token, ID token with ``openid``,
refresh token with ``offline``); ``login_tokens`` signs a user in as the authorization
endpoint would and mints their tokens at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockauth.errors import InvalidGrantError, InvalidScopeError, UnauthorizedClientError, shown
from mockauth.tokens.sealed import Code, Refresh

if TYPE_CHECKING:
    from mockauth.tenant.apps import App
    from mockauth.tenant.tenant import Tenant

# A code used twice: its family stays revoked this long (its refresh tokens may outlive any
# lifetime configured now).
FAMILY_MEMORY = 10 * 365 * 86_400


@dataclass(frozen=True, kw_only=True)
class SignIn:
    """What a user grant continues: who signed in, to which app and org, for what."""

    client_id: str
    user_id: str
    org_code: str | None
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    nonce: str | None
    auth_time: int
    family: str  # the id of the code or device code the tokens descend from

    @classmethod
    def of_code(cls, code: Code) -> SignIn:
        return cls(
            client_id=code.client_id,
            user_id=code.user_id,
            org_code=code.org_code,
            scopes=code.scopes,
            audiences=code.audiences,
            nonce=code.nonce,
            auth_time=code.auth_time,
            family=code.id,
        )

    @classmethod
    def of_refresh(cls, refresh: Refresh) -> SignIn:
        return cls(
            client_id=refresh.client_id,
            user_id=refresh.user_id,
            org_code=refresh.org_code,
            scopes=refresh.scopes,
            audiences=refresh.audiences,
            nonce=refresh.nonce,
            auth_time=refresh.auth_time,
            family=refresh.family_id,
        )


# --- machine to machine ------------------------------------------------------------------------


def m2m_token(
    tenant: Tenant, app: App, audiences: Sequence[str], scope: str | None
) -> dict[str, Any]:
    """Mint an M2M access token for an authenticated app; the token endpoint's success body.

    ``scope`` None: every scope granted on the audiences; else a subset of them.
    """
    scopes = granted_scopes(app, audiences, scope)
    lifetime = tenant.config.lifetimes_for(app).access_token
    org = tenant.org(app.org_code) if app.org_code else None
    claims = tenant.tokens.m2m_claims(
        app,
        list(audiences),
        scopes,
        lifetime=lifetime,
        catalog=tenant.config.catalog,
        org=org,
    )
    return {
        "access_token": tenant.tokens.sign(claims),
        # Kinde answers one second short of the lifetime (86399 for 86400).
        "expires_in": lifetime - 1,
        "scope": claims["scope"],
        "token_type": "bearer",
    }


def granted_scopes(app: App, audiences: Sequence[str], requested: str | None) -> list[str]:
    """All scopes granted on the audiences, or the requested subset; else an OAuthError."""
    granted: list[str] = []
    for audience in audiences:
        scopes = app.apis.get(audience)
        if scopes is None:
            raise UnauthorizedClientError(
                "The client is not authorized to request a token for the audience "
                f"'{shown(audience)}'."
            )
        granted.extend(s for s in scopes if s not in granted)
    if requested is None:
        return granted
    wanted = list(dict.fromkeys(requested.split()))
    missing = [s for s in wanted if s not in granted]
    if missing:
        raise InvalidScopeError(
            f"The requested scope is invalid, unknown, or malformed: {shown(' '.join(missing))} "
            "is not granted to the client on the requested audience."
        )
    return wanted


# --- users -------------------------------------------------------------------------------------


def user_tokens(
    tenant: Tenant,
    app: App,
    sign_in: SignIn,
    *,
    previous: Refresh | None = None,
    scopes: Sequence[str] | None = None,
    code: Code | None = None,
    generation: int = 0,
) -> dict[str, Any]:
    """The token response for a user grant. ``scopes`` narrows what is issued now (the
    refresh token keeps the sign-in's), ``previous`` is the refresh token being redeemed,
    ``code`` the authorization code, ``generation`` the refresh token's turn in its family."""
    issued = list(sign_in.scopes if scopes is None else scopes)
    user = tenant.user(sign_in.user_id)
    if user is None:
        raise InvalidGrantError("The user of this grant is no longer configured.")
    if sign_in.org_code and sign_in.org_code not in user.orgs:
        raise InvalidGrantError("The user is no longer a member of the grant's organization.")
    if user.is_suspended:
        raise InvalidGrantError("The user is suspended.")
    # Signed in with no organisation, and given one since: the token takes the user's first,
    # as Kinde puts a user in an organisation at sign-in.
    org_code = sign_in.org_code or (user.orgs[0] if user.orgs else None)
    org = tenant.org(org_code) if org_code else None
    lifetimes = tenant.config.lifetimes_for(app)
    now = tenant.clock()

    def access_claims(iat: int, jti: str | None) -> dict[str, Any]:
        return tenant.tokens.user_access_claims(
            app,
            user,
            org=org,
            audiences=list(sign_in.audiences),
            scopes=issued,
            lifetime=lifetimes.access_token,
            iat=iat,
            jti=jti,
            catalog=tenant.config.catalog,
        )

    claims = access_claims(now, None)
    # Kinde returns the same access token from a refresh while it is unexpired: the same
    # claims, so only when nothing it says has changed (scopes, permissions, lifetime).
    if previous is not None and not tenant.store.is_spent(previous.access_jti):
        again = access_claims(previous.access_iat, previous.access_jti)
        if again["exp"] > now and _digest(again) == previous.access_digest:
            claims = again
    # Until when a revoked jti is remembered: its real end, plus a lifetime in case the
    # tenant's clock is moved back.
    remembered = int(time.time()) + claims["exp"] - now + lifetimes.access_token
    if code is not None:
        _note_first_access_token(tenant, code, claims["jti"], remembered)
    access = tenant.tokens.sign(claims)
    body: dict[str, Any] = {"access_token": access, "expires_in": max(claims["exp"] - now - 1, 0)}
    if "openid" in issued:
        id_claims = tenant.tokens.id_claims(
            app,
            user,
            access_token=access,
            auth_time=sign_in.auth_time,
            nonce=sign_in.nonce,
            lifetime=lifetimes.id_token,
            updated_at=tenant.started_at,
            orgs=[o for o in (tenant.org(code) for code in user.orgs) if o is not None],
        )
        body["id_token"] = tenant.tokens.sign(id_claims)
    if "offline" in sign_in.scopes:
        refresh = Refresh(
            id=secrets.token_urlsafe(16),
            client_id=sign_in.client_id,
            user_id=sign_in.user_id,
            org_code=sign_in.org_code,
            scopes=sign_in.scopes,
            audiences=sign_in.audiences,
            nonce=sign_in.nonce,
            auth_time=sign_in.auth_time,
            family=sign_in.family,
            generation=generation,
            access_iat=claims["iat"],
            access_jti=claims["jti"],
            access_digest=_digest(claims),
            access_until=remembered,
            exp=now + lifetimes.refresh_token,
            real_exp=int(time.time()) + lifetimes.refresh_token,
        )
        body["refresh_token"] = refresh.seal(tenant.sealer)
    body["scope"] = " ".join(issued)
    body["token_type"] = "bearer"
    return body


def _note_first_access_token(tenant: Tenant, code: Code, jti: str, until: int) -> None:
    """Note what a code's first use gave, so a second use can revoke it; and if the second
    use came while this one was issuing, revoke it here."""
    tenant.store.note(code.id, f"{jti} {until}", code.real_exp)
    family = tenant.store.family(code.id)
    if family is not None and family.revoked:
        tenant.store.spend(jti, until)
        raise InvalidGrantError(
            "The authorization code has already been used; the tokens issued for it are revoked."
        )


def revoke_code_family(tenant: Tenant, code: Code) -> None:
    """A code used twice may be stolen: revoke what its first use gave (RFC 6749 4.1.2), its
    first access token and every refresh token descended from it, for good."""
    tenant.store.revoke_family(code.id, time.time() + FAMILY_MEMORY)
    jti, _, until = (tenant.store.note_of(code.id) or "").partition(" ")
    # The first use may still be issuing; it looks for the revoked family once it has noted
    # its token, so one side or the other revokes it.
    if jti and until.isdigit():
        tenant.store.spend(jti, int(until))


def revoked_until(claims: Mapping[str, Any], now: int) -> int:
    """Until when (real time) a revoked access token's jti must be remembered: what is left
    of its life, plus a whole lifetime in case the tenant's clock is moved back."""
    remaining = max(int(claims["exp"]) - now, 0)
    lifetime = max(int(claims["exp"]) - int(claims.get("iat", now)), 0)
    return int(time.time()) + remaining + lifetime


def _digest(claims: Mapping[str, Any]) -> str:
    """A short fingerprint of access token claims: equal claims, equal token."""
    return hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).hexdigest()[:32]


def login_app(tenant: Tenant, client_id: str | None) -> App:
    """The web app or SPA a user signs in to: ``client_id``'s, or the first one; LookupError
    when there is none, ValueError for an app users cannot sign in to."""
    if client_id is not None:
        app = tenant.app(client_id)
        if app is None:
            known = ", ".join(a.client_id for a in tenant.config.apps) or "none"
            raise LookupError(f"no app has the client_id {client_id!r} (configured: {known})")
        if app.type not in ("regular", "spa"):
            kind = "an M2M" if app.type == "m2m" else f"a {app.type}"
            raise ValueError(f"app {client_id!r} is {kind} app: users sign in to a web app or SPA")
        return app
    first = next((a for a in tenant.config.apps if a.type in ("regular", "spa")), None)
    if first is None:
        raise LookupError("no web app or SPA is configured: add one with redirect_uris")
    return first


def login_tokens(
    tenant: Tenant,
    app: App,
    *,
    user: str | None = None,
    audiences: Sequence[str] = (),
    scopes: Sequence[str] = ("openid", "profile", "email", "offline"),
    org_code: str | None = None,
) -> dict[str, Any]:
    """The token response a user gets by signing in to ``app`` (a web app or SPA) now, as
    the authorization endpoint and the code grant would give it: ``user`` is an email or id
    (default: the first user); OAuthError as those endpoints would answer (``access_denied``
    for an unknown user, ``unauthorized_client`` for an audience the app is not granted)."""
    from mockauth.oauth.authorize import checked
    from mockauth.oauth.signin import org_for, signed_in_user

    params = {
        "response_type": "code",
        "scope": " ".join(scopes),
        "audience": " ".join(audiences),
        # Checked as a request with PKCE (public clients need it); no code is issued here.
        "code_challenge": "A" * 43,
        "code_challenge_method": "S256",
    }
    request = checked(app, params)
    person = signed_in_user(tenant, user)
    org = org_for(tenant, person, org_code)
    now = tenant.clock()
    sign_in = SignIn(
        client_id=app.client_id,
        user_id=person.id,
        org_code=org.code if org else None,
        scopes=request.scopes,
        audiences=request.audiences,
        nonce=None,
        auth_time=now,
        family=secrets.token_urlsafe(16),
    )
    return user_tokens(tenant, app, sign_in)
