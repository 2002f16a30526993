"""create_app(tenant) -> Starlette: the route table and the one OAuthError handler."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mockauth import paths
from mockauth.admin import api as admin
from mockauth.errors import (
    MethodNotAllowedError,
    NotFoundError,
    OAuthError,
    RequestTooLargeError,
    ServerError,
)
from mockauth.http.fast import FastPath
from mockauth.http.middleware import RequestMiddleware
from mockauth.oauth import endpoints as oauth
from mockauth.tenant.tenant import Tenant
from mockauth.tokens import jwks as wellknown

log = logging.getLogger("mockauth")
_JWKS = frozenset({paths.JWKS, paths.JWKS_JSON})


def routes(jwks: wellknown.JwksEndpoint) -> list[Route]:
    return [
        Route(paths.TOKEN, oauth.token, methods=["POST"]),
        Route(paths.AUTHORIZE, oauth.authorize, methods=["GET"]),
        Route(paths.LOGOUT, oauth.logout, methods=["GET"]),
        Route(paths.USERINFO, oauth.user_profile, methods=["GET"]),
        Route(paths.USERINFO_V1, oauth.user_profile_v1, methods=["GET"]),
        Route(paths.INTROSPECT, oauth.introspect, methods=["POST"]),
        Route(paths.REVOKE, oauth.revoke, methods=["POST"]),
        Route(paths.DEVICE_AUTH, oauth.device_authorization, methods=["POST"]),
        Route(paths.DEVICE, oauth.device_page, methods=["GET"]),
        Route(paths.DISCOVERY, wellknown.discovery, methods=["GET"]),
        Route(paths.JWKS, jwks, methods=["GET"]),
        Route(paths.JWKS_JSON, jwks, methods=["GET"]),
        Route(paths.HEALTH, wellknown.health, methods=["GET"]),
        *admin.routes(),
    ]


def render_error(exc: OAuthError) -> Response:
    """An OAuthError as a Starlette response (the fast path writes the same bytes)."""
    return Response(
        exc.body(),
        status_code=exc.status_code,
        media_type="application/json",
        headers=exc.response_headers(),
    )


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_error(exc)


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
    log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc)
    return render_error(ServerError())


class _MockAuthApp(Starlette):
    """Starlette with the journal and fault middleware outermost.

    Outside Starlette's own error middleware it gets the server's ``send`` unwrapped (so a
    fault can close the connection) and records the status the client really got.
    ``fast_path`` answers the hot requests inside the HTTP protocol (fastpath.py).
    """

    fast_path: FastPath

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        jwks: wellknown.JwksEndpoint = self.state.jwks

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            # JWKS is the most-fetched document: skip the router for it.
            if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in _JWKS:
                try:
                    await jwks(scope, receive, send)
                except Exception as exc:  # outside Starlette's handlers: the same last resort
                    log.error("unhandled error on GET %s: %r", scope["path"], exc)
                    await render_error(ServerError())(scope, receive, send)
            else:
                await stack(scope, receive, send)

        return RequestMiddleware(front, self.state.tenant, render_error)


def create_app(tenant: Tenant) -> Starlette:
    """Build the ASGI app for one tenant; no module-level state, so many can coexist."""
    jwks = wellknown.JwksEndpoint(tenant.keys)
    app = _MockAuthApp(
        routes=routes(jwks),
        exception_handlers={
            OAuthError: _oauth_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.tenant = tenant
    app.state.jwks = jwks
    app.fast_path = FastPath(tenant, jwks)
    # Kinde answers 404 for /oauth2/token/; a redirect would turn a POST into a GET.
    app.router.redirect_slashes = False
    return app
