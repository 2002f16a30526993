"""The outermost ASGI layer: applies fault rules and records every request in the journal.

It is pure ASGI (no BaseHTTPMiddleware) and sits outside Starlette's own error middleware,
so it sees the server's ``send``: that is how it can close a connection without answering.
With no rule active it costs one attribute check plus the journal entry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockauth import paths
from mockauth.errors import OAUTH_ERRORS, MockAuthError, OAuthError
from mockauth.faults.rules import Decision, Effect
from mockauth.http.answers import error_answer, management_answer
from mockauth.management.errors import ManagementError
from mockauth.oauth.params import MAX_BODY, content_length, summarize
from mockauth.tenant.journal import RequestSummary, noted, remembered
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.jwks import public_jwk
from mockauth.tokens.keys import KeyStore

# How long to wait for the server to notice a connection we closed.
_CLOSE_GRACE = 5.0
HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
INVALID_JSON = b'{"access_token": eyJhbGciOiJSUzI1NiJ9, "token_type": bearer'


class ConnectionDropped(MockAuthError):
    """Raised instead of closing the connection when the ASGI server exposes no transport
    (in-process clients such as Starlette's TestClient or httpx's ASGITransport)."""


class RequestMiddleware:
    """Journal and fault injection in front of every non-admin route."""

    def __init__(self, app: ASGIApp, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant
        self._decoy: KeyStore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(paths.ADMIN):
            await self.app(scope, receive, send)
            return
        tenant = self.tenant
        tenant.refresh()  # another worker may have changed the tenant
        if not tenant.faults.live and not tenant.journal.enabled:
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send)
        if tenant.journal.enabled:
            # Recorded before the last body byte goes out, so a client that has its answer
            # always finds its request in the journal.
            generation = tenant.journal.generation
            exchange.on_complete = lambda: self._record(exchange, generation)
        try:
            if tenant.faults.live:
                exchange.decision = await self._decide(exchange)
            decision = exchange.decision
            if decision is None:
                await self.app(scope, exchange.receive, exchange.send)
            else:
                await self._apply(decision, exchange)
        finally:
            exchange.complete()  # no full answer went out (dropped, hung, failed)

    async def _decide(self, exchange: _Exchange) -> Decision | None:
        scope = exchange.scope
        engine = self.tenant.faults
        token_post = scope["path"] == paths.TOKEN and scope["method"] == "POST"
        if engine.needs_form and token_post:
            await exchange.read_fields()
        decision = engine.decide(exchange.fields or RequestSummary(scope["path"]))
        if decision is not None and token_post and exchange.fields is None:
            await exchange.read_fields()  # the endpoint may never run: the journal names the client
        return decision

    def _record(self, exchange: _Exchange, generation: int) -> None:
        decision = exchange.decision
        scope = exchange.scope
        fields = exchange.fields
        if fields is None:
            fields = remembered(scope)
            if fields is None and scope.get("query_string"):
                query = parse_qsl(scope["query_string"].decode("latin-1"))
                fields = summarize(scope["path"], query, scope["headers"])
        self.tenant.journal.record(
            generation=generation,
            method=scope["method"],
            path=scope["path"],
            status=exchange.status,
            started=exchange.started,
            fields=fields,
            fault=decision.rule.id if decision else None,
            note=noted(scope),
        )

    # --- effects -------------------------------------------------------------------------

    async def _apply(self, decision: Decision, exchange: _Exchange) -> None:
        effect = decision.rule.effect
        kind = effect.kind
        if kind == "latency":
            await asyncio.sleep(decision.delay)
            await self.app(exchange.scope, exchange.receive, exchange.send)
        elif kind in ("error", "throttle"):
            error = _oauth_error(effect)
            path = exchange.scope["path"]
            if path.startswith((paths.MANAGEMENT + "/", paths.ACCOUNT_API + "/")):
                answer = management_answer(_management_error(error))
            else:
                answer = error_answer(error)
            await answer(exchange.scope, exchange.receive, exchange.send)
        elif kind == "hang":
            await _hang(exchange, effect.timeout or 0.0)
        elif kind == "close":
            await _drop(exchange)
        elif kind in _STATIC:
            await exchange.respond(*_STATIC[kind](effect))
        elif kind == "jwks_missing_key":
            await exchange.respond(200, self._jwks_without_signer(), "application/json")
        else:
            await self._transform(kind, effect, exchange)

    async def _transform(self, kind: str, effect: Effect, exchange: _Exchange) -> None:
        """Effects on the real answer: truncated, wrong_content_type, bad_token."""
        start, body = await exchange.capture(self.app)
        status: int = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        if kind == "truncated":
            await exchange.send(start)
            half = {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            await exchange.send(half)
            await _drop(exchange)
            return
        content_type = _header(headers, b"content-type")
        if kind == "wrong_content_type":
            content_type = b"text/plain; charset=utf-8"
        elif kind == "bad_token" and status == 200 and effect.token:
            body = self._bad_token_body(body, effect.token)
        elif kind == "bad_token" and exchange.decision is not None:
            # No token to spoil (the request failed anyway): the rule did not fire.
            self.tenant.faults.refund(exchange.decision)
            exchange.decision = None
        extra = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
        await exchange.respond(status, body, content_type.decode("latin-1"), extra)

    def _bad_token_body(self, body: bytes, fault: str) -> bytes:
        from mockauth.faults.badtokens import bad_token  # needs tokens -> config; see faults.py

        answer: dict[str, Any] = json.loads(body)
        claims = _claims(answer["access_token"])
        answer["access_token"] = bad_token(self.tenant.tokens, claims, fault)
        return json.dumps(answer).encode()

    def _jwks_without_signer(self) -> bytes:
        keys = self.tenant.keys
        keys.refresh()
        published = [k for k in keys.jwks()["keys"] if k["kid"] != keys.active_kid]
        # A stranger key keeps the set non-empty, as a stale or wrong JWKS would be.
        if self._decoy is None:
            self._decoy = KeyStore()
        decoy = self._decoy
        public = decoy.public_key(decoy.active_kid)
        assert public is not None
        published.append(public_jwk(public, decoy.active_kid))
        return json.dumps({"keys": published}, separators=(",", ":")).encode()


class _Exchange:
    """One request as the middleware sees it: the raw send, the status sent, the body."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.raw_send = send
        self.started = time.monotonic()
        self.status: int | None = None
        self.fields: RequestSummary | None = None
        self._receive = receive
        self._replay: list[Message] = []
        self.on_complete: Callable[[], None] | None = None
        self.decision: Decision | None = None

    async def receive(self) -> Message:
        if self._replay:
            return self._replay.pop(0)
        return await self._receive()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete()
        await self.raw_send(message)

    def complete(self) -> None:
        """Run ``on_complete`` once."""
        callback, self.on_complete = self.on_complete, None
        if callback is not None:
            callback()

    async def read_fields(self) -> None:
        """Parse the form body into ``fields`` (the app can still read the body)."""
        pairs = _pairs(await self.buffer_body(MAX_BODY))
        self.fields = summarize(self.scope["path"], pairs, self.scope["headers"])

    async def buffer_body(self, limit: int) -> bytes:
        """Read the body (up to ``limit`` bytes) and keep it for the app to read again."""
        for name, value in self.scope["headers"]:
            declared = content_length(value) if name == b"content-length" else 0
            if declared is None or declared > limit:
                return b""  # the endpoint refuses it unread (no 100 Continue goes out)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            message = await self._receive()
            self._replay.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if size <= limit else b""

    async def capture(self, app: ASGIApp) -> tuple[Message, bytes]:
        """Run the app, keeping its answer instead of sending it."""
        start: Message = {"type": "http.response.start", "status": 500, "headers": []}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(self.scope, self.receive, keep)
        return start, b"".join(chunks)

    async def respond(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        head = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            *(headers or []),
        ]
        await self.send({"type": "http.response.start", "status": status, "headers": head})
        await self.send({"type": "http.response.body", "body": body})

    def transport(self) -> Any:
        # uvicorn's send is a bound method of its request cycle, which holds the transport
        # (both the httptools and the h11 protocol). Other servers: None.
        transport = getattr(getattr(self.raw_send, "__self__", None), "transport", None)
        has_close = callable(getattr(transport, "close", None))
        return transport if has_close and hasattr(transport, "is_closing") else None


async def _drop(exchange: _Exchange) -> None:
    """Close the connection without (finishing) an answer."""
    transport = exchange.transport()
    if transport is None:
        raise ConnectionDropped("fault injection closed the connection")
    transport.close()
    # Wait until the server has seen the close, so it neither answers 500 nor logs an error.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_until_disconnect(exchange.receive), _CLOSE_GRACE)


async def _hang(exchange: _Exchange, timeout: float) -> None:
    """Answer nothing until the client gives up, or close the connection after ``timeout``."""
    try:
        await asyncio.wait_for(_until_disconnect(exchange.receive), timeout)
    except TimeoutError:
        await _drop(exchange)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _oauth_error(effect: Effect) -> OAuthError:
    if effect.kind == "throttle":
        seconds = effect.retry_after or 0
        description = effect.description or f"Too many requests. Retry after {seconds} seconds."
        headers = {"RateLimit-Reset": str(seconds), "Retry-After": str(seconds)}
        err = OAuthError(description, headers=headers)
        err.error, err.status_code = "too_many_requests", 429
        return err
    standard = OAUTH_ERRORS.get(effect.error or "")
    default = standard.default_description if standard else _DESCRIPTIONS.get(effect.status or 0)
    err = OAuthError(effect.description or default)
    err.error = effect.error or "server_error"
    err.status_code = effect.status or 500
    return err


def _management_error(error: OAuthError) -> ManagementError:
    """A fault's error as the Management API says it: {"errors": [{code, message}]}."""
    err = ManagementError(error.description, code=error.error.upper(), headers=error.headers)
    err.status_code = error.status_code
    return err


_DESCRIPTIONS = {
    502: "The authorization server received an invalid response from an upstream server.",
    503: "The authorization server is temporarily unavailable.",
    504: "The authorization server timed out waiting for an upstream server.",
}
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}
_REASONS |= {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def _html(effect: Effect) -> tuple[int, bytes, str]:
    status = effect.status or 502
    page = HTML_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
    return status, page.encode(), "text/html"


_STATIC: dict[str, Callable[[Effect], tuple[int, bytes, str]]] = {
    "invalid_json": lambda _: (200, INVALID_JSON, "application/json"),
    "empty": lambda _: (200, b"", "application/json"),
    "html_error": _html,
    "jwks_empty": lambda _: (200, b'{"keys":[]}', "application/json"),
}


def _pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return []  # the endpoint will reject the body; the rule just does not match


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return b""


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims
