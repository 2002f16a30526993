"""Discovery and JWKS: bodies built once (per issuer, per key change), served as bytes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from mockauth.keys import KeyStore
from mockauth.state import Tenant


async def discovery(request: Request) -> Response:
    tenant: Tenant = request.app.state.tenant
    return Response(tenant.discovery_bytes, media_type="application/json")


class JwksEndpoint:
    """GET JWKS as a raw ASGI app, its whole answer rebuilt only when the keys change.

    The app also calls it straight from the front of the stack, past Starlette's router and
    middleware: that doubles JWKS throughput (bench/README.md).
    """

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._body = b""
        self._start: Message = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._keys.refresh()  # another worker may have rotated the keys (one stat when not)
        body = self._keys.jwks_bytes()
        if body is not self._body:
            self._start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
            self._body = body
        await send(self._start)
        await send({"type": "http.response.body", "body": body})


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
