"""The authorization endpoint: the request checked (its parameters, PKCE, where it may
redirect), the user signed in, and the code sealed.

No password is asked: the endpoint signs in the user ``login_hint`` names (email or id), or
the first user, and redirects straight back with a code, so a browser, an SDK or a test
follows the flow without a person (``login_page`` shows a page to pick the user instead).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from mockauth.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    LoginRequiredError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
    shown,
)
from mockauth.oauth.pages.login import LoginPage
from mockauth.oauth.params import repeated_names
from mockauth.tenant.config import App
from mockauth.tenant.people import Org, User
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.sealed import Code

CODE_LIFETIME = 600  # seconds, as Kinde's OAuth layer (Ory Fosite) defaults
OIDC_SCOPES = ("openid", "profile", "email", "offline", "address", "phone")
RESPONSE_MODES = ("query", "fragment", "form_post")
MAX_NONCE = 1024  # it is sealed into the code, and codes have a size limit
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}\Z")


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


def checked(
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
                f"The client is not authorized for the audience {shown(audience)!r}."
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


def check_verifier(challenge: str | None, verifier: str | None) -> None:
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


# --- the endpoint ------------------------------------------------------------------------------


def authorize(tenant: Tenant, pairs: list[tuple[str, str]]) -> Redirect | LoginPage:
    """Answer an authorization request: a Redirect with a code or an error, or with
    ``login_page`` on and no ``login_hint``, a page to pick the user.

    Raises OAuthError where the client or redirect_uri cannot be trusted, since an error
    must then not be sent to the redirect_uri (RFC 6749 4.1.2.1).
    """
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    repeated = repeated_names(pairs)
    app, redirect_uri = trusted_target(tenant, params, repeated)
    mode = params.get("response_mode") or "query"
    extra = {"state": params["state"]} if "state" in params else {}
    try:
        if mode not in RESPONSE_MODES:
            mode = "query"
            raise InvalidRequestError(
                f"The response_mode must be one of {', '.join(RESPONSE_MODES)}."
            )
        if repeated:
            raise InvalidRequestError(f"The '{repeated[0]}' parameter is included more than once.")
        if tenant.config.login_page and not params.get("login_hint"):
            checked(app, params)
            if params.get("prompt") == "none":  # OIDC Core 3.1.2.1: no page may be shown
                raise LoginRequiredError("prompt=none, but a user must be picked: send login_hint.")
            return _chooser(tenant, pairs, params.get("org_code"))
        code = sign_in(tenant, app, redirect_uri, params)
    except OAuthError as exc:
        return Redirect(redirect_uri, {**exc.wire_fields(), **extra}, mode)
    return Redirect(redirect_uri, {"code": code, **extra}, mode)


def _chooser(tenant: Tenant, pairs: list[tuple[str, str]], org_code: str | None) -> LoginPage:
    users = [u for u in tenant.config.users if not org_code or org_code in u.orgs]
    if not users:
        raise AccessDeniedError(
            f"No configured user is a member of the organization {shown(org_code)!r}."
            if org_code
            else "No user can sign in: the config has no [[users]] table."
        )
    return LoginPage(users, pairs)


def trusted_target(
    tenant: Tenant, params: Mapping[str, str], repeated: list[str]
) -> tuple[App, str]:
    """The app and callback of a request, where an error may be sent; else an OAuthError
    to answer without redirecting."""
    for name in ("client_id", "redirect_uri"):
        if name in repeated:
            raise InvalidRequestError(f"The '{name}' parameter is included more than once.")
    client_id = params.get("client_id")
    if not client_id:
        raise InvalidRequestError("The request is missing the required 'client_id' parameter.")
    app = tenant.app(client_id)
    if app is None:
        raise InvalidClientError()
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise InvalidRequestError("The request is missing the required 'redirect_uri' parameter.")
    if not any(same_redirect_uri(redirect_uri, uri) for uri in app.redirect_uris):
        raise InvalidRequestError(
            f"The redirect_uri {shown(redirect_uri)!r} is not one of the app's allowed "
            "callback URLs (redirect_uris in its [[apps]] table)."
        )
    return app, redirect_uri


def sign_in(tenant: Tenant, app: App, redirect_uri: str, params: Mapping[str, str]) -> str:
    """Check an authorization request for a trusted app and redirect_uri and sign its user
    in: the sealed code, or an OAuthError to redirect with."""
    challenge, nonce, audiences, scopes = checked(app, params)
    user = signed_in_user(tenant, params.get("login_hint"))
    org = org_for(tenant, user, params.get("org_code"))
    now = tenant.clock()
    code = Code(
        id=secrets.token_urlsafe(16),
        client_id=app.client_id,
        user_id=user.id,
        org_code=org.code if org else None,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        audiences=tuple(audiences),
        nonce=nonce,
        challenge=challenge,
        auth_time=now,
        exp=now + CODE_LIFETIME,
        real_exp=int(time.time()) + CODE_LIFETIME,
    )
    return code.seal(tenant.sealer)


def signed_in_user(tenant: Tenant, hint: str | None) -> User:
    """The user ``login_hint`` names (email, any case, or id), or the first user."""
    users = tenant.config.users
    if not users:
        raise AccessDeniedError("No user can sign in: the config has no [[users]] table.")
    if not hint:
        return users[0]
    for user in users:
        if hint == user.id or hint.lower() == user.email.lower():
            return user
    raise AccessDeniedError(f"No configured user has the email or id {shown(hint)!r}.")


def org_for(tenant: Tenant, user: User, code: str | None) -> Org | None:
    """The organisation a user signs in to: ``code`` if a member, else their first."""
    if not code:
        return tenant.org(user.orgs[0]) if user.orgs else None
    if code not in user.orgs:
        raise AccessDeniedError(f"The user is not a member of the organization {shown(code)!r}.")
    return tenant.org(code)
