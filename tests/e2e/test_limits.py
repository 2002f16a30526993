"""The protocol's limits over real sockets: timeouts, the connection cap, a client that
leaves in the middle of pipelined requests, and absurd Content-Length values."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from mockauth.http.server import ServerThread
from mockauth.tokens.keys import KeyStore
from tests.e2e.test_server import (
    WAIT,
    _address,
    assert_still_serving,
    server_errors_logged,
)

# One request the fast path answers at once, one the ASGI app answers (401: no bearer
# token), one queued behind it. Writing the first answer to a connection the client reset
# ends the transport before the app answers the second.
_PIPELINED = (
    b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    b"GET /oauth2/v2/user_profile HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    b"GET /_mockauth/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
)
_RESET = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close sends a reset


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(keys=KeyStore()) as running:
        yield running


# --- a client that leaves before its pipelined answers ---


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_a_client_gone_before_its_pipelined_answers_logs_no_error(
    server: ServerThread, reset: bool
) -> None:
    """uvicorn marks only the last request read as disconnected, so the app answering an
    earlier one wrote to a closed transport: an ERROR with a traceback per connection."""
    with server_errors_logged() as errors:
        for _ in range(300):
            with socket.create_connection(_address(server.url), timeout=WAIT) as sock:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                sock.sendall(_PIPELINED)
        for _ in range(3):  # the server's handling of the hang-ups has time to finish
            assert_still_serving(server.url)
    assert [r.getMessage() for r in errors] == []
