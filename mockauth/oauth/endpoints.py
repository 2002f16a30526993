"""The OAuth endpoints: token, authorization, logout, user profile, introspection, revocation,
device authorization and the device page."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mockauth import paths
from mockauth.errors import (
    NO_STORE,
    InvalidClientError,
    InvalidRequestError,
    InvalidTokenError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from mockauth.issuance import revoked_until
from mockauth.oauth.authorize import Outcome, sign_up_submitted
from mockauth.oauth.authorize import authorize as authorize_request
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.grants import GRANTS, device_code, refresh_token
from mockauth.oauth.pages import device as device_pages
from mockauth.oauth.pages.layout import error_page, page
from mockauth.oauth.pages.login import LoginPage
from mockauth.oauth.pages.signup import SignupPage
from mockauth.oauth.params import Form, read_form, repeated_names, summarize
from mockauth.oauth.signin import SESSION_COOKIE, end_session, refresh_cookie, session_cookie
from mockauth.tenant.apps import App
from mockauth.tenant.journal import RequestSummary, remember
from mockauth.tenant.people import User
from mockauth.tenant.tenant import Tenant

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mockauth"'}
_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="mockauth", error="invalid_token"'}


def _remember(request: Request, pairs: Iterable[tuple[str, str]]) -> None:
    """Tell the journal what this request asked (an allow-list of its parameters)."""
    remember(request.scope, summarize(request.url.path, pairs, request.headers.raw))


def _tenant(request: Request) -> Tenant:
    tenant: Tenant = request.app.state.tenant
    return tenant


def token_body(tenant: Tenant, form: Form, headers: Headers) -> bytes:
    """The token endpoint's 200 body for a parsed form, or an OAuthError.

    What ``HotAnswers.token`` (http/answers.py) answers on both paths.
    """
    tenant.keys.refresh()  # another worker may have rotated the keys (one stat when not)
    grant_type = form.one("grant_type")
    if not grant_type:
        raise InvalidRequestError("The request is missing the required 'grant_type' parameter.")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError()
    return json.dumps(handler(tenant, form, headers)).encode()


async def authorize(request: Request) -> Response:
    """Sign a user in (at once, from the session, or through a page) and send the browser
    back with a code, or with an error."""
    pairs = request.query_params.multi_items()
    _remember(request, pairs)
    tenant = _tenant(request)
    try:
        outcome = authorize_request(tenant, pairs, request.cookies.get(SESSION_COOKIE))
    except OAuthError as exc:
        return _error_for(request, exc, "Cannot sign in")
    return _render(tenant, outcome)


async def sign_up(request: Request) -> Response:
    """The sign-up page's form (prompt=create): add the user, sign them in, redirect."""
    form = await read_form(request)
    _remember(request, [(k, v) for k, v in form.fields if k not in ("email",)])
    tenant = _tenant(request)
    try:
        outcome = sign_up_submitted(tenant, list(form.fields))
    except OAuthError as exc:
        return _error_for(request, exc, "Cannot sign up")
    return _render(tenant, outcome)


def _render(tenant: Tenant, outcome: Outcome) -> Response:
    if isinstance(outcome, SignupPage):
        status = 400 if outcome.error else 200
        return HTMLResponse(outcome.html(), status_code=status, headers=NO_STORE)
    if isinstance(outcome, LoginPage):
        return HTMLResponse(outcome.html(), headers=NO_STORE)
    if outcome.mode == "form_post":
        response: Response = HTMLResponse(outcome.form_post_page(), headers=NO_STORE)
    else:
        response = RedirectResponse(outcome.location(), status_code=302, headers=NO_STORE)
    if outcome.session is not None:
        response.headers.append("set-cookie", session_cookie(tenant, outcome.session))
    return response


def _error_for(request: Request, exc: OAuthError, title: str, back: str | None = None) -> Response:
    """A browser gets a page that says why, with a way back; an API client the OAuth JSON."""
    if "text/html" not in request.headers.get("accept", ""):
        raise exc
    page = error_page(title, exc.description, back)
    return HTMLResponse(page, status_code=exc.status_code, headers=NO_STORE)


async def logout(request: Request) -> Response:
    """End the sign-in session and go to an allowed logout URL, if given."""
    query = request.query_params
    tenant = _tenant(request)
    end_session(tenant, request.cookies.get(SESSION_COOKIE))
    target = query.get("redirect") or query.get("post_logout_redirect_uri")
    target = target or query.get("redirect_uri")
    if not target:
        response: Response = HTMLResponse(_signed_out(), headers=NO_STORE)
    else:
        try:
            response = RedirectResponse(_logout_target(tenant, query, target), 302, NO_STORE)
        except OAuthError as exc:
            return _error_for(request, exc, "Cannot sign out")
    response.headers.append("set-cookie", session_cookie(tenant, None))
    response.headers.append("set-cookie", refresh_cookie(tenant, None))
    return response


def _signed_out() -> str:
    return page("Signed out", "<p>You are signed out. You can close this page.</p>")


def _logout_target(tenant: Tenant, query: Any, target: str) -> str:
    client_id = query.get("client_id")
    apps = tenant.config.apps
    if client_id:
        named = tenant.app(client_id)
        if named is None:
            raise InvalidClientError()
        apps = (named,)
    if not any(target in app.logout_uris for app in apps):
        raise InvalidRequestError(
            f"The logout redirect {target[:200]!r} is not an allowed logout URL "
            "(logout_uris in an [[apps]] table)."
        )
    state = query.get("state")
    if state is None:
        return target
    parts = urlsplit(target)
    extra = urlencode({"state": state})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _bearer_user(request: Request) -> tuple[dict[str, Any], User]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError(
            "The request has no bearer access token.", headers=_BEARER_CHALLENGE
        )
    tenant = _tenant(request)
    claims = tenant.access_claims(token.strip())
    if claims is None:
        raise InvalidTokenError(
            "The access token is invalid, expired or revoked.", headers=_INVALID_TOKEN
        )
    azp = claims.get("azp")
    remember(request.scope, RequestSummary(request.url.path, azp if isinstance(azp, str) else None))
    user = tenant.user(claims["sub"]) if isinstance(claims.get("sub"), str) else None
    if user is None:
        raise InvalidTokenError(
            "The access token is not a configured user's (machine-to-machine tokens have none).",
            headers=_INVALID_TOKEN,
        )
    return claims, user


async def user_profile(request: Request) -> Response:
    """``/oauth2/v2/user_profile``: OpenID Connect userinfo for the token's user."""
    _, user = _bearer_user(request)
    return JSONResponse(
        {
            "sub": user.id,
            "id": user.id,
            "provided_id": None,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "updated_at": _tenant(request).started_at,
            "email": user.email,
            "email_verified": user.email_verified,
            "picture": user.picture,
            "preferred_username": user.username,
        },
        headers=NO_STORE,
    )


async def user_profile_v1(request: Request) -> Response:
    """``/oauth2/user_profile``: Kinde's older profile shape."""
    _, user = _bearer_user(request)
    return JSONResponse(
        {
            "id": user.id,
            "preferred_email": user.email,
            "username": user.username,
            "provided_id": None,
            "last_name": user.family_name,
            "first_name": user.given_name,
            "picture": user.picture,
        },
        headers=NO_STORE,
    )


async def introspect(request: Request) -> Response:
    """RFC 7662 for this server's access and refresh tokens; the caller authenticates as
    an app or with a bearer access token."""
    form = await read_form(request)
    _remember(request, form.fields)
    tenant = _tenant(request)
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        caller = tenant.access_claims(bearer.strip())
        if caller is None:
            raise InvalidTokenError(
                "The bearer access token is invalid, expired or revoked.", headers=_INVALID_TOKEN
            )
        if caller.get("gty") != ["client_credentials"]:  # a browser's token reads no others
            raise InvalidTokenError(
                "Only a machine-to-machine access token may introspect.", headers=_INVALID_TOKEN
            )
    else:
        authenticate(tenant, request.headers, form, require_secret=True)
    token = form.required("token")
    answer: dict[str, Any] = {"active": False}
    claims = tenant.access_claims(token)
    if claims is not None:
        scope = claims.get("scope")
        answer = {
            "active": True,
            "aud": claims.get("aud", []),
            "client_id": claims.get("azp"),
            "exp": claims["exp"],
            "iat": claims.get("iat"),
            "scope": scope if isinstance(scope, str) else " ".join(claims.get("scp", [])),
        }
        if "sub" in claims:
            answer["sub"] = claims["sub"]
    else:
        grant = refresh_token.live(tenant, token)
        if grant is not None:
            answer = {
                "active": True,
                "aud": list(grant.audiences),
                "client_id": grant.client_id,
                "exp": grant.exp,
                "scope": " ".join(grant.scopes),
                "sub": grant.user_id,
            }
    return JSONResponse(answer, headers=NO_STORE)


async def revoke(request: Request) -> Response:
    """RFC 7009: revoke a refresh or access token of the calling app; always 200."""
    form = await read_form(request)
    _remember(request, form.fields)
    tenant = _tenant(request)
    app = authenticate(tenant, request.headers, form, require_secret=False)
    _revoke(tenant, app, form.required("token"))
    return Response(status_code=200, headers=NO_STORE)


def _revoke(tenant: Tenant, app: App, token: str) -> None:
    """Revoke a refresh token (its family and access token) or an access token issued to
    ``app``; another client's token is unauthorized_client, and one that is not live is
    ignored (RFC 7009: an invalid token is not an error)."""
    refresh = refresh_token.live(tenant, token)
    claims = tenant.access_claims(token) if refresh is None else None
    owner = refresh.client_id if refresh is not None else (claims or {}).get("azp")
    if owner is not None and owner != app.client_id:
        raise UnauthorizedClientError("The token was issued to another client.")
    if refresh is not None:
        refresh_token.revoke(tenant, refresh)
    elif claims is not None:
        tenant.store.spend(claims["jti"], revoked_until(claims, tenant.clock()))


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def device_authorization(request: Request) -> Response:
    """RFC 8628 3.1: a device code and a user code for a device app (client_id may be left
    out when there is exactly one device app, as Kinde's default device app)."""
    form = await read_form(request)
    _remember(request, form.fields)
    tenant = _tenant(request)
    if form.one("client_id") is None and "authorization" not in request.headers:
        devices = [a for a in tenant.config.apps if a.type == "device"]
        if len(devices) != 1:
            raise InvalidRequestError(
                f"The request has no client_id and {len(devices)} device apps are configured."
            )
        form = Form((*form.fields, ("client_id", devices[0].client_id)))
    app = authenticate(tenant, request.headers, form, require_secret=False)
    answer = device_code.start(tenant, app, form, tenant.issuer + paths.DEVICE)
    return JSONResponse(answer, headers=NO_STORE)


async def device_page(request: Request) -> Response:
    """Where the user enters the device's code; it signs them in and approves the device
    (``login_hint`` picks the user; ``deny=1`` refuses the device instead), once."""
    pairs = request.query_params.multi_items()
    try:
        return _device_page(request, pairs)
    except OAuthError as exc:
        return _error_for(request, exc, "Cannot connect the device", paths.DEVICE)


def _device_page(request: Request, pairs: list[tuple[str, str]]) -> Response:
    repeated = repeated_names(pairs)
    if repeated:
        raise InvalidRequestError(f"The '{repeated[0]}' parameter is included more than once.")
    query = dict(pairs)
    user_code = query.get("user_code")
    if not user_code:
        return HTMLResponse(device_pages.code_form(), headers=NO_STORE)
    if query.get("deny", "0") not in ("0", "1"):
        raise InvalidRequestError("deny must be 1 (refuse the device) or 0.")
    tenant = _tenant(request)
    device = device_code.waiting(tenant, user_code)  # an unknown or expired code: no page
    app = tenant.app(str(device.get("c", "")))
    hint = query.get("login_hint") or None
    deny = query.get("deny") == "1"
    if tenant.config.login_page and hint is None and not deny and tenant.config.users:
        users = list(tenant.config.users)
        chooser = LoginPage(
            users, pairs, paths.DEVICE, app=app.name if app else None, sign_up=False
        )
        return HTMLResponse(chooser.html(), headers=NO_STORE)
    who = device_code.decide(tenant, device, hint, deny=deny)
    html = device_pages.decided(who, app=app.name if app else None, denied=deny)
    return HTMLResponse(html, headers=NO_STORE)
