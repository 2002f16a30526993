"""User login: the authorization request, codes, refresh tokens and the tokens they yield.

There is no login page: the authorization endpoint signs in the user ``login_hint`` names
(email or id), or the first configured user, and redirects straight back with a code, so a
browser, an SDK or a test follows the flow without a person. Codes and refresh tokens are
sealed (sealed.py); each can be used once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from mockauth.config import App
from mockauth.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from mockauth.forms import Form
from mockauth.loginpage import LoginPage
from mockauth.people import Org, User
from mockauth.sealed import Sealer, SpentIds

if TYPE_CHECKING:
    from mockauth.state import Tenant

OIDC_SCOPES = ("openid", "profile", "email", "offline", "address", "phone")
RESPONSE_MODES = ("query", "fragment", "form_post")
CODE_LIFETIME = 600  # seconds, as Kinde's OAuth layer (Ory Fosite) defaults
MAX_NONCE = 1024  # it is sealed into the code, and codes have a size limit
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}\Z")
_CODE, _REFRESH = "code", "refresh"


@dataclass(frozen=True)
class Redirect:
    """Where the authorization endpoint sends the browser, and how."""

    uri: str
    params: dict[str, str]
    mode: str = "query"

    def location(self) -> str:
        """The redirect URL for the query and fragment modes."""
        parts = urlsplit(self.uri)
        encoded = urlencode(self.params)
        if self.mode == "fragment":
            return urlunsplit(parts._replace(fragment=encoded))
        query = f"{parts.query}&{encoded}" if parts.query else encoded
        return urlunsplit(parts._replace(query=query))

    def form_post_page(self) -> str:
        """The auto-submitting page of ``response_mode=form_post`` (OAuth 2.0 Form Post)."""
        fields = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in self.params.items()
        )
        return (
            "<!doctype html><html><head><title>Signing in</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{escape(self.uri)}">{fields}'
            "<noscript><button>Continue</button></noscript></form></body></html>"
        )


class UserLogin:
    """Issues and redeems the sealed grants of one tenant."""

    def __init__(self, tenant: Tenant, sealer: Sealer, spent: SpentIds) -> None:
        self._tenant = tenant
        self._sealer = sealer
        self.spent = spent

    # --- the authorization endpoint ---

    def authorize(self, pairs: list[tuple[str, str]]) -> Redirect | LoginPage:
        """Answer an authorization request: a Redirect with a code or an error, or with
        ``login_page`` on and no ``login_hint``, a page to pick the user.

        Raises OAuthError where the client or redirect_uri cannot be trusted, since an
        error must then not be sent to the redirect_uri (RFC 6749 4.1.2.1).
        """
        params: dict[str, str] = {}
        repeated: list[str] = []
        for name, value in pairs:
            if name in params and name not in repeated:
                repeated.append(name)
            params.setdefault(name, value)
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
            if self._tenant.config.login_page and not params.get("login_hint"):
                _checked(app, params)
                return self._chooser(pairs, params.get("org_code"))
            code = self.sign_in(app, redirect_uri, params)
        except OAuthError as exc:
            return Redirect(redirect_uri, {**exc.wire_fields(), **extra}, mode)
        return Redirect(redirect_uri, {"code": code, **extra}, mode)

    def _chooser(self, pairs: list[tuple[str, str]], org_code: str | None) -> LoginPage:
        users = [u for u in self._tenant.config.users if not org_code or org_code in u.orgs]
        if not users:
            raise AccessDeniedError(
                "No user can sign in: the config has no [[users]] table"
                + (f" in the organization {_shown(org_code)!r}." if org_code else ".")
            )
        return LoginPage(users, pairs)

    def _trusted_target(self, params: dict[str, str], repeated: list[str]) -> tuple[App, str]:
        for name in ("client_id", "redirect_uri"):
            if name in repeated:
                raise InvalidRequestError(f"The '{name}' parameter is included more than once.")
        client_id = params.get("client_id")
        if not client_id:
            raise InvalidRequestError("The request is missing the required 'client_id' parameter.")
        app = self._tenant.app(client_id)
        if app is None:
            raise InvalidClientError()
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise InvalidRequestError(
                "The request is missing the required 'redirect_uri' parameter."
            )
        if not any(same_redirect_uri(redirect_uri, uri) for uri in app.redirect_uris):
            raise InvalidRequestError(
                f"The redirect_uri {_shown(redirect_uri)!r} is not one of the app's allowed "
                "callback URLs (redirect_uris in its [[apps]] table)."
            )
        return app, redirect_uri

    def sign_in(self, app: App, redirect_uri: str, params: Mapping[str, str]) -> str:
        """Check an authorization request for a trusted app and redirect_uri and sign its
        user in: the code, or an OAuthError to redirect with."""
        challenge, nonce, audiences, scopes = _checked(app, params)
        user = self._signed_in_user(params.get("login_hint"))
        org = self._org_for(user, params.get("org_code"))
        now = self._tenant.clock()
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
        }
        return self._sealer.seal(_CODE, payload)

    def _signed_in_user(self, hint: str | None) -> User:
        users = self._tenant.config.users
        if not users:
            raise AccessDeniedError("No user can sign in: the config has no [[users]] table.")
        if not hint:
            return users[0]
        for user in users:
            if hint == user.id or hint.lower() == user.email.lower():
                return user
        raise AccessDeniedError(f"No configured user has the email or id {_shown(hint)!r}.")

    def _org_for(self, user: User, code: str | None) -> Org | None:
        if not code:
            return self._tenant.org(user.orgs[0]) if user.orgs else None
        if code not in user.orgs:
            raise AccessDeniedError(
                f"The user is not a member of the organization {_shown(code)!r}."
            )
        return self._tenant.org(code)

    # --- the token endpoint's user grants ---

    def redeem_code(self, app: App, form: Form) -> dict[str, Any]:
        """The authorization_code grant for an authenticated app: the token response."""
        code = form.required("code")
        grant = self._open(_CODE, code, app)
        if not same_redirect_uri(form.one("redirect_uri") or "", grant["r"]):
            raise InvalidGrantError(
                "The redirect_uri does not match the one of the authorization request."
            )
        _check_verifier(grant.get("pc"), form.one("code_verifier"))
        if not self.spent.spend(grant["id"], grant["exp"]):
            raise InvalidGrantError("The authorization code has already been used.")
        return self._tokens(app, grant, previous=None)

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
                    f"The scope {_shown(' '.join(extra))!r} was not granted to this refresh token."
                )
        if not self.spent.spend(grant["id"], grant["exp"]):
            raise InvalidGrantError(
                "The refresh token has already been used or was revoked: each refresh "
                "returns a new one."
            )
        # A narrower scope is for the tokens issued now; the new refresh token keeps the
        # grant's scope (RFC 6749 section 6), and a token with other claims gets a new jti.
        previous = (grant["ai"], grant["aj"]) if scopes == grant["as"] else None
        return self._tokens(app, grant, previous=previous, scopes=scopes)

    def _open(self, purpose: str, token: str, app: App) -> dict[str, Any]:
        what = "authorization code" if purpose == _CODE else "refresh token"
        grant = self._sealer.open(purpose, token)
        if grant is None:
            raise InvalidGrantError(f"The {what} is not one this server issued.")
        if grant["c"] != app.client_id:
            raise InvalidGrantError(f"The {what} was issued to another client.")
        if grant["exp"] <= self._tenant.clock():
            raise InvalidGrantError(f"The {what} has expired.")
        return grant

    def _tokens(
        self,
        app: App,
        grant: Mapping[str, Any],
        *,
        previous: tuple[int, str] | None,
        scopes: list[str] | None = None,
    ) -> dict[str, Any]:
        """The token response for a grant; ``scopes`` narrows what is issued now."""
        scopes = grant["s"] if scopes is None else scopes
        tenant = self._tenant
        user = tenant.user(grant["u"])
        if user is None:
            raise InvalidGrantError("The user of this grant is no longer configured.")
        org = tenant.org(grant["o"]) if grant["o"] else None
        lifetimes = tenant.config.lifetimes_for(app)
        now = tenant.clock()
        iat, jti = now, None
        # Kinde returns the same access token from a refresh while it is unexpired.
        if previous is not None:
            expires = previous[0] + lifetimes.access_token
            if expires > now and not self.spent.is_spent(previous[1], expires):
                iat, jti = previous
        claims = tenant.tokens.user_access_claims(
            app,
            user,
            org=org,
            audiences=grant["a"],
            scopes=scopes,
            lifetime=lifetimes.access_token,
            iat=iat,
            jti=jti,
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
                # The access token issued with it: a refresh returns it again, unless it
                # asks for other scopes; revoking this refresh token revokes it.
                "ai": claims["iat"],
                "aj": claims["jti"],
                "as": scopes,
                "exp": now + lifetimes.refresh_token,
            }
            body["refresh_token"] = self._sealer.seal(_REFRESH, refresh)
        body["scope"] = " ".join(scopes)
        body["token_type"] = "bearer"
        return body

    # --- revocation and introspection ---

    def refresh_grant(self, token: str) -> dict[str, Any] | None:
        """A live refresh token's grant, or None."""
        grant = self._sealer.open(_REFRESH, token)
        if grant is None or grant["exp"] <= self._tenant.clock():
            return None
        return None if self.spent.is_spent(grant["id"], grant["exp"]) else grant

    def revoke(self, app: App, token: str) -> None:
        """Revoke a refresh token (and its access token) or an access token issued to
        ``app``; another client's token is unauthorized_client, and one that is not live
        is ignored (RFC 7009: an invalid token is not an error)."""
        grant = self.refresh_grant(token)
        claims = self._tenant.access_claims(token) if grant is None else None
        owner = grant["c"] if grant is not None else (claims or {}).get("azp")
        if owner is not None and owner != app.client_id:
            raise UnauthorizedClientError("The token was issued to another client.")
        if grant is not None:
            self.spent.spend(grant["id"], grant["exp"])
            # RFC 7009 2.1: the access token issued with it goes too.
            lifetime = self._tenant.config.lifetimes_for(app).access_token
            self.spent.spend(grant["aj"], grant["ai"] + lifetime)
        elif claims is not None:
            self.spent.spend(claims["jti"], claims["exp"])


def _checked(
    app: App, params: Mapping[str, str]
) -> tuple[str | None, str | None, list[str], list[str]]:
    """An authorization request's code challenge, nonce, audiences and granted scopes, or
    the OAuthError to redirect with; who signs in is decided after."""
    if params.get("response_type") != "code":
        raise UnsupportedResponseTypeError()
    challenge = _challenge(app, params)
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise InvalidRequestError(f"The nonce must be at most {MAX_NONCE} characters.")
    audiences = list(dict.fromkeys(params.get("audience", "").split()))
    for audience in audiences:
        if audience not in app.apis:
            raise UnauthorizedClientError(
                f"The client is not authorized for the audience {_shown(audience)!r}."
            )
    # Scopes Kinde does not know (offline_access, say) are dropped, not refused.
    scopes = [s for s in dict.fromkeys(params.get("scope", "").split()) if s in OIDC_SCOPES]
    return challenge, nonce, audiences, scopes


def _challenge(app: App, params: Mapping[str, str]) -> str | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if app.client_secret is None:
            raise InvalidRequestError(
                "Public clients (spa apps) must use PKCE: send code_challenge with "
                "code_challenge_method=S256."
            )
        if method is not None:
            raise InvalidRequestError("code_challenge_method was sent without code_challenge.")
        return None
    if method != "S256":
        raise InvalidRequestError("The code_challenge_method must be S256.")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
        raise InvalidRequestError(
            "The code_challenge must be the 43-character base64url SHA-256 of the verifier."
        )
    return challenge


def _check_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            raise InvalidGrantError(
                "A code_verifier was sent, but the authorization request had no code_challenge."
            )
        return
    if verifier is None:
        raise InvalidGrantError(
            "The code_verifier is missing: the authorization request used PKCE."
        )
    if not _VERIFIER_RE.match(verifier):
        raise InvalidGrantError("The code_verifier must be 43 to 128 unreserved characters.")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not hmac.compare_digest(expected, challenge):
        raise InvalidGrantError("The code_verifier does not match the code_challenge.")


def same_redirect_uri(given: str, registered: str) -> bool:
    """RFC 6749 exact matching, except that an http(s) origin with an empty path equals the
    same with ``/`` (RFC 3986 6.2.3): WHATWG URL parsers add the slash (openid-client 6)."""
    if given == registered:
        return True
    short, long = sorted((given, registered), key=len)
    scheme, _, rest = short.partition("://")
    bare_origin = scheme in ("http", "https") and not any(c in rest for c in "/?#")
    return bare_origin and long == short + "/"


def _shown(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
