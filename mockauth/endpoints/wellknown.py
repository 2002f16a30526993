"""Discovery and JWKS: bodies built once (per issuer, per key change), served as bytes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockauth.state import Tenant


async def discovery(request: Request) -> Response:
    tenant: Tenant = request.app.state.tenant
    return Response(tenant.discovery_bytes, media_type="application/json")


async def jwks(request: Request) -> Response:
    tenant: Tenant = request.app.state.tenant
    tenant.keys.refresh()
    return Response(tenant.keys.jwks_bytes(), media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
