"""create_app(tenant) -> Starlette: the route table and the one OAuthError handler."""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockauth import paths
from mockauth.endpoints import oauth, wellknown
from mockauth.errors import (
    MethodNotAllowedError,
    NotFoundError,
    OAuthError,
    RequestTooLargeError,
    ServerError,
)
from mockauth.state import Tenant

log = logging.getLogger("mockauth")


def routes() -> list[Route]:
    return [
        Route(paths.TOKEN, oauth.token, methods=["POST"]),
        Route(paths.DISCOVERY, wellknown.discovery, methods=["GET"]),
        Route(paths.JWKS, wellknown.jwks, methods=["GET"]),
        Route(paths.JWKS_JSON, wellknown.jwks, methods=["GET"]),
        Route(paths.HEALTH, wellknown.health, methods=["GET"]),
    ]


def render_error(exc: OAuthError) -> Response:
    """The only place an OAuth error body is built."""
    body = {"error": exc.error, "error_description": exc.description}
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
    return Response(
        json.dumps(body),
        status_code=exc.status_code,
        media_type="application/json",
        headers=headers,
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


def create_app(tenant: Tenant) -> Starlette:
    """Build the ASGI app for one tenant; no module-level state, so many can coexist."""
    app = Starlette(
        routes=routes(),
        exception_handlers={
            OAuthError: _oauth_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.tenant = tenant
    return app
