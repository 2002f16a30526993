"""The protocol's limits over real sockets: timeouts, the connection cap, a client that
leaves in the middle of pipelined requests, and absurd Content-Length values."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import resource
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mockauth.http.server import ServerThread
from mockauth.http.tls import tls_files
from mockauth.tokens.keys import KeyStore
from tests.e2e.test_server import (
    LINUX_PROC,
    WAIT,
    _address,
    assert_still_serving,
    parse_response,
    raw_exchange,
    read_one_response,
    server_errors_logged,
    serving,
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


# --- time limits (issue 12, item 3) ---

# The bounds under test are short; a test fails only when a connection outlives BOUND, far
# past them, so a slow machine cannot fail it (nothing here measures speed).
SHORT = 0.5
BOUND = 8.0
_JWKS = b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"


@pytest.fixture(scope="module")
def quick() -> Iterator[ServerThread]:
    """A server whose clients must be quick: head and idle timeouts of SHORT seconds."""
    with ServerThread(keys=KeyStore(), head_timeout=SHORT, idle_timeout=SHORT) as running:
        yield running


def _connect(server: ServerThread | str) -> socket.socket:
    url = server if isinstance(server, str) else server.url
    sock = socket.create_connection(_address(url), timeout=BOUND)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """What the server sends until it closes; fails if it is still open after BOUND s."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {BOUND} s: {chunks}")
    except (ConnectionResetError, ssl.SSLEOFError):  # TLS may end without close_notify
        pass
    return b"".join(chunks)


def _assert_408(raw: bytes) -> None:
    status, headers, body = parse_response(raw)
    assert status == 408, raw
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body)["error"] == "invalid_request"


def test_a_connection_that_never_sends_a_byte_is_closed(quick: ServerThread) -> None:
    with _connect(quick) as sock:
        assert _until_closed(sock) == b""


@pytest.mark.parametrize(
    "sent",
    [
        b"\r\n",
        b"GET /.well-kn",
        b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le",
    ],
    ids=["blank-line", "mid-request-line", "mid-headers", "mid-header-name"],
)
def test_a_head_that_stops_coming_gets_a_408(quick: ServerThread, sent: bytes) -> None:
    with server_errors_logged() as errors, _connect(quick) as sock:
        sock.sendall(sent)
        _assert_408(_until_closed(sock))
    assert errors == []


def test_a_head_that_trickles_in_gets_a_408(quick: ServerThread) -> None:
    """Never silent for long, so only the head's own bound ends it."""
    head = b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    deadline = time.monotonic() + BOUND
    with _connect(quick) as sock:
        for byte in head:
            assert time.monotonic() < deadline, f"the head was still read after {BOUND} s"
            sock.sendall(bytes([byte]))
            if select.select([sock], [], [], SHORT / 5)[0]:
                break  # the server answered
        _assert_408(_until_closed(sock))


@pytest.mark.parametrize(
    "target", [b"/oauth2/token", b"/oauth2/introspect"], ids=["fast-path", "asgi"]
)
def test_a_body_that_stops_coming_gets_a_408(quick: ServerThread, target: bytes) -> None:
    head = b"POST " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _FORM
    with server_errors_logged() as errors, _connect(quick) as sock:
        sock.sendall(head + b"Content-Length: 100\r\n\r\ngrant_type=")
        _assert_408(_until_closed(sock))
    assert errors == []


def test_an_idle_connection_is_closed_after_an_answer(quick: ServerThread) -> None:
    with _connect(quick) as sock:
        sock.sendall(_JWKS)
        assert parse_response(_until_closed(sock))[0] == 200


def test_a_client_quick_enough_keeps_its_connection(quick: ServerThread) -> None:
    """Requests SHORT/3 apart, each sent in pieces, on one connection: never cut off."""
    with _connect(quick) as sock:
        for _ in range(6):
            sock.sendall(_JWKS[:10])
            time.sleep(SHORT / 3)
            sock.sendall(_JWKS[10:])
            assert read_one_response(sock)[0] == 200
            time.sleep(SHORT / 3)


def test_time_an_earlier_answer_takes_is_not_the_next_heads(quick: ServerThread) -> None:
    """A slow answer (a latency fault) with the next head half sent behind it: that head's
    clock starts when the answer is out, not when its first bytes came."""
    quick.tenant.faults.add({"endpoint": "userinfo", "effect": "latency", "delay": 3 * SHORT})
    try:
        with _connect(quick) as sock:
            slow = b"GET /oauth2/v2/user_profile HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            sock.sendall(slow + _JWKS[:10])
            assert read_one_response(sock)[0] == 401
            sock.sendall(_JWKS[10:])
            assert read_one_response(sock)[0] == 200
    finally:
        quick.tenant.faults.clear()


def test_a_client_that_reads_no_answers_is_dropped(quick: ServerThread) -> None:
    """Pipelined requests whose answers are never read fill the buffers: once writing has
    waited SHORT s, the connection goes."""
    # A query string: the ASGI app answers, one request after another (no keep-alive timer
    # is armed between them).
    discovery = b"GET /.well-known/openid-configuration?unread HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(quick) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with contextlib.suppress(OSError):
            for _ in range(200):
                sock.sendall(discovery * 100)
        deadline = time.monotonic() + BOUND
        while _open(quick):
            assert time.monotonic() < deadline, "the connection is still open"
            time.sleep(0.05)


def _open(server: ServerThread) -> int:
    return len(server._server.server_state.connections)


def test_tls_a_client_that_never_says_hello_is_dropped(tmp_path: Path) -> None:
    """The handshake comes before the protocol: the loop bounds it (by head_timeout)."""
    with (
        ServerThread(keys_dir=tmp_path, tls=True, head_timeout=SHORT) as server,
        _connect(server) as sock,
    ):
        assert _until_closed(sock) == b""


def test_tls_a_silent_or_slow_client_is_closed_after_its_handshake(tmp_path: Path) -> None:
    with ServerThread(keys_dir=tmp_path, tls=True, head_timeout=SHORT, idle_timeout=SHORT) as s:
        assert s.ca_file is not None
        context = ssl.create_default_context(cafile=s.ca_file)
        host = urlsplit(s.url).hostname
        with context.wrap_socket(_connect(s), server_hostname=host) as silent:
            assert _until_closed(silent) == b""
        with context.wrap_socket(_connect(s), server_hostname=host) as slow:
            slow.sendall(_JWKS[:10])
            _assert_408(_until_closed(slow))


# --- the connection cap ---


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _server_warnings() -> Iterator[list[str]]:
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def _wait_until(what: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def test_past_the_cap_a_connection_gets_503_and_the_log_says_so() -> None:
    with (
        ServerThread(keys=KeyStore(), max_connections=3, idle_timeout=60) as server,
        _server_warnings() as warnings,
    ):
        held = [_connect(server) for _ in range(3)]
        _wait_until("3 connections open", lambda: _open(server) == 3)
        with _connect(server) as refused:
            status, headers, body = parse_response(_until_closed(refused))
        assert status == 503, body
        assert headers["retry-after"] == "1"
        assert headers["connection"] == "close"
        assert json.loads(body)["error"] == "temporarily_unavailable"
        assert [w for w in warnings if "cap" in w] == [
            f"mockauth: process [{os.getpid()}] holds 3 open connections, its cap "
            "(--max-connections 3): new connections get 503 until some close"
        ]
        held.pop().close()
        _wait_until("a connection closed", lambda: _open(server) == 2)
        with _connect(server) as admitted:
            admitted.sendall(_JWKS)
            assert read_one_response(admitted)[0] == 200
        assert warnings[-1] == (
            f"mockauth: process [{os.getpid()}] accepts connections again; it refused 1 "
            "while at its cap of 3 open connections"
        )
        for sock in held:
            sock.close()


@LINUX_PROC
def test_with_256_descriptors_400_silent_sockets_stop_no_client_for_long(tmp_path: Path) -> None:
    """Before the timeouts, these 400 held every descriptor for good and each new client
    got a reset; now the silent ones past the cap are refused at once, the others closed
    after the idle timeout, and new clients are served again."""

    def at_most_256_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    args = ("--port", "0", "--idle-timeout", "1")
    with serving(*args, cwd=tmp_path, preexec_fn=at_most_256_files) as proc:
        url = proc.url()
        silent = [socket.create_connection(_address(url), timeout=BOUND) for _ in range(400)]
        try:
            deadline = time.monotonic() + BOUND
            while True:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    assert_still_serving(url)
                    break
                assert time.monotonic() < deadline, "no new client was served"
                time.sleep(0.1)
        finally:
            for sock in silent:
                sock.close()
        assert proc.stop() == 0
    cap = "its cap (--max-connections 128): new connections get 503 until some close"
    assert any(cap in line for line in proc.stderr), proc.stderr


@LINUX_PROC
def test_workers_take_the_limits_of_serve(tmp_path: Path) -> None:
    """Each worker process has the cap (--max-connections 2 each: of 8 silent connections
    at least 4 are refused) and, over TLS, ends handshakes at --head-timeout (not at the
    loop's 60 s)."""
    keys = tmp_path / "keys"
    args = ("--port", "0", "--workers", "2", "--tls", "--head-timeout", str(SHORT))
    args += ("--keys-dir", str(keys))
    with serving(*args, cwd=tmp_path, env={"MOCKAUTH_MAX_CONNECTIONS": "2"}) as proc:
        url = proc.url()
        no_hello = socket.create_connection(_address(url), timeout=BOUND)
        with no_hello:
            assert _until_closed(no_hello) == b""
        context = ssl.create_default_context(cafile=tls_files(keys).ca_cert)
        refused = 0
        with contextlib.ExitStack() as held:
            for _ in range(8):
                sock = held.enter_context(
                    context.wrap_socket(_connect(url), server_hostname="127.0.0.1")
                )
                sock.settimeout(SHORT)  # (readable at once: TLS 1.3 session tickets)
                try:
                    first = sock.recv(65536)
                except TimeoutError:
                    continue  # admitted: silent until its idle timeout
                refused += 1
                sock.settimeout(BOUND)
                assert parse_response(first + _until_closed(sock))[0] == 503
        assert refused >= 4
        assert proc.stop() == 0
