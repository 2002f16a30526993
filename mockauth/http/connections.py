"""Accepting connections: how many one server process holds, and how long a TLS handshake
may take.

The cap counts the connections a process has open (uvicorn's own set of them). Past it a new
connection is answered 503 at once and closed: it costs a file descriptor for a moment, not
for as long as its client likes. uvicorn's ``limit_concurrency`` was no fit: it still
accepts and holds every connection (a silent one is never refused) and answers 503 only to
requests, so descriptors still run out, and the fast path would have to stand down for its
per-request check.

TLS: the event loop runs the handshake before the protocol sees the connection, and gives a
client that never says hello 60 s (asyncio's and uvloop's default). ``handshake_loop``
makes the loop that limits it to the head timeout, as long as a request's head may take.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger("uvicorn.error")  # uvicorn's format and --log-level
MAX_CONNECTIONS = 1000


def default_max_connections() -> int:
    """MAX_CONNECTIONS, or half this process's open-file limit where that is lower: a refusal
    takes a descriptor for a moment too, and so do the store, the keys and the log."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # no such limit here (Windows)
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // 2))


class ConnectionCap:
    """The cap of one server: says whether a new connection may stay, and says in the log
    when the cap is reached (once) and when connections are accepted again."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0  # since the cap was last reached
        self.refused_total = 0

    def admit(self, open_now: int) -> bool:
        """Whether a connection just made may stay; ``open_now`` counts it."""
        if open_now <= self.limit:
            if self.refused:
                log.warning(
                    "mockauth: process [%d] accepts connections again; it refused %d while "
                    "at its cap of %d open connections",
                    os.getpid(),
                    self.refused,
                    self.limit,
                )
                self.refused = 0
            return True
        if not self.refused:
            log.warning(
                "mockauth: process [%d] holds %d open connections, its cap "
                "(--max-connections %d): new connections get 503 until some close",
                os.getpid(),
                open_now - 1,
                self.limit,
            )
        self.refused += 1
        self.refused_total += 1
        return False


def handshake_loop(timeout: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """A loop factory (uvicorn's ``loop`` setting) whose TLS servers end a handshake not
    done in ``timeout`` seconds. It can be pickled, for worker processes."""
    return functools.partial(_new_loop, timeout)


def _new_loop(timeout: float) -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # uvicorn's choice then too
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    create_server = loop.create_server

    async def bounded(*args: Any, **kwargs: Any) -> asyncio.AbstractServer:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", timeout)
        return await create_server(*args, **kwargs)

    loop.create_server = bounded  # type: ignore[method-assign,assignment]
    return loop
