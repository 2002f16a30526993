"""User login: the authorization request, codes, refresh tokens and the tokens they yield.

No password is asked: the authorization endpoint signs in the user ``login_hint`` names
(email or id), or the first configured user, and redirects straight back with a code, so a
browser, an SDK or a test follows the flow without a person (``login_page`` shows a page
to pick the user instead). Codes and refresh tokens are sealed (sealed.py); each can be
used once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mockauth.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    LoginRequiredError,
    OAuthError,
    UnauthorizedClientError,
    shown,
)
from mockauth.oauth.authorize import (
    RESPONSE_MODES,
    Redirect,
    check_verifier,
    checked,
    repeated_names,
    same_redirect_uri,
)
from mockauth.oauth.pages.login import LoginPage
from mockauth.oauth.params import Form
from mockauth.tenant.config import App
from mockauth.tenant.people import Org, User
from mockauth.tenant.store import Store
from mockauth.tokens.claims import JTI_RE
from mockauth.tokens.sealed import Sealer

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

CODE_LIFETIME = 600  # seconds, as Kinde's OAuth layer (Ory Fosite) defaults
FAMILY_MEMORY = 10 * 365 * 86_400  # a code used twice: its family stays revoked this long
_CODE, _REFRESH = "code", "refresh"


class UserLogin:
    """Issues and redeems the sealed grants of one tenant."""

    def __init__(self, tenant: Tenant, sealer: Sealer, spent: Store) -> None:
        self.tenant = tenant
        self.sealer = sealer
        self.spent = spent

    # --- the authorization endpoint ---

    def authorize(self, pairs: list[tuple[str, str]]) -> Redirect | LoginPage:
        """Answer an authorization request: a Redirect with a code or an error, or with
        ``login_page`` on and no ``login_hint``, a page to pick the user.

        Raises OAuthError where the client or redirect_uri cannot be trusted, since an
        error must then not be sent to the redirect_uri (RFC 6749 4.1.2.1).
        """
        params: dict[str, str] = {}
        for name, value in pairs:
            params.setdefault(name, value)
        repeated = repeated_names(pairs)
        app, redirect_uri = self._trusted_target(params, repeated)
        mode = params.get("response_mode") or "query"
        extra = {"state": params["state"]} if "state" in params else {}
        try:
            if mode not in RESPONSE_MODES:
                mode = "query"
                raise InvalidRequestError(
                    f"The response_mode must be one of {', '.join(RESPONSE_MODES)}."
                )
            if repeated:
                raise InvalidRequestError(
                    f"The '{repeated[0]}' parameter is included more than once."
                )
            if self.tenant.config.login_page and not params.get("login_hint"):
                checked(app, params)
                if params.get("prompt") == "none":  # OIDC Core 3.1.2.1: no page may be shown
                    raise LoginRequiredError(
                        "prompt=none, but a user must be picked: send login_hint."
                    )
                return self._chooser(pairs, params.get("org_code"))
            code = self.sign_in(app, redirect_uri, params)
        except OAuthError as exc:
            return Redirect(redirect_uri, {**exc.wire_fields(), **extra}, mode)
        return Redirect(redirect_uri, {"code": code, **extra}, mode)

    def _chooser(self, pairs: list[tuple[str, str]], org_code: str | None) -> LoginPage:
        users = [u for u in self.tenant.config.users if not org_code or org_code in u.orgs]
        if not users:
            raise AccessDeniedError(
                f"No configured user is a member of the organization {shown(org_code)!r}."
                if org_code
                else "No user can sign in: the config has no [[users]] table."
            )
        return LoginPage(users, pairs)

    def _trusted_target(self, params: dict[str, str], repeated: list[str]) -> tuple[App, str]:
        for name in ("client_id", "redirect_uri"):
            if name in repeated:
                raise InvalidRequestError(f"The '{name}' parameter is included more than once.")
        client_id = params.get("client_id")
        if not client_id:
            raise InvalidRequestError("The request is missing the required 'client_id' parameter.")
        app = self.tenant.app(client_id)
        if app is None:
            raise InvalidClientError()
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise InvalidRequestError(
                "The request is missing the required 'redirect_uri' parameter."
            )
        if not any(same_redirect_uri(redirect_uri, uri) for uri in app.redirect_uris):
            raise InvalidRequestError(
                f"The redirect_uri {shown(redirect_uri)!r} is not one of the app's allowed "
                "callback URLs (redirect_uris in its [[apps]] table)."
            )
        return app, redirect_uri

    def sign_in(self, app: App, redirect_uri: str, params: Mapping[str, str]) -> str:
        """Check an authorization request for a trusted app and redirect_uri and sign its
        user in: the code, or an OAuthError to redirect with."""
        challenge, nonce, audiences, scopes = checked(app, params)
        user = self.signed_in_user(params.get("login_hint"))
        org = self.org_for(user, params.get("org_code"))
        now = self.tenant.clock()
        payload = {
            "id": secrets.token_urlsafe(16),
            "c": app.client_id,
            "u": user.id,
            "o": org.code if org else None,
            "r": redirect_uri,
            "s": scopes,
            "a": audiences,
            "n": nonce,
            "pc": challenge,
            "t": now,
            "exp": now + CODE_LIFETIME,
            "rx": int(time.time()) + CODE_LIFETIME,
        }
        return self.sealer.seal(_CODE, payload)

    def signed_in_user(self, hint: str | None) -> User:
        users = self.tenant.config.users
        if not users:
            raise AccessDeniedError("No user can sign in: the config has no [[users]] table.")
        if not hint:
            return users[0]
        for user in users:
            if hint == user.id or hint.lower() == user.email.lower():
                return user
        raise AccessDeniedError(f"No configured user has the email or id {shown(hint)!r}.")

    def org_for(self, user: User, code: str | None) -> Org | None:
        if not code:
            return self.tenant.org(user.orgs[0]) if user.orgs else None
        if code not in user.orgs:
            raise AccessDeniedError(
                f"The user is not a member of the organization {shown(code)!r}."
            )
        return self.tenant.org(code)

    # --- the token endpoint's user grants ---

    def redeem_code(self, app: App, form: Form) -> dict[str, Any]:
        """The authorization_code grant for an authenticated app: the token response."""
        code = form.required("code")
        grant = self._open(_CODE, code, app)
        if not same_redirect_uri(form.one("redirect_uri") or "", grant["r"]):
            raise InvalidGrantError(
                "The redirect_uri does not match the one of the authorization request."
            )
        check_verifier(grant["pc"], form.one("code_verifier"))
        if not self.spent.spend(grant["id"], grant["rx"]):
            self._revoke_what_it_gave(app, grant)
            raise InvalidGrantError(
                "The authorization code has already been used; the tokens issued for it are "
                "revoked."
            )
        return self.tokens_for(app, {**grant, "f": grant["id"]}, previous=None, code=grant)

    def _revoke_what_it_gave(self, app: App, code: Mapping[str, Any]) -> None:
        """A code used twice may be stolen: revoke what its first use gave (RFC 6749 4.1.2),
        its first access token and every refresh token descended from it. The family is
        remembered for good: its refresh tokens may outlive any lifetime configured now."""
        self.spent.spend(family(code["id"]), time.time() + FAMILY_MEMORY)
        jti, _, until = (self.spent.note_of(code["id"]) or "").partition(" ")
        # The first use may still be issuing; it looks for the family mark once it has
        # noted its token, so one side or the other revokes it.
        if JTI_RE.match(jti) and until.isdigit():
            self.spent.spend(jti, int(until))

    def redeem_refresh(self, app: App, form: Form) -> dict[str, Any]:
        """The refresh_token grant: new tokens and a new refresh token (rotation)."""
        grant = self._open(_REFRESH, form.required("refresh_token"), app)
        scopes = list(grant["s"])
        scope = form.one("scope")
        if scope and scope.split():
            scopes = list(dict.fromkeys(scope.split()))
            extra = [s for s in scopes if s not in grant["s"]]
            if extra:
                raise InvalidScopeError(
                    f"The scope {shown(' '.join(extra))!r} was not granted to this refresh token."
                )
        if grant.get("f") and self.spent.is_spent(family(grant["f"])):
            raise InvalidGrantError("The refresh token was revoked: its code was used twice.")
        if not self.spent.spend(grant["id"], grant["rx"]):
            raise InvalidGrantError(
                "The refresh token has already been used or was revoked: each refresh "
                "returns a new one."
            )
        # A narrower scope is for the tokens issued now; the new refresh token keeps the
        # grant's scope (RFC 6749 section 6).
        return self.tokens_for(app, grant, previous=grant, scopes=scopes)

    def _open(self, purpose: str, token: str, app: App) -> dict[str, Any]:
        what = "authorization code" if purpose == _CODE else "refresh token"
        grant = self._sealed(purpose, token)
        if grant is None:
            raise InvalidGrantError(f"The {what} is not one this server issued.")
        if grant["c"] != app.client_id:
            raise InvalidGrantError(f"The {what} was issued to another client.")
        if grant["exp"] <= self.tenant.clock() or grant["rx"] <= time.time():
            raise InvalidGrantError(f"The {what} has expired.")
        return grant

    def _sealed(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The payload of a code or refresh token this server sealed in this shape."""
        grant = self.sealer.open(purpose, token)
        shape = _CODE_SHAPE if purpose == _CODE else _REFRESH_SHAPE
        if grant is None or any(not isinstance(grant.get(k), t) for k, t in shape.items()):
            return None  # sealed by an older build, say: never a KeyError
        return grant

    def tokens_for(
        self,
        app: App,
        grant: Mapping[str, Any],
        *,
        previous: Mapping[str, Any] | None,
        scopes: list[str] | None = None,
        code: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The token response for a grant; ``scopes`` narrows what is issued now, and
        ``code`` is the authorization code being redeemed, if one is."""
        scopes = grant["s"] if scopes is None else scopes
        tenant = self.tenant
        user = tenant.user(grant["u"])
        if user is None:
            raise InvalidGrantError("The user of this grant is no longer configured.")
        if grant["o"] and grant["o"] not in user.orgs:
            raise InvalidGrantError("The user is no longer a member of the grant's organization.")
        org = tenant.org(grant["o"]) if grant["o"] else None
        lifetimes = tenant.config.lifetimes_for(app)
        now = tenant.clock()

        def access_claims(iat: int, jti: str | None) -> dict[str, Any]:
            return tenant.tokens.user_access_claims(
                app,
                user,
                org=org,
                audiences=grant["a"],
                scopes=scopes,
                lifetime=lifetimes.access_token,
                iat=iat,
                jti=jti,
            )

        claims = access_claims(now, None)
        # Kinde returns the same access token from a refresh while it is unexpired: the same
        # claims, so only when nothing it says has changed (scopes, permissions, lifetime).
        if previous is not None and not self.spent.is_spent(previous["aj"]):
            again = access_claims(previous["ai"], previous["aj"])
            if again["exp"] > now and _digest(again) == previous["ah"]:
                claims = again
        # Until when a revoked jti is remembered: its real end, plus a lifetime in case the
        # tenant's clock is moved back.
        remembered = int(time.time()) + claims["exp"] - now + lifetimes.access_token
        if code is not None:  # what to revoke if the code comes again (while it can)
            self.spent.note(code["id"], f"{claims['jti']} {remembered}", code["rx"])
            if self.spent.is_spent(family(code["id"])):  # it came again as we issued
                self.spent.spend(claims["jti"], remembered)
                raise InvalidGrantError(
                    "The authorization code has already been used; the tokens issued for it "
                    "are revoked."
                )
        access = tenant.tokens.sign(claims)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": max(claims["exp"] - now - 1, 0),
        }
        if "openid" in scopes:
            id_claims = tenant.tokens.id_claims(
                app,
                user,
                access_token=access,
                auth_time=grant["t"],
                nonce=grant["n"],
                lifetime=lifetimes.id_token,
                updated_at=tenant.started_at,
            )
            body["id_token"] = tenant.tokens.sign(id_claims)
        if "offline" in grant["s"]:
            refresh = {
                "id": secrets.token_urlsafe(16),
                **{k: grant[k] for k in ("c", "u", "o", "s", "a", "n", "t")},
                "f": grant.get("f"),
                # The access token issued with it (a refresh returns it again while its
                # claims stand; revoking this refresh token revokes it), ax its real end.
                "ai": claims["iat"],
                "aj": claims["jti"],
                "ah": _digest(claims),
                "ax": remembered,
                "exp": now + lifetimes.refresh_token,
                "rx": int(time.time()) + lifetimes.refresh_token,
            }
            body["refresh_token"] = self.sealer.seal(_REFRESH, refresh)
        body["scope"] = " ".join(scopes)
        body["token_type"] = "bearer"
        return body

    # --- revocation and introspection ---

    def refresh_grant(self, token: str) -> dict[str, Any] | None:
        """A live refresh token's grant, or None."""
        grant = self._sealed(_REFRESH, token)
        if grant is None or grant["exp"] <= self.tenant.clock() or grant["rx"] <= time.time():
            return None
        revoked = grant.get("f") and self.spent.is_spent(family(grant["f"]))
        if self.tenant.user(grant["u"]) is None or revoked:
            return None
        return None if self.spent.is_spent(grant["id"]) else grant

    def revoke(self, app: App, token: str) -> None:
        """Revoke a refresh token (and its access token) or an access token issued to
        ``app``; another client's token is unauthorized_client, and one that is not live
        is ignored (RFC 7009: an invalid token is not an error)."""
        grant = self.refresh_grant(token)
        claims = self.tenant.access_claims(token) if grant is None else None
        owner = grant["c"] if grant is not None else (claims or {}).get("azp")
        if owner is not None and owner != app.client_id:
            raise UnauthorizedClientError("The token was issued to another client.")
        if grant is not None:
            self.spent.spend(grant["id"], grant["rx"])
            # RFC 7009 2.1: the access token issued with it goes too.
            self.spent.spend(grant["aj"], grant["ax"])
        elif claims is not None:
            self.spent.spend(claims["jti"], revoked_until(claims, self.tenant.clock()))


# What a sealed payload must hold, by type; anything else was not sealed by this build.
_CODE_SHAPE: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "c": str,
    "u": str,
    "o": (str, type(None)),
    "r": str,
    "s": list,
    "a": list,
    "n": (str, type(None)),
    "pc": (str, type(None)),
    "t": int,
    "exp": int,
    "rx": int,
}
_REFRESH_SHAPE: dict[str, type | tuple[type, ...]] = {
    **{k: t for k, t in _CODE_SHAPE.items() if k not in ("r", "pc")},
    "ai": int,
    "aj": str,
    "ah": str,
    "ax": int,
    "f": (str, type(None)),  # the family: the id of the code it descends from
}


def family(code_id: str) -> str:
    return "family_" + code_id


def _digest(claims: Mapping[str, Any]) -> str:
    """A short fingerprint of access token claims: equal claims, equal token."""
    return hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).hexdigest()[:32]


def revoked_until(claims: Mapping[str, Any], now: int) -> int:
    """Until when (real time) a revoked access token's jti must be remembered: what is left
    of its life, plus a whole lifetime in case the tenant's clock is moved back."""
    remaining = max(int(claims["exp"]) - now, 0)
    lifetime = max(int(claims["exp"]) - int(claims.get("iat", now)), 0)
    return int(time.time()) + remaining + lifetime
