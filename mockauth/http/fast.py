"""The hot path: JWKS GETs and token POSTs answered inside uvicorn's HTTP protocol.

Through ASGI every request costs a task, a request cycle, Starlette's stack and two socket
writes: several times the work of a JWKS answer and a third of a token's (bench/README.md).
``HttpProtocol`` subclasses uvicorn's httptools protocol and answers these two requests as
they complete, in one write, with the bytes the ASGI app would send: the answers come from
the same functions (``token_body``, ``JwksEndpoint.current``, ``OAuthError.body``) and
tests/test_fastpath.py holds both paths to the same status, headers and body. Anything
else goes through ASGI unchanged: fault rules live, a request queued behind a slower one,
HTTP/1.0 or ``Connection: close``, ``Expect``, chunked bodies, query strings, oversized
headers, access logging.

The protocol also bounds what httptools buffers: it keeps a header (or a chunk trailer)
until it ends, so one endless header would fill memory before the app's 431 could answer.
Past HEAD_LIMIT bytes of head the protocol answers 431 itself, past BODY_LIMIT after the
head it stops reading, and a request httptools cannot parse gets an OAuth 400 (uvicorn's is
text/plain); each time it drops further input and closes. Upgrade headers are ignored, as
RFC 9110 allows: httptools stops at such a request's head, so the protocol hands it the body
httptools skipped and parses what follows afresh (Java's HttpClient asks for h2c this way).

It leans on uvicorn internals (``cycle``, ``pipeline``, ``flow``, ``on_response_complete``)
that have been stable for years; the fast path checks them and stands down without them
(the limits stay), and a test fails if the fast path is not in use.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from mockauth import paths
from mockauth.errors import InvalidRequestError, OAuthError
from mockauth.http.answers import Answer, HotAnswers, RawHeaders, error_answer, unexpected_answer
from mockauth.http.limits import BODY_LIMIT, HEAD_LIMIT, MAX_HEADER_BYTES, headers_too_large
from mockauth.http.tlsclose import DEADLINE_SECONDS, drop_when_delivered
from mockauth.oauth.params import MAX_BODY, body_too_large, content_length
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.tenant import Tenant

log = logging.getLogger("mockauth")
# After refusing a request mid-head, input is read and dropped this long before closing, so
# the client (still sending) reads the 431 instead of a connection reset.
LINGER_SECONDS = 2.0
_HOT = {
    paths.JWKS.encode(): "jwks",
    paths.JWKS_JSON.encode(): "jwks",
    paths.DISCOVERY.encode(): "discovery",
    paths.TOKEN.encode(): "token",
}


class FastPath:
    """Answers the hot requests of one tenant without ASGI, with the answers of
    ``HotAnswers``; ``served`` counts them."""

    def __init__(self, tenant: Tenant, hot: HotAnswers) -> None:
        self.tenant = tenant
        self.hot = hot
        self.served = 0

    @property
    def open(self) -> bool:
        """False while a fault rule may fire: the middleware must see every request."""
        self.tenant.refresh()  # another worker may have changed the tenant
        return not self.tenant.faults.live

    def answer(
        self, kind: str, headers: RawHeaders, body: bytes
    ) -> tuple[Answer, RequestSummary | None]:
        if kind == "token":
            return self.hot.token(headers, body)
        return (self.hot.jwks() if kind == "jwks" else self.hot.discovery()), None

    def record(
        self,
        path: str,
        method: str,
        status: int,
        started: float,
        generation: int,
        fields: RequestSummary | None,
    ) -> None:
        self.tenant.journal.record(
            generation=generation,
            method=method,
            path=path,
            status=status,
            started=started,
            fields=fields,
        )


try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
except ImportError:  # uvicorn without httptools: h11 only, no fast path
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def _parser(protocol: Any) -> Any:
    """A request parser as uvicorn makes one."""
    parser = httptools.HttpRequestParser(protocol)
    with contextlib.suppress(AttributeError):  # httptools < 0.6.3
        parser.set_dangerous_leniencies(lenient_data_after_close=True)
    return parser


# What the byte limits override; every uvicorn with httptools has them.
_HOOKS = (
    "data_received",
    "send_400_response",
    "_unset_keepalive_if_required",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
)
# What the fast path also relies on, checked once here and per connection in __init__.
_FAST_HOOKS = (
    "on_body",
    "shutdown",
    "connection_lost",
)
_FAST_STATE = (
    "app",
    "access_log",
    "access_logger",
    "limit_concurrency",
    "server_state",
    "parser",
    "cycle",
    "pipeline",
    "flow",
    "expect_100_continue",
    "timeout_keep_alive_task",
)


def protocol_class() -> type[Any] | str:
    """The uvicorn ``http`` setting: our protocol on uvicorn's httptools one, else
    uvicorn's own choice (h11)."""
    if HttpToolsProtocol is None or not all(hasattr(HttpToolsProtocol, n) for n in _HOOKS):
        return "auto"
    return HttpProtocol


if HttpToolsProtocol is not None:
    _FAST_OK = all(hasattr(HttpToolsProtocol, n) for n in _FAST_HOOKS)

    class HttpProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with bounded request heads and bodies, answering
        JWKS and token requests itself."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            fast = getattr(self.app, "fast_path", None)
            usable = _FAST_OK and isinstance(fast, FastPath)
            usable = usable and all(hasattr(self, n) for n in _FAST_STATE)
            # Access lines are written only at INFO; pytest may attach capture handlers
            # to uvicorn.access whatever its level.
            logs = usable and self.access_log and self.access_logger.isEnabledFor(logging.INFO)
            self._fast = fast if usable and not logs and self.limit_concurrency is None else None
            self._hot: str | None = None
            self._hot_body: list[bytes] = []
            self._hot_started = 0.0
            self._hot_generation = 0
            self._close_after = False
            # httptools keeps a header (or a chunk trailer) until it ends, so without these
            # one endless header fills memory. None: not in that part of a request.
            self._messages = 0
            self._head_left: int | None = None
            self._body_left: int | None = None
            self._refusal: OAuthError | None = None  # to send once earlier answers are out
            self._skipped: int | None = None  # body bytes httptools skipped (an Upgrade)
            self._lingering = False
            self._drop_deadline: float | None = None  # a TLS connection the server is ending

        # --- byte limits ---------------------------------------------------------------

        def data_received(self, data: bytes) -> None:
            if self._lingering or self._refusal is not None:
                return  # a refused request: drop what follows
            data = self._take_skipped(data)
            while data:
                messages, head, body = self._messages, self._head_left, self._body_left
                # At most HEAD_LIMIT at a time: a head that begins inside an uncounted chunk
                # can have no more than that in it.
                limit = HEAD_LIMIT if head is None else head
                if len(data) > limit:
                    chunk, data = data[:limit], data[limit:]
                else:
                    chunk, data = data, b""
                rest = self._feed(chunk)
                if self.parser is None or self.transport.is_closing() or self._lingering:
                    return
                if self._refusal is not None:
                    return
                if rest is not None:  # after an Upgrade request's head: read on as HTTP/1.1
                    data = self._take_skipped(rest + data)
                    continue
                # Count a chunk only when all of it went to one part of one request: that
                # request is still in the same part afterwards.
                if messages != self._messages:
                    continue
                if head is not None and self._head_left is not None:
                    self._head_left = head - len(chunk)
                    if self._head_left <= 0:
                        self._refuse_head()
                        return
                elif body is not None and self._body_left is not None:
                    self._body_left = body - len(chunk)
                    if self._body_left < 0:
                        self._drop_body()
                        return

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._messages += 1
            self._head_left = HEAD_LIMIT
            self._body_left = None
            if self._fast is not None:
                # A fast answer armed the keep-alive timer mid-packet; a request that
                # follows in the same packet must not be cut off by it.
                self._unset_keepalive_if_required()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._drop_deadline is not None and self.transport.is_closing():
                drop_when_delivered(self.loop, self.transport, self._drop_deadline)
            if self._refusal is not None and not self._in_flight():
                error, self._refusal = self._refusal, None
                self._linger(error)

        def _in_flight(self) -> bool:
            """An earlier request's answer is not out yet."""
            cycle = getattr(self, "cycle", None)
            busy = cycle is not None and not getattr(cycle, "response_complete", True)
            busy = busy and not getattr(cycle, "disconnected", False)
            return busy or bool(getattr(self, "pipeline", ()))

        def _feed(self, data: bytes) -> bytes | None:
            """uvicorn's data_received, but an Upgrade is ignored (RFC 9110 7.8: nothing is
            upgraded here). httptools stops at an Upgrade request's head, skipping its body:
            return the bytes after the head, its body first, else None."""
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                return self._upgrade_skipped(data[exc.args[0] :])
            except httptools.HttpParserError:
                self.send_400_response("Invalid HTTP request received.")
            return None

        def _upgrade_skipped(self, rest: bytes) -> bytes:
            self.parser = _parser(self)
            if self.cycle is None or self.cycle.scope is not self.scope:  # uvicorn upgraded it
                self._refuse(InvalidRequestError("This server does not switch protocols."))
                return b""
            length = b"0"
            for name, value in self.headers:
                if name == b"content-length":
                    length = value
                elif name == b"transfer-encoding":
                    length = b"chunked"
            declared = content_length(length)
            if declared is not None and declared <= MAX_BODY:
                if declared:  # its app is not running yet: it waits for the body
                    self.cycle.more_body = True
                    self._skipped = declared
                return rest
            self._abandon_current()
            if declared is not None:
                self._refuse(body_too_large())
            else:
                self._refuse(InvalidRequestError("A request with Upgrade must not be chunked."))
            return b""

        def _take_skipped(self, data: bytes) -> bytes:
            """Give the current request the body httptools skipped; return what follows."""
            if self._skipped is None or not data:
                return data
            part, data = data[: self._skipped], data[self._skipped :]
            self._skipped -= len(part)
            cycle = self.cycle
            cycle.body += part
            if not self._skipped:
                self._skipped = None
                cycle.more_body = False
            cycle.message_event.set()
            return data

        def send_400_response(self, msg: str) -> None:
            # httptools could not parse the request: an OAuth 400, not uvicorn's text/plain.
            current = self._body_left is not None  # the request whose body is being read
            self._head_left = self._body_left = None
            if not current or self._abandon_current():
                self._refuse(InvalidRequestError("The request is not valid HTTP/1.1."))
            elif not self.cycle.response_complete:
                # Its answer is going out (a 413 sent before the body was read): it is the
                # last; uvicorn closes after it.
                self.cycle.keep_alive = False
                self._lingering = True
            else:
                self._linger(None)

        def _abandon_current(self) -> bool:
            """Make the app of the request being read see a disconnect, so that it stops
            waiting for a body and what it answers is dropped; False if it has answered."""
            cycle = self.cycle
            if cycle is None or cycle.scope is not self.scope:
                return True  # its head broke before it had a cycle
            if cycle.response_started:
                return False
            cycle.disconnected = True
            cycle.waiting_for_100_continue = False  # no 100 Continue after a refusal
            cycle.message_event.set()
            return True

        def _refuse_head(self) -> None:
            self._head_left = None
            self._refuse(headers_too_large())

        def _refuse(self, error: OAuthError) -> None:
            """Answer ``error`` with a lingering close, once the answers to the requests
            before it are out."""
            if self._in_flight():
                self._refusal = error
            else:
                self._linger(error)

        def _drop_body(self) -> None:
            """A request went on past BODY_LIMIT: its answer (a 413) is out or never will
            be; stop reading and close."""
            self._body_left = None
            self._linger(None)

        def _linger(self, answer: OAuthError | None) -> None:
            """Half-close and drop input for LINGER_SECONDS, so a client still sending reads
            the answer instead of a connection reset; then close."""
            self._lingering = True
            if answer is not None:
                self._write(error_answer(answer), close=True)
            if not self._in_flight() and self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)

        # --- the fast path -------------------------------------------------------------

        def on_headers_complete(self) -> None:
            self._head_left = None
            self._body_left = BODY_LIMIT
            try:
                claimed = self._fast is not None and self._claim(self._fast)
            except Exception as exc:  # uvicorn changed under us: leave everything to it
                log.warning("mockauth fast path disabled: %r", exc)
                self._fast, self._hot, claimed = None, None, False
            if not claimed:
                super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if self._hot is None:
                super().on_body(body)
            else:
                self._hot_body.append(body)

        def on_message_complete(self) -> None:
            self._body_left = None
            if self._hot is None:
                super().on_message_complete()
            else:
                self._answer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._hot == "token" and self._fast is not None:
                # As the ASGI endpoint does: a body cut short is journaled as a 400.
                self._fast.record(
                    paths.TOKEN, "POST", 400, self._hot_started, self._hot_generation, None
                )
            self._hot = None
            super().connection_lost(exc)

        def shutdown(self) -> None:
            # A graceful shutdown lets a request whose body is still arriving finish, as
            # uvicorn does for its own; the answer then closes the connection. A TLS one is
            # then dropped once delivered, not held open for a close_notify (tlsclose.py).
            if self.transport.get_extra_info("ssl_object"):
                self._drop_deadline = self.loop.time() + DEADLINE_SECONDS
            if self._hot is not None:
                self._close_after = True
            else:
                super().shutdown()
                if self._drop_deadline is not None and self.transport.is_closing():
                    drop_when_delivered(self.loop, self.transport, self._drop_deadline)

        def _claim(self, fast: FastPath) -> bool:
            """Take the request if the fast path answers it exactly as ASGI would."""
            kind = _HOT.get(self.url)
            if kind is None:
                return False
            parser = self.parser
            cycle = self.cycle
            if (
                self._close_after
                or self.transport.is_closing()
                or (cycle is not None and not cycle.response_complete)
                or self.pipeline
                or self.flow.write_paused
                or parser.get_method() != (b"POST" if kind == "token" else b"GET")
                or parser.get_http_version() != "1.1"
                or not parser.should_keep_alive()
                or parser.should_upgrade()
                or self.expect_100_continue
                or not fast.open
            ):
                return False
            size = 0
            length = b"0"
            for name, value in self.headers:
                size += len(name) + len(value)
                if name == b"content-length":
                    length = value
                elif name in (b"transfer-encoding", b"origin"):  # a page's request: CORS
                    return False
            declared = content_length(length)
            if size > MAX_HEADER_BYTES or declared is None:
                return False
            if declared > (MAX_BODY if kind == "token" else 0):
                return False
            self._hot = kind
            self._hot_started = time.monotonic()
            self._hot_generation = fast.tenant.journal.generation
            return True

        def _answer(self) -> None:
            fast = self._fast
            assert fast is not None
            kind, self._hot = self._hot, None
            fields = None
            body, self._hot_body = b"".join(self._hot_body), []
            method, path = ("POST", paths.TOKEN) if kind == "token" else ("GET", self.url.decode())
            try:
                answer, fields = fast.answer(kind or "", self.headers, body)
            except Exception as exc:  # what the app's last-resort handler does
                answer = unexpected_answer(method, path, exc)
            if self.transport.is_closing():
                return  # nobody to answer: not journaled or counted, as in uvicorn's path
            fast.record(
                path, method, answer.status, self._hot_started, self._hot_generation, fields
            )
            fast.served += 1
            self._write(answer, close=self._close_after)
            if self._close_after:
                self.transport.close()
            self.on_response_complete()

        def _write(self, answer: Answer, *, close: bool = False) -> None:
            """One whole answer in one write, after uvicorn's default headers (date)."""
            parts = [STATUS_LINE[answer.status]]
            for name, value in (*self.server_state.default_headers, *answer.headers):
                parts += (name, b": ", value, b"\r\n")
            if close:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", answer.body)
            self.transport.write(b"".join(parts))
