"""The protocol's limits over real sockets: timeouts, the connection cap, a client that
leaves in the middle of pipelined requests, and absurd Content-Length values."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from mockauth.http.server import ServerThread
from mockauth.tokens.keys import KeyStore
from tests.e2e.test_server import (
    WAIT,
    _address,
    assert_still_serving,
    parse_response,
    raw_exchange,
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


# --- a Content-Length of thousands of digits (issue 12, item 1) ---

_LONG_LENGTHS = {
    "zeros-then-1": b"0" * 5000 + b"1",  # the issue's: `printf '%05000d1' 0`
    "1-then-zeros": b"1" + b"0" * 4999,
    "nines": b"9" * 5000,
}


def _long_length_requests(length: bytes) -> dict[str, bytes]:
    form = b"Content-Type: application/x-www-form-urlencoded\r\n"
    return {
        "token": b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n" + form,
        "introspect": b"POST /oauth2/introspect HTTP/1.1\r\nHost: x\r\n" + form,
        "token-upgrade": b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
        b"Upgrade: h2c\r\n" + form,
    }


@pytest.fixture(params=[True, False], ids=["fast-path", "asgi"])
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the server built in the test answers hot requests in the protocol."""
    if not request.param:
        monkeypatch.setattr("mockauth.http.fast._FAST_OK", False)
    return bool(request.param)


@pytest.fixture
def any_path_server(fast_path: bool) -> Iterator[ServerThread]:
    with ServerThread(keys=KeyStore()) as running:
        yield running


@pytest.mark.parametrize("length", list(_LONG_LENGTHS.values()), ids=list(_LONG_LENGTHS))
def test_a_content_length_of_thousands_of_digits_is_a_4xx_or_a_close(
    any_path_server: ServerThread, length: bytes
) -> None:
    """int() of more than 4,300 digits raises: this was a 500 with a traceback, and the fast
    path then disabled itself."""
    server = any_path_server
    with server_errors_logged() as errors:
        for name, head in _long_length_requests(length).items():
            raw = raw_exchange(server.url, head + b"Content-Length: " + length + b"\r\n\r\nx")
            if not raw:
                continue  # a clean close is an answer too
            status, headers, body = parse_response(raw)
            assert status in (400, 413), (name, status, body)
            assert headers["content-type"] == "application/json", name
            assert set(json.loads(body)) == {"error", "error_description"}, name
        assert_still_serving(server.url)
    assert [r.getMessage() for r in errors] == []


def test_each_path_answers_a_long_content_length_it_can_read(
    any_path_server: ServerThread, fast_path: bool
) -> None:
    """Leading zeros make a small length: the fast path answers such a token request itself
    (so the test above covers both paths), the ASGI app when the fast path is off."""
    server = any_path_server
    length = _LONG_LENGTHS["zeros-then-1"]
    head = _long_length_requests(length)["token"]
    raw = raw_exchange(server.url, head + b"Content-Length: " + length + b"\r\n\r\nx")
    status, _, body = parse_response(raw)
    assert status == 400 and json.loads(body)["error"] == "invalid_request", body
    assert server.app.fast_path.served == (1 if fast_path else 0)
