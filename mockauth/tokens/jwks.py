"""Discovery and JWKS: bodies built once (per issuer, per key change), served as bytes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore


async def discovery(request: Request) -> Response:
    tenant: Tenant = request.app.state.tenant
    return Response(tenant.discovery_bytes, media_type="application/json")


class JwksEndpoint:
    """GET JWKS as a raw ASGI app, its whole answer rebuilt only when the keys change.

    The app calls it straight from the front of the stack, past Starlette's router and
    middleware, and the protocol's fast path (fastpath.py) serves ``current()`` directly.
    """

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._body = b""
        self._headers: list[tuple[bytes, bytes]] = []

    def current(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The answer's headers and body for the keys as they are now."""
        self._keys.refresh()  # another worker may have rotated the keys (one stat when not)
        body = self._keys.jwks_bytes()
        if body is not self._body:
            self._headers = [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ]
            self._body = body
        return self._headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers, body = self.current()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
