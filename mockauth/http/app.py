"""create_app(tenant) -> Starlette: the route table and the one OAuthError handler."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mockauth import paths
from mockauth.admin import api as admin
from mockauth.errors import MethodNotAllowedError, NotFoundError, OAuthError, RequestTooLargeError
from mockauth.http import cors
from mockauth.http.answers import (
    Answer,
    HotAnswers,
    error_answer,
    management_answer,
    unexpected_answer,
)
from mockauth.http.fast import FastPath
from mockauth.http.middleware import RequestMiddleware
from mockauth.management import account
from mockauth.management import routes as management
from mockauth.management.errors import ManagementError
from mockauth.oauth import endpoints as oauth
from mockauth.oauth.params import read_body
from mockauth.oauth.signin import REFRESH_COOKIE, refresh_cookie
from mockauth.tenant.journal import remember
from mockauth.tenant.tenant import Tenant

_JWKS = frozenset({paths.JWKS, paths.JWKS_JSON})


def routes(hot: HotAnswers) -> list[Route]:
    async def token(request: Request) -> Response:
        body = await read_body(request)
        cookie = request.cookies.get(REFRESH_COOKIE)
        answer, fields = hot.token(request.headers.raw, body, cookie)
        if fields is not None:
            remember(request.scope, fields)
        response = _response(answer)
        if "origin" in request.headers and answer.status == 200:  # a page: Kinde's cookie
            refresh = json.loads(answer.body).get("refresh_token")
            if refresh:
                response.headers.append("set-cookie", refresh_cookie(hot.tenant, refresh))
        return response

    async def discovery(request: Request) -> Response:
        return _response(hot.discovery())

    async def jwks(request: Request) -> Response:
        return _response(hot.jwks())

    return [
        Route(paths.TOKEN, token, methods=["POST"]),
        Route(paths.AUTHORIZE, oauth.authorize, methods=["GET"]),
        Route(paths.LOGOUT, oauth.logout, methods=["GET"]),
        Route(paths.USERINFO, oauth.user_profile, methods=["GET"]),
        Route(paths.USERINFO_V1, oauth.user_profile_v1, methods=["GET"]),
        Route(paths.INTROSPECT, oauth.introspect, methods=["POST"]),
        Route(paths.REVOKE, oauth.revoke, methods=["POST"]),
        Route(paths.DEVICE_AUTH, oauth.device_authorization, methods=["POST"]),
        Route(paths.DEVICE, oauth.device_page, methods=["GET"]),
        Route(paths.SIGNUP, oauth.sign_up, methods=["POST"]),
        Route(paths.DISCOVERY, discovery, methods=["GET"]),
        Route(paths.JWKS, jwks, methods=["GET"]),
        Route(paths.JWKS_JSON, jwks, methods=["GET"]),
        Route(paths.HEALTH, oauth.health, methods=["GET"]),
        *admin.routes(),
        *management.routes(),
        *account.routes(),
    ]


def _response(answer: Answer) -> Response:
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = list(answer.headers)
    return response


def render_error(exc: OAuthError) -> Response:
    """An OAuthError as a Starlette response (the bytes of ``error_answer``)."""
    return _response(error_answer(exc))


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_error(exc)


async def _management_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ManagementError)
    return _response(management_answer(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    mapped: dict[int, type[OAuthError]] = {
        404: NotFoundError,
        405: MethodNotAllowedError,
        413: RequestTooLargeError,
    }
    cls = mapped.get(exc.status_code)
    if cls is None:
        err: OAuthError = OAuthError(exc.detail)
        err.status_code = exc.status_code
        err.error = "invalid_request" if exc.status_code < 500 else "server_error"
    else:
        err = cls()
    err.headers.update(exc.headers or {})
    return render_error(err)


async def _server_error(request: Request, exc: Exception) -> Response:
    return _response(unexpected_answer(request.method, request.url.path, exc))


class _MockAuthApp(Starlette):
    """Starlette with the journal and fault middleware outermost.

    Outside Starlette's own error middleware it gets the server's ``send`` unwrapped (so a
    fault can close the connection) and records the status the client really got.
    ``fast_path`` answers the hot requests inside the HTTP protocol (fast.py).
    """

    fast_path: FastPath

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        hot: HotAnswers = self.state.hot
        tenant: Tenant = self.state.tenant

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            preflight = cors.preflight(tenant, scope) if scope["type"] == "http" else None
            if preflight is not None:
                await preflight(scope, receive, send)
            # JWKS is the most-fetched document: skip the router for it.
            elif scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in _JWKS:
                try:
                    answer = hot.jwks()
                except Exception as exc:  # outside Starlette's handlers: the same last resort
                    answer = unexpected_answer("GET", scope["path"], exc)
                await answer(scope, receive, send)
            else:
                await stack(scope, receive, send)

        return cors.CorsHeaders(RequestMiddleware(front, tenant), tenant)


def create_app(tenant: Tenant) -> Starlette:
    """Build the ASGI app for one tenant; no module-level state, so many can coexist."""
    hot = HotAnswers(tenant)
    app = _MockAuthApp(
        routes=routes(hot),
        exception_handlers={
            OAuthError: _oauth_error,
            ManagementError: _management_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.tenant = tenant
    app.state.hot = hot
    app.fast_path = FastPath(tenant, hot)
    # Kinde answers 404 for /oauth2/token/; a redirect would turn a POST into a GET.
    app.router.redirect_slashes = False
    return app
