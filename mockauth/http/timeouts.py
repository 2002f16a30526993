"""Time limits and the connection cap, on top of the byte limits (limits.py).

uvicorn closes a connection only when it stays silent for its keep-alive time after an
answer: one that never sent a byte, or sent part of a request, was held forever (2,000 of
them were never closed; with 256 descriptors, 400 stopped every new client). Here a
connection may stay silent ``idle_timeout`` seconds while the server waits for its client:
before the first request (closed), between requests (closed), in the middle of a body
(408), and with answers it does not read (dropped). A request's head must be whole within
``head_timeout`` of its first byte (408). Time the server spends itself (an earlier answer
being made, reading paused behind it) does not count against the client. The TLS
handshake, before the protocol exists, is bounded by ``head_timeout`` too (connections.py).

One timer per connection, armed for the next moment a limit may pass; it looks at the
state then, so reading a request costs a clock read, not a timer.
"""

from __future__ import annotations

from typing import Any

from mockauth.errors import OAuthError, RequestTimeoutError, TemporarilyUnavailableError
from mockauth.http.connections import ConnectionCap
from mockauth.http.limits import LimitedProtocol, Limits

# What the time limits override or call besides limits.HOOKS.
HOOKS = ("pause_writing", "resume_writing", "timeout_keep_alive_handler", "connection_made")


def head_too_slow(limits: Limits) -> OAuthError:
    return RequestTimeoutError(
        f"The request head must arrive within {limits.head_timeout:g} s of its first byte."
    )


def body_too_slow(limits: Limits) -> OAuthError:
    return RequestTimeoutError(f"The request body paused for more than {limits.idle_timeout:g} s.")


def over_capacity(limit: int) -> OAuthError:
    return TemporarilyUnavailableError(
        f"The server holds its maximum of {limit} open connections; try again shortly.",
        headers={"Retry-After": "1"},
    )


class TimedProtocol(LimitedProtocol):
    """The byte-limited protocol with time limits, in a server with a connection cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = getattr(self.app, "limits", None)
        self.limits = limits if isinstance(limits, Limits) else Limits()
        self.timeout_keep_alive = self.limits.idle_timeout  # type: ignore[assignment]
        cap = getattr(self.app, "connection_cap", None)
        self._cap = cap if isinstance(cap, ConnectionCap) else None
        self._clock: Any = None  # the timer, due at _clock_at (loop.time())
        self._clock_at = 0.0
        self._head_since: float | None = None  # a request's head is being read
        self._last_read = 0.0
        self._unread_since: float | None = None  # answers wait for the client to read

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self._cap is not None and not self._cap.admit(len(self.connections)):
            self._linger(over_capacity(self._cap.limit))
            return
        # uvicorn arms its keep-alive timer only after an answer: a client that never sends
        # a byte would hold the connection forever.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_read = now = self.loop.time()
        if self._head_since is None and self._body_left is None and self._skipped is None:
            self._head_since = now  # a request begins (or blank lines before one)
            self._wake_by(now + self.limits.head_timeout)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_since is None:  # it began in a read with a request before it
            self._head_since = self._last_read
        # An answer written mid-read (fast.py) armed uvicorn's keep-alive timer; the head
        # clock governs this request.
        self._unset_keepalive_if_required()

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._wake_by(self._last_read + self.limits.idle_timeout)  # for its body
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._head_since is not None and not self.transport.is_closing():
            # The next request's head began while this answer was being made: its clock
            # starts now, and governs instead of uvicorn's keep-alive timer.
            self._unset_keepalive_if_required()
            self._head_since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        self._head_since = None
        super().send_400_response(msg)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._unread_since = self.loop.time()
        self._wake_by(self._unread_since + self.limits.idle_timeout)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._unread_since = None

    def _wake_by(self, when: float) -> None:
        """Make sure the clock looks again at ``when`` (``loop.time()``) at the latest."""
        if self._clock is not None:
            if self._clock_at <= when:
                return
            self._clock.cancel()
        self._clock_at = when
        self._clock = self.loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._clock = None
        if self.transport.is_closing() or self._lingering:
            return
        due = self._enforce(self.loop.time())
        if due is not None:
            self._wake_by(due)

    def _enforce(self, now: float) -> float | None:
        """End the connection if its client has taken too long; else return when that may
        happen next (None: nothing to watch but uvicorn's keep-alive timer, if armed)."""
        limits = self.limits
        if self._unread_since is not None:
            due = self._unread_since + limits.idle_timeout
            if now < due:
                return due
            self.transport.abort()  # a client that reads nothing gets nothing more
            return None
        if self._body_left is not None or self._skipped is not None:
            if self.flow.read_paused:  # the server stopped reading, not the client
                self._last_read = now
            due = self._last_read + limits.idle_timeout
            if now < due:
                return due
            self._body_left = self._skipped = None
            self._end_current(body_too_slow(limits))
            return None
        if self._head_since is not None:
            if self._in_flight():  # an earlier answer is being made: not the client's time
                self._head_since = now
            due = self._head_since + limits.head_timeout
            if now < due:
                return due
            self._head_since = self._head_left = None
            self._refuse(head_too_slow(limits))
        return None
