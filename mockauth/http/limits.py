"""What a request may take (``Limits``: bytes, time, connections), and the protocol that
holds it to its bytes.

``LimitedProtocol`` is uvicorn's httptools protocol with bounded request heads and bodies
(timeouts.py adds the time limits and the connection cap on top).
httptools keeps a header (or a chunk trailer) until it ends, so one endless header would
fill memory before the app's 431 could answer. Past HEAD_LIMIT bytes of head the protocol
answers 431 itself, past BODY_LIMIT after the head it stops reading, and a request
httptools cannot parse gets an OAuth 400 (uvicorn's is text/plain); each time it drops
further input and closes. Upgrade headers are ignored, as RFC 9110 allows: httptools stops
at such a request's head, so the protocol hands it the body httptools skipped and parses
what follows afresh (Java's HttpClient asks for h2c this way). fast.py builds the hot path
on it; ``HeaderLimit`` answers oversized headers with an OAuth 431 on the ASGI side.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mockauth.errors import HeadersTooLargeError, InvalidRequestError, OAuthError
from mockauth.http.answers import Answer, error_answer
from mockauth.http.connections import ConnectionCap, default_max_connections
from mockauth.http.tlsclose import DEADLINE_SECONDS, drop_when_delivered
from mockauth.oauth.params import MAX_BODY, body_too_large, content_length

# httptools buffers headers without any bound; oversize ones get an OAuth 431.
MAX_HEADER_BYTES = 32 * 1024
# What a request's head may take (the fields' cap plus the request line), counted from the
# read after the one it began in: a head is refused past twice this at most.
HEAD_LIMIT = MAX_HEADER_BYTES + 16 * 1024
# Bytes a request may send after its head. Every endpoint caps bodies at MAX_BODY and
# answers 413 past it; this bounds what httptools buffers after that (chunk trailers).
BODY_LIMIT = 16 * MAX_BODY
# After refusing a request mid-head, input is read and dropped this long before closing, so
# the client (still sending) reads the 431 instead of a connection reset.
LINGER_SECONDS = 2.0
HEAD_TIMEOUT = 10.0
IDLE_TIMEOUT = 5.0
MAX_TIMEOUT = 86400.0


@dataclass(frozen=True, kw_only=True)
class Limits:
    """How long a client may take, and how many connections one server process holds."""

    # Seconds from a request's first byte to the end of its head (and for a TLS handshake).
    head_timeout: float = HEAD_TIMEOUT
    # Seconds a connection may stay silent while the server waits for the client.
    idle_timeout: float = IDLE_TIMEOUT
    # Open connections per server process; more are answered 503 and closed.
    max_connections: int = field(default_factory=default_max_connections)

    def __post_init__(self) -> None:
        for name in ("head_timeout", "idle_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number of seconds, not {value!r}")
            if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
                raise ValueError(
                    f"{name} must be seconds > 0 and <= {MAX_TIMEOUT:g}, not {value!r}"
                )
        cap = self.max_connections
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"max_connections must be an int >= 1, not {cap!r}")


def headers_too_large() -> OAuthError:
    return HeadersTooLargeError(f"The request headers must total at most {MAX_HEADER_BYTES} bytes.")


class HeaderLimit:
    """Wrap an ASGI app so requests whose headers exceed MAX_HEADER_BYTES get a 431.

    ``fast_path`` is the wrapped app's; ``limits`` and ``connection_cap`` are the server's,
    for the protocol (fast.py, timeouts.py) to find.
    """

    def __init__(self, app: ASGIApp, limits: Limits | None = None) -> None:
        self.app = app
        self.fast_path = getattr(app, "fast_path", None)
        self.limits = limits or Limits()
        self.connection_cap = ConnectionCap(self.limits.max_connections)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", ())
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            await error_answer(headers_too_large())(scope, receive, send)
            return
        await self.app(scope, receive, send)


try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
except ImportError:  # uvicorn without httptools: h11 only, which bounds heads itself
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def _parser(protocol: Any) -> Any:
    """A request parser as uvicorn makes one."""
    parser = httptools.HttpRequestParser(protocol)
    with contextlib.suppress(AttributeError):  # httptools < 0.6.3
        parser.set_dangerous_leniencies(lenient_data_after_close=True)
    return parser


# What the limits override or call; every uvicorn with httptools has them.
HOOKS = (
    "data_received",
    "send_400_response",
    "shutdown",
    "_unset_keepalive_if_required",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
)


if HttpToolsProtocol is not None:

    class LimitedProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with bounded request heads and bodies."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # httptools keeps a header (or a chunk trailer) until it ends, so without these
            # one endless header fills memory. None: not in that part of a request.
            self._messages = 0
            self._head_left: int | None = None
            self._body_left: int | None = None
            self._refusal: OAuthError | None = None  # to send once earlier answers are out
            self._skipped: int | None = None  # body bytes httptools skipped (an Upgrade)
            self._lingering = False
            self._drop_deadline: float | None = None  # a TLS connection the server is ending
            self._running: Any = None  # the request cycle whose app runs

        # --- what a subclass may take over ---------------------------------------------

        def _answers_itself(self) -> bool:
            """Called once a request's head is read: True if the subclass answers it
            itself (uvicorn then never sees it), False to let uvicorn run it as ASGI."""
            return False

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

        def on_headers_complete(self) -> None:
            self._head_left = None
            self._body_left = BODY_LIMIT
            if not self._answers_itself():
                super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._body_left = None
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._drop_deadline is not None and self.transport.is_closing():
                drop_when_delivered(self.loop, self.transport, self._drop_deadline)
            if self._refusal is not None and not self._in_flight():
                error, self._refusal = self._refusal, None
                self._linger(error)

        def shutdown(self) -> None:
            # A TLS connection is dropped once its answers are delivered, not held open for
            # a close_notify (tlsclose.py).
            self._note_shutdown()
            super().shutdown()
            if self._drop_deadline is not None and self.transport.is_closing():
                drop_when_delivered(self.loop, self.transport, self._drop_deadline)

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            self._running = cycle
            super()._start_asgi_task(cycle, app)

        def connection_lost(self, exc: Exception | None) -> None:
            # uvicorn tells only the last request read that the client is gone; with
            # requests pipelined behind it, the app of an earlier one then writes to a closed
            # transport (an ERROR with a traceback). Tell the one running as well.
            running, self._running = self._running, None
            super().connection_lost(exc)
            if running is not None and not running.response_complete:
                running.disconnected = True
                running.message_event.set()

        def _note_shutdown(self) -> None:
            if self.transport.get_extra_info("ssl_object"):
                self._drop_deadline = self.loop.time() + DEADLINE_SECONDS

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
            self._body_left = None  # httptools is done with it; what it skipped is counted
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
            error = InvalidRequestError("The request is not valid HTTP/1.1.")
            if current:
                self._end_current(error)
            else:
                self._refuse(error)

        def _end_current(self, error: OAuthError) -> None:
            """End the request whose body is being read, and the connection after it:
            answered ``error`` unless its app has answered already."""
            if self._abandon_current():
                self._refuse(error)
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
            if self.transport.is_closing():
                return  # nobody to answer
            if answer is not None:
                self._write(error_answer(answer), close=True)
            if not self._in_flight() and self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)

        def _write(self, answer: Answer, *, close: bool = False) -> None:
            """One whole answer in one write, after uvicorn's default headers (date)."""
            parts = [STATUS_LINE[answer.status]]
            for name, value in (*self.server_state.default_headers, *answer.headers):
                parts += (name, b": ", value, b"\r\n")
            if close:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", answer.body)
            self.transport.write(b"".join(parts))
