"""The hot path: JWKS GETs and token POSTs answered inside uvicorn's HTTP protocol.

Through ASGI every request costs a task, a request cycle, Starlette's stack and two socket
writes: several times the work of a JWKS answer and a third of a token's (bench/README.md).
``HttpProtocol`` subclasses the limited protocol (limits.py: uvicorn's httptools protocol
with bounded heads and bodies) and answers these requests as they complete, in one write,
with the bytes the ASGI app would send: the answers come from the same functions
(``HotAnswers``, ``error_answer``) and tests/e2e/test_fast.py holds both paths to the same
status, headers and body. Anything else goes through ASGI unchanged: fault rules live, a
request queued behind a slower one, HTTP/1.0 or ``Connection: close``, ``Expect``, chunked
bodies, query strings, oversized headers, access logging.

It leans on uvicorn internals (``cycle``, ``pipeline``, ``flow``, ``on_response_complete``)
that have been stable for years; the fast path checks them and stands down without them
(the limits stay), and a test fails if the fast path is not in use.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mockauth import paths
from mockauth.http.answers import Answer, HotAnswers, RawHeaders, unexpected_answer
from mockauth.http.limits import HOOKS, MAX_HEADER_BYTES
from mockauth.oauth.params import MAX_BODY, content_length
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.tenant import Tenant

log = logging.getLogger("mockauth")
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
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from mockauth.http.timeouts import HOOKS as TIME_HOOKS
    from mockauth.http.timeouts import TimedProtocol
except ImportError:  # uvicorn without httptools: h11 only, no fast path
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

# What the fast path also relies on, checked once here and per connection in __init__.
_FAST_HOOKS = (
    "on_body",
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
    if HttpToolsProtocol is None:
        return "auto"
    if not all(hasattr(HttpToolsProtocol, n) for n in (*HOOKS, *TIME_HOOKS)):
        return "auto"
    return HttpProtocol


if HttpToolsProtocol is not None:
    _FAST_OK = all(hasattr(HttpToolsProtocol, n) for n in _FAST_HOOKS)

    class HttpProtocol(TimedProtocol):
        """The limited protocol (limits.py, timeouts.py), answering JWKS, discovery and
        token requests itself."""

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

        def _answers_itself(self) -> bool:
            try:
                return self._fast is not None and self._claim(self._fast)
            except Exception as exc:  # uvicorn changed under us: leave everything to it
                log.warning("mockauth fast path disabled: %r", exc)
                self._fast, self._hot = None, None
                return False

        def on_body(self, body: bytes) -> None:
            if self._hot is None:
                super().on_body(body)
            else:
                self._hot_body.append(body)

        def on_message_complete(self) -> None:
            if self._hot is None:
                super().on_message_complete()
            else:
                self._body_left = None
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
            # uvicorn does for its own; the answer then closes the connection.
            if self._hot is not None:
                self._note_shutdown()
                self._close_after = True
            else:
                super().shutdown()

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
