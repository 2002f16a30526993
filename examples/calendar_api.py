"""A calendar API protected by Kinde access tokens: step 4 of Kinde's M2M guide, done right,
and a route for signed-in users that checks their permissions.

Run it against mockauth (see README.md beside this file):

    mockauth serve &
    uvicorn --factory --app-dir examples calendar_api:app_from_env --port 8000

Every route but /health needs ``Authorization: Bearer <token>`` for the API's audience.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockauth import TokenClaims, TokenValidator, requires_scopes

DEFAULT_ISSUER = "http://127.0.0.1:8400"
DEFAULT_AUDIENCE = "https://api.example.com"


def create_api(validator: TokenValidator) -> Starlette:
    """The API's routes, each guarded by the scopes it needs; events live in memory."""
    events: list[dict[str, str]] = []
    read_calendar = requires_scopes(validator, "read:calendar")
    update_event = requires_scopes(validator, "update:event")
    any_token = requires_scopes(validator)
    # Users' tokens carry what the user may do in permissions (M2M tokens have none).
    user_who_reads = requires_scopes(validator, permissions="read:calendar")

    @read_calendar.protect
    async def list_events(request: Request, claims: TokenClaims) -> Response:
        return JSONResponse({"events": events})

    @update_event.protect
    async def add_event(request: Request, claims: TokenClaims) -> Response:
        try:
            body = await request.json()
        except ValueError:  # not JSON (or not UTF-8): the client's mistake, not a 500
            body = None
        title = body.get("title") if isinstance(body, dict) else None
        if not isinstance(title, str) or not title:
            return JSONResponse({"error": "a JSON body with a 'title' is required"}, 422)
        event = {"title": title, "created_by": claims.client_id or "unknown"}
        events.append(event)
        return JSONResponse(event, status_code=201)

    async def whoami(request: Request) -> Response:
        # The dependency form: call the guard, get the claims (or an HTTPException).
        claims = await any_token(request)
        return JSONResponse(
            {
                "client_id": claims.client_id,
                "org_code": claims.org_code,
                "scopes": list(claims.scopes),
                "expires_at": claims.expires_at,
            }
        )

    @user_who_reads.protect
    async def me(request: Request, claims: TokenClaims) -> Response:
        return JSONResponse(
            {
                "user": claims.subject,
                "org_code": claims.org_code,
                "permissions": list(claims.permissions),
                "events": len(events),
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/events", list_events, methods=["GET"]),
            Route("/events", add_event, methods=["POST"]),
            Route("/whoami", whoami, methods=["GET"]),
            Route("/me", me, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def app_from_env() -> Starlette:
    """Factory for uvicorn: KINDE_ISSUER_URL and KINDE_AUDIENCE, as Kinde's SDKs name them."""
    validator = TokenValidator(
        issuer=os.environ.get("KINDE_ISSUER_URL", DEFAULT_ISSUER),
        audience=os.environ.get("KINDE_AUDIENCE", DEFAULT_AUDIENCE),
    )
    return create_api(validator)
