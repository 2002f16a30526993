"""What a request may take: header bytes, body bytes (the protocol's own bounds are in
fast.py), and the ASGI wrapper that answers oversized headers with an OAuth 431."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mockauth.errors import HeadersTooLargeError, OAuthError
from mockauth.http.answers import error_answer
from mockauth.oauth.params import MAX_BODY

# httptools buffers headers without any bound; oversize ones get an OAuth 431.
MAX_HEADER_BYTES = 32 * 1024
# What a request's head may take (the fields' cap plus the request line), counted from the
# read after the one it began in: a head is refused past twice this at most.
HEAD_LIMIT = MAX_HEADER_BYTES + 16 * 1024
# Bytes a request may send after its head. Every endpoint caps bodies at MAX_BODY and
# answers 413 past it; this bounds what httptools buffers after that (chunk trailers).
BODY_LIMIT = 16 * MAX_BODY


def headers_too_large() -> OAuthError:
    return HeadersTooLargeError(f"The request headers must total at most {MAX_HEADER_BYTES} bytes.")


class HeaderLimit:
    """Wrap an ASGI app so requests whose headers exceed MAX_HEADER_BYTES get a 431.

    ``fast_path`` is the wrapped app's, for the protocol (fast.py) to find.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fast_path = getattr(app, "fast_path", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", ())
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            await error_answer(headers_too_large())(scope, receive, send)
            return
        await self.app(scope, receive, send)
