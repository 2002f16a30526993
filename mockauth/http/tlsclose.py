"""Ending TLS connections promptly when the server stops, without losing what they were sent.

uvloop's TLS ``close()`` sends close_notify, then waits up to 30 s for the client's, which a
client that is not reading never sends: the graceful shutdown would wait with it. ``abort()``
ends at once but throws away what the kernel has not yet taken. So a connection is dropped
once all that was written has reached the client (Linux reports the socket's unsent bytes;
elsewhere that is unknown, so the deadline ends it), or at a deadline.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from typing import Any

POLL_SECONDS = 0.05
# From the start of the shutdown; uvicorn stops waiting for connections at 2 s (server.py).
DEADLINE_SECONDS = 1.5


def unsent_bytes(transport: asyncio.BaseTransport) -> int | None:
    """Bytes the kernel still holds for the peer (written, not yet acknowledged); None where
    the platform does not say."""
    sock = transport.get_extra_info("socket")
    if sock is None or not sys.platform.startswith("linux"):
        return None
    try:
        import fcntl
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    count: int = struct.unpack("i", raw)[0]
    return count


def drop_when_delivered(
    loop: asyncio.AbstractEventLoop, transport: Any, deadline: float, *, settled: bool = False
) -> None:
    """Abort ``transport`` (already closing) once nothing written to it is left unsent, seen
    twice ``POLL_SECONDS`` apart, or at ``deadline`` (``loop.time()``)."""
    delivered = not transport.get_write_buffer_size() and unsent_bytes(transport) == 0
    if (delivered and settled) or loop.time() >= deadline:
        transport.abort()
        return
    loop.call_later(POLL_SECONDS, _again, loop, transport, deadline, delivered)


def _again(loop: asyncio.AbstractEventLoop, transport: Any, deadline: float, settled: bool) -> None:
    drop_when_delivered(loop, transport, deadline, settled=settled)
