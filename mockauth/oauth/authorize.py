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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from mockauth.errors import (
    AccessDeniedError,
    ConfigError,
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
from mockauth.oauth.pages.signup import SIGNUP_FIELDS, SignupPage
from mockauth.oauth.params import repeated_names
from mockauth.oauth.signin import (
    AuthRequest,
    find_user,
    first_user,
    issue_code,
    org_for,
    session_of,
    sign_up,
    signed_in_user,
    start_session,
)
from mockauth.tenant.apps import App
from mockauth.tenant.people import EMAIL_RE, User
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.sealed import Session

OIDC_SCOPES = ("openid", "profile", "email", "offline", "address", "phone")
RESPONSE_MODES = ("query", "fragment", "form_post")
MAX_NONCE = 1024  # it is sealed into the code, and codes have a size limit
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}\Z")


@dataclass(frozen=True)
class Redirect:
    """Where the authorization endpoint sends the browser, and how; ``session``: a sign-in
    session to keep in the browser (a new sign-in)."""

    uri: str
    params: dict[str, str]
    mode: str = "query"
    session: Session | None = None

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


def checked(app: App, params: Mapping[str, str], redirect_uri: str = "") -> AuthRequest:
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
    return AuthRequest(
        app=app,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        audiences=tuple(audiences),
        nonce=nonce,
        challenge=challenge,
    )


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

Outcome = Redirect | LoginPage | SignupPage
PROMPTS = ("none", "login", "create", "consent", "select_account")


def authorize(tenant: Tenant, pairs: list[tuple[str, str]], cookie: str | None = None) -> Outcome:
    """Answer an authorization request: a Redirect with a code (and the session to keep)
    or an error, or a page (pick a user, sign up).

    ``cookie``: the sign-in session the browser sent. Raises OAuthError where the client or
    redirect_uri cannot be trusted, since an error must then not be sent to the redirect_uri
    (RFC 6749 4.1.2.1).
    """
    params = _first_values(pairs)
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
        request = checked(app, params, redirect_uri)
        outcome = _decide(tenant, request, params, pairs, session_of(tenant, cookie))
    except OAuthError as exc:
        return Redirect(redirect_uri, {**exc.wire_fields(), **extra}, mode)
    if isinstance(outcome, Redirect):
        return replace(outcome, params={**outcome.params, **extra}, mode=mode)
    return outcome


def _decide(
    tenant: Tenant,
    request: AuthRequest,
    params: Mapping[str, str],
    pairs: list[tuple[str, str]],
    current: tuple[Session, User] | None,
) -> Outcome:
    """Who signs in: Kinde's prompts, then login_hint, the session, the page, the first user."""
    prompts = _prompts(params)
    hint = params.get("login_hint") or None
    if "create" in prompts or params.get("is_create_org") == "true":
        return _sign_up_or_page(tenant, request, params, pairs, hint)
    if "none" in prompts:  # OIDC Core 3.1.2.1: no page may be shown
        if current is None or (hint is not None and find_user(tenant, hint) is not current[1]):
            raise LoginRequiredError("prompt=none, but no one is signed in here: sign in first.")
        return signed_in(tenant, request, current[1], params, current[0])
    if hint is not None:
        user = find_user(tenant, hint)
        if user is None and EMAIL_RE.match(hint):  # a new email: Kinde offers sign-up
            return _sign_up_or_page(tenant, request, params, pairs, hint)
        return signed_in(tenant, request, signed_in_user(tenant, hint), params, None)
    if current is not None and not prompts & {"login", "select_account"}:
        return signed_in(tenant, request, current[1], params, current[0])
    if tenant.config.login_page:
        return _chooser(tenant, pairs, params.get("org_code"))
    return signed_in(tenant, request, first_user(tenant), params, None)


def signed_in(
    tenant: Tenant,
    request: AuthRequest,
    user: User,
    params: Mapping[str, str],
    session: Session | None,
) -> Redirect:
    """The redirect with a code for ``user``: ``session`` continues (its sign-in time), else
    a new session starts."""
    org = org_for(tenant, user, params.get("org_code"))
    new = session is None
    session = start_session(tenant, request.app, user) if session is None else session
    code = issue_code(tenant, request, user, org, session.auth_time)
    return Redirect(request.redirect_uri, {"code": code}, session=session if new else None)


def _sign_up_or_page(
    tenant: Tenant,
    request: AuthRequest,
    params: Mapping[str, str],
    pairs: list[tuple[str, str]],
    hint: str | None,
) -> Outcome:
    """Sign-up: at once for a new email in login_hint without the login page, else the page."""
    create_org = params.get("is_create_org") == "true"
    org_name = params.get("org_name") or None
    if hint and EMAIL_RE.match(hint) and not tenant.config.login_page:
        if create_org and org_name is None:
            org_name = f"{hint.split('@')[0]}'s organization"
        try:
            user, org = sign_up(tenant, email=hint, org_name=org_name if create_org else None)
        except ConfigError as exc:
            raise AccessDeniedError(f"Sign-up refused: {exc.reason} ({exc.key}).") from exc
        return signed_in(
            tenant, request, user, {**params, "org_code": org.code if org else ""}, None
        )
    return SignupPage(
        pairs=pairs,
        email=hint or "",
        org_name=org_name or "",
        create_org=create_org,
        app=request.app.name,
    )


def sign_up_submitted(tenant: Tenant, pairs: list[tuple[str, str]]) -> Outcome:
    """The sign-up page's form: the new user's fields and the authorization request it
    continues. A field that will not do shows the page again, saying why."""
    fields = {name: value for name, value in pairs if name in SIGNUP_FIELDS}
    request_pairs = [(n, v) for n, v in pairs if n not in SIGNUP_FIELDS and n != "login_hint"]
    params = _first_values(request_pairs)
    repeated = repeated_names(request_pairs)
    app, redirect_uri = trusted_target(tenant, params, repeated)
    mode = params.get("response_mode") or "query"
    extra = {"state": params["state"]} if "state" in params else {}
    try:
        if repeated:
            raise InvalidRequestError(f"The '{repeated[0]}' parameter is included more than once.")
        request = checked(app, params, redirect_uri)
    except OAuthError as exc:
        return Redirect(redirect_uri, {**exc.wire_fields(), **extra}, mode)
    create_org = params.get("is_create_org") == "true"
    try:
        user, org = sign_up(
            tenant,
            email=fields.get("email", "").strip(),
            given_name=fields.get("given_name", ""),
            family_name=fields.get("family_name", ""),
            org_name=fields.get("org_name", "") if create_org else None,
        )
    except ConfigError as exc:
        page = SignupPage(pairs=request_pairs, create_org=create_org, **_kept(fields))
        return replace(page, error=f"{exc.key}: {exc.reason}", app=app.name)
    org_params = {**params, "org_code": org.code if org else ""}
    outcome = signed_in(tenant, request, user, org_params, None)
    return replace(outcome, params={**outcome.params, **extra}, mode=mode)


def _kept(fields: Mapping[str, str]) -> dict[str, str]:
    return {"email": fields.get("email", ""), "org_name": fields.get("org_name", "")}


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


def _prompts(params: Mapping[str, str]) -> set[str]:
    prompts = set(params.get("prompt", "").split())
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none may not be combined with other prompts.")
    return prompts & set(PROMPTS)


def _chooser(tenant: Tenant, pairs: list[tuple[str, str]], org_code: str | None) -> LoginPage:
    users = [u for u in tenant.config.users if not org_code or org_code in u.orgs]
    if not users and org_code:
        raise AccessDeniedError(
            f"No configured user is a member of the organization {shown(org_code)!r}."
        )
    app = tenant.app(dict(pairs).get("client_id", ""))
    return LoginPage(users, pairs, app=app.name if app else None)


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
