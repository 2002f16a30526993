"""The protocol's fast path (mockauth/fastpath.py) answers exactly as the ASGI app does.

Every request here goes over a real socket to a real uvicorn server; the same request sent
through the app in process (TestClient, never the fast path) is the reference. ``served``
counts fast answers, so each test also proves which path it went through.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.errors import NO_STORE
from mockauth.http.answers import json_answer
from mockauth.http.fast import FastPath, HttpProtocol, protocol_class
from mockauth.http.limits import BODY_LIMIT, HEAD_LIMIT
from mockauth.http.server import ServerThread
from mockauth.oauth.params import FORM_TYPE, MAX_BODY
from mockauth.tenant.config import default_config, parse_config

NOW = 1_700_000_000
API = "https://api.example.com"
OTHER = "https://other.example.com"
APP_ID = "0123456789abcdef0123456789abcdef"
APP_SECRET = "S3cr3t" * 8
SPA_ID = "11111111111111111111111111111111"
CONFIG = f"""
[[apis]]
audience = "{API}"
scopes = ["read:calendar", "update:event", "delete:event"]

[[apis]]
audience = "{OTHER}"
scopes = ["read:other"]

[[apps]]
name = "Backend"
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
org_code = "org_123"
claims = {{ tenant = "acme" }}
[apps.apis]
"{API}" = ["read:calendar", "update:event"]
"{OTHER}" = ["read:other"]

[[apps]]
name = "SPA"
type = "spa"
client_id = "{SPA_ID}"
[apps.apis]
"{API}" = ["read:calendar"]
"""
WAIT = 30.0
GOOD = {
    "grant_type": "client_credentials",
    "client_id": APP_ID,
    "client_secret": APP_SECRET,
    "audience": API,
    "scope": "read:calendar",
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(parse_config(CONFIG.encode(), source="fast.toml")) as running:
        running.tenant.clock.freeze(NOW)
        yield running


@pytest.fixture(scope="module")
def client(server: ServerThread) -> TestClient:
    return TestClient(server.app, raise_server_exceptions=True)


@pytest.fixture(autouse=True)
def _clean(server: ServerThread) -> None:
    server.tenant.faults.clear()
    server.tenant.journal.clear()


DEFAULT_APP = default_config().apps[0]
GOOD_DEFAULT = {
    "grant_type": "client_credentials",
    "client_id": DEFAULT_APP.client_id,
    "client_secret": DEFAULT_APP.client_secret or "",
    "audience": API,
}


def fast(server: ServerThread) -> FastPath:
    path: FastPath = server.app.fast_path  # type: ignore[attr-defined]
    return path


# --- raw HTTP over one socket ---


def request_bytes(
    method: str,
    target: str,
    body: bytes = b"",
    headers: list[tuple[str, bytes]] | None = None,
    *,
    version: str = "1.1",
    length: bool = True,
) -> bytes:
    lines = [f"{method} {target} HTTP/{version}".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + value for name, value in headers or []]
    if length and (body or method == "POST"):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def form_request(fields: dict[str, str] | None = None, **kwargs: Any) -> bytes:
    headers = [("Content-Type", FORM_TYPE.encode())]
    return request_bytes("POST", paths.TOKEN, urlencode(fields or GOOD).encode(), headers, **kwargs)


@contextlib.contextmanager
def connect(server: ServerThread) -> Iterator[socket.socket]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=WAIT) as sock:
        yield sock


class Reader:
    """Reads HTTP/1.1 responses one at a time off a socket (Content-Length framing)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def response(self, *, head: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        top, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = top.decode("latin-1").split("\r\n")
        headers = [(k.lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines)]
        length = 0 if head else int(dict(headers).get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body


def exchange(server: ServerThread, data: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    with connect(server) as sock:
        sock.sendall(data)
        return Reader(sock).response()


def without_date(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    assert [k for k, _ in headers].count("date") == 1  # uvicorn's default header, kept
    return [(k, v) for k, v in headers if k != "date"]


def comparable(body: bytes) -> Any:
    """A token answer with its access token decoded, minus the per-token jti."""
    doc = json.loads(body)
    if isinstance(doc, dict) and "access_token" in doc:
        head, claims, signature = doc["access_token"].split(".")
        pad = "=" * (-len(claims) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(claims + pad))
        assert decoded.pop("jti")
        doc["access_token"] = (json.loads(base64.urlsafe_b64decode(head + "==")), decoded)
        assert signature
    return doc


# --- it is in use ---


def test_the_server_runs_the_fast_path_protocol(server: ServerThread) -> None:
    assert protocol_class() is HttpProtocol
    assert server._server.config.http_protocol_class is HttpProtocol
    before = fast(server).served
    for target in ("/.well-known/jwks", "/.well-known/jwks.json"):
        status, _, body = exchange(server, request_bytes("GET", target))
        assert status == 200 and json.loads(body)["keys"]
    status, _, body = exchange(server, form_request())
    assert status == 200, body
    assert fast(server).served == before + 3


def test_json_headers_are_the_ones_starlette_sends() -> None:
    from starlette.responses import Response

    for headers in (NO_STORE, {**NO_STORE, "WWW-Authenticate": 'Basic realm="x"'}, {}):
        body = b'{"a": 1}'
        response = Response(body, media_type="application/json", headers=headers)
        assert json_answer(200, body, headers).headers == response.raw_headers


# --- the same answers as the ASGI app ---

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.encode
)
values = st.one_of(
    st.sampled_from(
        [APP_ID, APP_SECRET, SPA_ID, API, OTHER, "client_credentials", "read:calendar", ""]
    ),
    st.sampled_from(["read:calendar update:event", f"{API} {OTHER}", "read:other delete:event"]),
    st.text(max_size=12),
)
names = st.sampled_from(["grant_type", "client_id", "client_secret", "audience", "scope", "extra"])
forms = st.lists(st.tuples(names, values), max_size=8)
authorizations = st.one_of(
    st.none(),
    st.sampled_from([(APP_ID, APP_SECRET), (APP_ID, "wrong"), (SPA_ID, ""), ("x", "y")]).map(
        lambda p: b"Basic " + base64.b64encode(f"{p[0]}:{p[1]}".encode())
    ),
    header_text,
)
content_types = st.sampled_from(
    [FORM_TYPE, FORM_TYPE + "; charset=utf-8", "application/json", "text/plain", ""]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    form=forms,
    authorization=authorizations,
    content_type=content_types,
    raw=st.one_of(st.none(), st.binary(max_size=40)),
)
@example(form=list(GOOD.items()), authorization=None, content_type=FORM_TYPE, raw=None)
@example(
    form=[("grant_type", "client_credentials"), ("audience", f"{API} {OTHER}")],
    authorization=b"Basic " + base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()),
    content_type=FORM_TYPE,
    raw=None,
)
@example(
    form=[("grant_type", "client_credentials"), ("audience", API)],
    authorization=b"Basic " + base64.b64encode(f"{APP_ID}:wrong".encode()),
    content_type=FORM_TYPE,
    raw=None,
)
def test_token_answers_match_the_asgi_app(
    server: ServerThread,
    client: TestClient,
    form: list[tuple[str, str]],
    authorization: bytes | None,
    content_type: str,
    raw: bytes | None,
) -> None:
    body = urlencode(form).encode() if raw is None else raw
    headers: list[tuple[str, bytes]] = []
    if content_type:
        headers.append(("Content-Type", content_type.encode()))
    if authorization is not None:
        headers.append(("Authorization", authorization))
    before = fast(server).served
    status, got_headers, got_body = exchange(
        server, request_bytes("POST", paths.TOKEN, body, headers)
    )
    assert fast(server).served == before + 1
    reference = client.post(paths.TOKEN, content=body, headers={k.encode(): v for k, v in headers})
    assert status == reference.status_code
    assert without_date(got_headers) == [(k.decode(), v.decode()) for k, v in reference.headers.raw]
    assert comparable(got_body) == comparable(reference.content)


def test_jwks_answers_match_the_asgi_app(server: ServerThread, client: TestClient) -> None:
    for target in ("/.well-known/jwks", "/.well-known/jwks.json"):
        status, headers, body = exchange(server, request_bytes("GET", target))
        reference = client.get(target)
        assert (status, body) == (reference.status_code, reference.content)
        assert without_date(headers) == [(k.decode(), v.decode()) for k, v in reference.headers.raw]


def test_a_rotated_key_is_served_and_signs_at_once(server: ServerThread) -> None:
    old = server.tenant.keys.active_kid
    new = server.tenant.rotate_keys()
    try:
        _, _, body = exchange(server, request_bytes("GET", paths.JWKS))
        assert [k["kid"] for k in json.loads(body)["keys"]] == [new, old]
        _, _, body = exchange(server, form_request())
        assert comparable(body)["access_token"][0]["kid"] == new
    finally:
        server.tenant.keys.retire(old)


def test_an_unexpected_error_is_an_oauth_500_and_is_logged(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.tenant.tokens, "sign", broken)
    before = fast(server).served
    with caplog.at_level("ERROR", logger="mockauth"):
        status, headers, body = exchange(server, form_request())
    assert fast(server).served == before + 1
    assert status == 500
    assert json.loads(body)["error"] == "server_error"
    assert "boom" not in body.decode()
    assert dict(headers)["cache-control"] == "no-store"
    assert any("boom" in r.getMessage() for r in caplog.records)


# --- the journal ---


def test_fast_answers_are_journaled(server: ServerThread) -> None:
    basic = b"Basic " + base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode())
    fields = {"grant_type": "client_credentials", "audience": f"{API} {OTHER}"}
    headers = [("Content-Type", FORM_TYPE.encode()), ("Authorization", basic)]
    exchange(server, request_bytes("POST", paths.TOKEN, urlencode(fields).encode(), headers))
    exchange(server, form_request({**GOOD, "client_secret": "wrong"}))
    exchange(server, request_bytes("GET", paths.JWKS_JSON))
    entries = server.tenant.journal.entries()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", paths.TOKEN, 200),
        ("POST", paths.TOKEN, 401),
        ("GET", paths.JWKS_JSON, 200),
    ]
    assert entries[0].client_id == APP_ID  # from HTTP Basic
    assert entries[0].audiences == (API, OTHER)
    assert entries[0].grant_type == "client_credentials"
    assert entries[1].client_id == APP_ID
    assert all(e.duration_ms >= 0 for e in entries)


# --- what goes through ASGI instead, still answered right ---


def test_a_live_fault_rule_sends_every_request_through_the_middleware(
    server: ServerThread,
) -> None:
    server.tenant.faults.add({"endpoint": "jwks", "effect": "error", "status": 503})
    before = fast(server).served
    assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 503
    assert exchange(server, form_request())[0] == 200  # not matched: the real answer
    assert fast(server).served == before
    server.tenant.faults.clear()
    assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 200
    assert fast(server).served == before + 1


SLOW_PATH = {
    "connection close": form_request().replace(b"Host:", b"Connection: close\r\nHost:"),
    "HTTP/1.0": form_request(version="1.0"),
    "query string": form_request().replace(paths.TOKEN.encode(), paths.TOKEN.encode() + b"?x=1", 1),
    "expect 100-continue": form_request().replace(b"Host:", b"Expect: 100-continue\r\nHost:"),
    "chunked body": request_bytes(
        "POST",
        paths.TOKEN,
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(urlencode(GOOD)), urlencode(GOOD).encode()),
        [("Content-Type", FORM_TYPE.encode()), ("Transfer-Encoding", b"chunked")],
        length=False,
    ),
    "HEAD jwks": request_bytes("HEAD", paths.JWKS),
    "GET token": request_bytes("GET", paths.TOKEN),
    "jwks with a body": request_bytes("GET", paths.JWKS, b"x"),
}


@pytest.mark.parametrize("data", SLOW_PATH.values(), ids=SLOW_PATH.keys())
def test_requests_the_fast_path_leaves_to_asgi(server: ServerThread, data: bytes) -> None:
    before = fast(server).served
    with connect(server) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        if b"Expect: 100-continue" in data:
            assert reader.response()[0] == 100
        status, _, body = reader.response(head=data.startswith(b"HEAD"))
    assert fast(server).served == before
    if data.startswith(b"POST"):
        assert status == 200, body
        assert json.loads(body)["token_type"] == "bearer"
    elif data.startswith(b"HEAD"):
        assert status == 200 and body == b""
    elif b"/oauth2/token" in data:
        assert status == 405
    else:
        assert status == 200


def test_an_oversize_body_goes_to_asgi_and_gets_413(server: ServerThread) -> None:
    before = fast(server).served
    head = form_request().split(b"\r\n\r\n")[0].replace(b"Content-Length: ", b"X-Old: ")
    with connect(server) as sock:
        sock.sendall(head + b"\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        status, _, body = Reader(sock).response()
    assert status == 413 and json.loads(body)["error"] == "invalid_request"
    assert fast(server).served == before


@pytest.mark.parametrize("faults", [False, True], ids=["no-faults", "a-rule-reading-the-form"])
def test_an_oversize_body_announced_with_expect_is_refused_unread(
    server: ServerThread, faults: bool
) -> None:
    if faults:  # the middleware reads the form to match the client, but not a 10 MB one
        server.tenant.faults.add({"client_id": "c" * 32, "effect": "error", "status": 503})
    head = form_request().split(b"\r\n\r\n")[0].replace(b"Content-Length: ", b"X-Old: ")
    with connect(server) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
        status, _, body = Reader(sock).response()
    assert status == 413, body  # not 100 Continue: the client need not send the body
    assert json.loads(body)["error"] == "invalid_request"


# --- one connection, many requests ---


def test_pipelined_requests_are_answered_in_order(server: ServerThread) -> None:
    """Fast ones are answered at once; one queued behind an ASGI request waits its turn."""
    requests = [
        form_request(),
        request_bytes("GET", paths.JWKS),
        request_bytes("GET", paths.DISCOVERY),  # ASGI
        form_request({**GOOD, "scope": "update:event"}),  # behind it: ASGI too
        request_bytes("GET", paths.JWKS_JSON),
        form_request({**GOOD, "client_secret": "wrong"}),
    ]
    with connect(server) as sock:
        sock.sendall(b"".join(requests))
        reader = Reader(sock)
        answers = [reader.response() for _ in requests]
    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 200, 200, 401]
    assert "scope" not in json.loads(answers[1][2])
    assert json.loads(answers[2][2])["jwks_uri"].endswith(paths.JWKS)
    assert json.loads(answers[3][2])["scope"] == "update:event"
    assert json.loads(answers[4][2])["keys"]


def test_a_body_split_across_packets_is_answered(server: ServerThread) -> None:
    data = form_request()
    before = fast(server).served
    with connect(server) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head, body = data.split(b"\r\n\r\n", 1)
        sock.sendall(head + b"\r\n\r\n")
        time.sleep(0.05)
        for i in range(0, len(body), 16):
            sock.sendall(body[i : i + 16])
            time.sleep(0.005)
        status, _, answer = Reader(sock).response()
    assert status == 200, answer
    assert fast(server).served == before + 1


def test_keep_alive_timer_is_armed_after_a_fast_answer(server: ServerThread) -> None:
    """Else an idle client would hold its connection (and a file descriptor) forever."""
    with connect(server) as sock:
        sock.sendall(request_bytes("GET", paths.JWKS))
        Reader(sock).response()
        local = sock.getsockname()
        deadline = time.monotonic() + WAIT
        while True:
            protocols = [
                p
                for p in server._server.server_state.connections
                if isinstance(p, HttpProtocol) and p.client == local
            ]
            if protocols and protocols[0].timeout_keep_alive_task is not None:
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
        sock.sendall(form_request())
        assert Reader(sock).response()[0] == 200  # the same connection keeps serving


def test_graceful_shutdown_lets_a_request_in_flight_finish() -> None:
    with ServerThread(parse_config(CONFIG.encode(), source="fast.toml")) as server:
        head, body = form_request().split(b"\r\n\r\n", 1)
        with connect(server) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(head + b"\r\n\r\n" + body[:10])
            deadline = time.monotonic() + WAIT
            while not any(  # the server has the request's head: its body is in flight
                isinstance(p, HttpProtocol) and p._hot == "token"
                for p in server._server.server_state.connections
            ):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            stopping = threading.Thread(target=server.stop)
            stopping.start()
            while not server._server.should_exit:
                time.sleep(0.01)
            time.sleep(0.1)  # uvicorn asks each connection to shut down
            sock.sendall(body[10:])
            reader = Reader(sock)
            status, headers, answer = reader.response()
            assert status == 200, answer
            assert ("connection", "close") in headers
            assert sock.recv(1) == b""  # then the connection closes
            stopping.join(WAIT)
            assert not stopping.is_alive()


# --- a head that never ends ---


def test_an_endless_header_is_refused_while_it_is_still_arriving(server: ServerThread) -> None:
    """httptools holds a header until it ends: the protocol stops it at HEAD_LIMIT bytes,
    answers 431 and drops the rest, so memory stays bounded whatever the client sends."""
    chunk = b"a" * 65536
    sent = 0
    with connect(server) as sock:
        sock.sendall(b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sock.setblocking(False)
        while not select.select([sock], [], [], 0)[0]:
            # Loopback socket buffers hold a few MiB the server has not read yet; without
            # the limit no answer ever comes.
            assert sent < 64 * 1024 * 1024, "no answer after 64 MiB of one header"
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(chunk)
        sock.setblocking(True)
        status, headers, body = Reader(sock).response()
    assert status == 431
    assert ("connection", "close") in headers
    assert json.loads(body)["error"] == "invalid_request"
    status, _, _ = exchange(server, form_request())  # the server keeps serving
    assert status == 200


# --- failures and odd timings ---


def test_a_key_set_damaged_under_the_server_keeps_both_paths_serving(tmp_path: Path) -> None:
    with ServerThread(keys_dir=tmp_path) as server:
        kid = server.tenant.keys.active_kid
        (tmp_path / "keyset.json").write_text("{not json")
        reference = TestClient(server.app)
        for data in (request_bytes("GET", paths.JWKS), form_request(GOOD_DEFAULT)):
            status, _, body = exchange(server, data)
            assert status == 200, body
        assert [k["kid"] for k in reference.get(paths.JWKS).json()["keys"]] == [kid]
        assert fast(server).served == 2


def test_a_failing_key_store_is_an_oauth_500_on_both_paths(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> bool:
        raise OSError("disk gone")

    monkeypatch.setattr(server.tenant.keys, "refresh", broken)
    reference = TestClient(server.app, raise_server_exceptions=False)
    before = fast(server).served
    with caplog.at_level("ERROR"):
        for data in (request_bytes("GET", paths.JWKS), form_request()):
            status, headers, body = exchange(server, data)
            assert status == 500, body
            assert json.loads(body)["error"] == "server_error"
            assert dict(headers)["content-type"] == "application/json"
        answer = reference.get(paths.JWKS)
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert fast(server).served == before + 2
    assert not [r for r in caplog.records if r.exc_info]  # logged, without a traceback
    assert any("disk gone" in r.getMessage() for r in caplog.records)


def test_a_body_cut_short_is_journaled_as_on_the_asgi_path(server: ServerThread) -> None:
    data = form_request()
    with connect(server) as sock:
        sock.sendall(data[:-5])
        deadline = time.monotonic() + WAIT
        while not any(_hot(server)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    while any(_hot(server)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    entries = server.tenant.journal.entries()
    assert [(e.method, e.path, e.status) for e in entries] == [("POST", paths.TOKEN, 400)]


def test_a_request_after_a_fast_answer_in_one_packet_is_not_timed_out(
    server: ServerThread,
) -> None:
    """The fast answer arms the keep-alive timer; the request behind it must disarm it."""
    data = form_request()
    with connect(server) as sock:
        sock.sendall(request_bytes("GET", paths.JWKS) + data[:-5])
        reader = Reader(sock)
        assert reader.response()[0] == 200
        deadline = time.monotonic() + WAIT
        while not any(_hot(server)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (protocol,) = [p for p in _protocols(server) if p._hot == "token"]
        assert protocol.timeout_keep_alive_task is None
        sock.sendall(data[-5:])
        assert reader.response()[0] == 200


def _protocols(server: ServerThread) -> list[HttpProtocol]:
    return [p for p in server._server.server_state.connections if isinstance(p, HttpProtocol)]


def _hot(server: ServerThread) -> list[bool]:
    return [p._hot is not None for p in _protocols(server)]


def test_if_uvicorn_changes_under_the_fast_path_asgi_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def changed(self: HttpProtocol, fast: FastPath) -> bool:
        raise AttributeError("'HttpProtocol' object has no attribute 'pipeline'")

    monkeypatch.setattr(HttpProtocol, "_claim", changed)
    with ServerThread() as server, caplog.at_level("WARNING", logger="mockauth"):
        status, _, body = exchange(server, form_request(GOOD_DEFAULT))
        assert status == 200, body
        assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 200
        assert fast(server).served == 0
    assert any("fast path disabled" in r.getMessage() for r in caplog.records)


def test_a_head_split_across_reads_then_a_large_body_is_served(server: ServerThread) -> None:
    """Only bytes of the head count against the head's limit, not the body after it."""
    fields = {**GOOD, "padding": "p" * 60_000}  # under MAX_BODY: ignored by the endpoint
    data = form_request(fields)
    with connect(server) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(data[:20])
        time.sleep(0.2)
        sock.sendall(data[20:])
        status, _, body = Reader(sock).response()
    assert status == 200, body


def test_a_pipelined_burst_larger_than_the_head_limit_is_served(server: ServerThread) -> None:
    request = request_bytes("GET", paths.JWKS)
    count = 12 * HEAD_LIMIT // len(request)  # many reads, some ending inside a head
    with connect(server) as sock:
        sock.sendall(request * count)
        reader = Reader(sock)
        statuses = {reader.response()[0] for _ in range(count)}
    assert statuses == {200}


def test_a_431_waits_for_the_answer_before_it(server: ServerThread) -> None:
    server.tenant.faults.add({"endpoint": "jwks", "effect": "latency", "delay": 0.5})
    first = request_bytes("GET", paths.JWKS)
    with connect(server) as sock:
        sock.sendall(first + b"GET /.well-known/jwks HTTP/1.1\r\nX-Big: " + b"a" * (2 * HEAD_LIMIT))
        reader = Reader(sock)
        assert reader.response()[0] == 200  # the request before the refused one
        status, headers, body = reader.response()
        assert status == 431, body
        assert ("connection", "close") in headers
        with contextlib.suppress(ConnectionError):
            reader._fill()
            raise AssertionError("the connection stays open after the 431")


# --- requests httptools cannot parse ---

BROKEN_BODY = request_bytes(
    "POST", paths.TOKEN, b"zz\r\n", [("Transfer-Encoding", b"chunked")], length=False
)
UNPARSEABLE = {
    "length not a number": form_request().replace(b"Content-Length: ", b"Content-Length: x"),
    "length past 2**64": request_bytes(
        "POST", paths.TOKEN, headers=[("Content-Length", b"18446744073709551616")], length=False
    ),
    "two lengths": request_bytes(
        "POST", paths.TOKEN, b"ab", [("Content-Length", b"1"), ("Content-Length", b"2")]
    ),
    "chunked with a length": request_bytes(
        "POST", paths.TOKEN, b"0\r\n\r\n", [("Transfer-Encoding", b"chunked")]
    ),
    "broken chunk size": BROKEN_BODY,
    "NUL in a header": request_bytes("GET", paths.JWKS, headers=[("X-A", b"a\x00b")]),
    "no request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}


@pytest.mark.parametrize("data", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_an_unparseable_request_gets_an_oauth_400(server: ServerThread, data: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == 400, body
        assert dict(headers)["content-type"] == "application/json"
        assert dict(headers)["cache-control"] == "no-store"
        assert ("connection", "close") in headers
        assert json.loads(body) == {
            "error": "invalid_request",
            "error_description": "The request is not valid HTTP/1.1.",
        }
        with contextlib.suppress(ConnectionError):
            reader._fill()
            raise AssertionError("the connection stays open after the 400")
    assert exchange(server, form_request())[0] == 200


@pytest.mark.parametrize(
    "broken", [b"GET / HTTP/1.1\r\n\0\r\n\r\n", BROKEN_BODY], ids=["head", "body"]
)
def test_an_unparseable_request_waits_for_the_answers_before_it(
    server: ServerThread, broken: bytes
) -> None:
    server.tenant.faults.add({"endpoint": "jwks", "effect": "latency", "delay": 0.5})
    with connect(server) as sock:
        sock.sendall(request_bytes("GET", paths.JWKS) + form_request() + broken)
        reader = Reader(sock)
        assert reader.response()[0] == 200  # the slow JWKS answer
        assert reader.response()[0] == 200  # the token
        status, _, body = reader.response()
        assert status == 400, body
        assert json.loads(body)["error"] == "invalid_request"


UPGRADES = {
    "h2c": [  # what Java's HttpClient sends on http:// by default
        ("Connection", b"Upgrade, HTTP2-Settings"),
        ("Upgrade", b"h2c"),
        ("HTTP2-Settings", b"AAMAAABkAARAAAAAAAIAAAAA"),
    ],
    "websocket": [
        ("Connection", b"Upgrade"),
        ("Upgrade", b"websocket"),
        ("Sec-WebSocket-Version", b"13"),
        ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    ],
}


def with_headers(data: bytes, headers: list[tuple[str, bytes]]) -> bytes:
    lines = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers)
    return data.replace(b"Host:", lines + b"Host:", 1)


@pytest.mark.parametrize("split", [False, True], ids=["one-packet", "body-later"])
@pytest.mark.parametrize("upgrade", UPGRADES.values(), ids=UPGRADES.keys())
def test_an_upgrade_is_ignored_and_the_request_answered_as_http_1_1(
    server: ServerThread,
    upgrade: list[tuple[str, bytes]],
    split: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httptools stops at an Upgrade request's head and skips its body; nothing is upgraded
    here (RFC 9110 7.8 lets a server ignore Upgrade), so the body and the requests after it
    are read as HTTP/1.1."""
    token = with_headers(form_request(), upgrade)
    head, body = token.split(b"\r\n\r\n", 1)
    jwks = with_headers(request_bytes("GET", paths.JWKS), upgrade)
    with caplog.at_level("WARNING"), connect(server) as sock:
        if split:
            sock.sendall(head + b"\r\n\r\n" + body[:5])
            time.sleep(0.05)
            sock.sendall(body[5:] + jwks + request_bytes("GET", paths.JWKS))
        else:
            sock.sendall(token + jwks + request_bytes("GET", paths.JWKS))
        reader = Reader(sock)
        status, _, answer = reader.response()
        assert status == 200, answer
        assert json.loads(answer)["token_type"] == "bearer"
        for _ in range(2):
            status, _, answer = reader.response()
            assert status == 200, answer
            assert json.loads(answer)["keys"]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ([("Transfer-Encoding", b"chunked")], 400),
        ([("Content-Length", b"%d" % (MAX_BODY + 1))], 413),
    ],
    ids=["chunked", "too-large"],
)
def test_an_upgrade_with_a_body_it_cannot_take_is_refused(
    server: ServerThread, extra: list[tuple[str, bytes]], status: int
) -> None:
    data = request_bytes("POST", paths.TOKEN, headers=UPGRADES["h2c"] + extra, length=False)
    with connect(server) as sock:
        sock.sendall(data + b"x" * 100)
        reader = Reader(sock)
        got, headers, body = reader.response()
        assert got == status, body
        assert ("connection", "close") in headers
        assert json.loads(body)["error"] == "invalid_request"
        with contextlib.suppress(ConnectionError):
            reader._fill()
            raise AssertionError("the connection stays open after the refusal")


def test_a_bad_target_behind_a_slow_request_waits_for_its_answer(server: ServerThread) -> None:
    """The target is parsed as the head completes, before the request has a cycle: the
    request before it must not be taken for the broken one."""
    server.tenant.faults.add({"endpoint": "jwks", "effect": "latency", "delay": 0.3})
    with connect(server) as sock:
        sock.sendall(
            request_bytes("GET", paths.JWKS) + b"GET http://a:99999/x HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reader = Reader(sock)
        status, _, body = reader.response()
        assert status == 200, body
        assert reader.response()[0] == 400


def test_a_broken_body_after_expect_is_a_400_everywhere(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    headers = [("Content-Type", FORM_TYPE.encode()), ("Expect", b"100-continue")]
    data = request_bytes(
        "POST", paths.TOKEN, b"zz\r\n", [*headers, ("Transfer-Encoding", b"chunked")], length=False
    )
    with caplog.at_level("ERROR"), connect(server) as sock:
        sock.sendall(data)
        status, _, body = Reader(sock).response()
        assert status == 400, body
        deadline = time.monotonic() + WAIT
        while not server.tenant.journal.entries():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert [e.status for e in server.tenant.journal.entries()] == [400]
    assert not caplog.records


def test_a_body_that_breaks_after_its_answer_gets_no_second_one(server: ServerThread) -> None:
    headers = [("Content-Type", FORM_TYPE.encode()), ("Transfer-Encoding", b"chunked")]
    head = request_bytes("POST", paths.TOKEN, headers=headers, length=False)
    with connect(server) as sock:
        sock.sendall(head + b"%x\r\n" % (MAX_BODY + 1) + b"a" * (MAX_BODY + 1))
        reader = Reader(sock)
        assert reader.response()[0] == 413  # answered before the whole body was read
        sock.sendall(b"\r\nzz\r\n")  # then the chunk framing breaks
        with contextlib.suppress(ConnectionError):
            reader._fill()
            raise AssertionError(f"a second answer or an open connection: {reader.buffer!r}")


STREAM_PARTS = {
    "token": form_request(),
    "token, asking for h2c": with_headers(form_request(), UPGRADES["h2c"]),
    "token, with a query": form_request().replace(b"/oauth2/token", b"/oauth2/token?x=1", 1),
    "bad token": form_request({**GOOD, "client_secret": "wrong"}),
    "jwks": request_bytes("GET", paths.JWKS),
    "jwks, asking for websocket": with_headers(
        request_bytes("GET", paths.JWKS), UPGRADES["websocket"]
    ),
    "unknown path": request_bytes("GET", "/nope"),
}


def answers(server: ServerThread, pieces: list[bytes], count: int) -> list[tuple[int, Any]]:
    """Send ``pieces`` as separate packets and read ``count`` answers, each reduced to its
    status and body with the per-token values (jti, iat, exp) left out."""
    got = []
    with connect(server) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.002)  # a read of its own, most of the time
        reader = Reader(sock)
        for _ in range(count):
            status, _, body = reader.response()
            doc = comparable(body)
            if isinstance(doc, dict) and "access_token" in doc:
                for claim in ("iat", "exp"):
                    doc["access_token"][1].pop(claim)
            got.append((status, doc))
    return got


@settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(st.sampled_from(sorted(STREAM_PARTS)), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=5),
)
def test_how_a_stream_of_requests_is_cut_into_packets_changes_no_answer(
    server: ServerThread, names: list[str], cuts: list[int]
) -> None:
    """The byte limits, the fast path and the Upgrade handling all keep state across reads:
    whatever the packet boundaries, the answers are those of the whole stream sent at once."""
    data = b"".join(STREAM_PARTS[name] for name in names)
    points = sorted({c % len(data) for c in cuts} - {0})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert answers(server, pieces, len(names)) == answers(server, [data], len(names))


def test_an_endless_chunk_trailer_is_cut_off(server: ServerThread) -> None:
    """httptools keeps a trailer until it ends, as it does a header: past BODY_LIMIT the
    server stops reading and closes the connection."""
    head = request_bytes(
        "POST",
        paths.TOKEN,
        b"5\r\nabcde\r\n0\r\nX-Trailer: ",
        [("Content-Type", FORM_TYPE.encode()), ("Transfer-Encoding", b"chunked")],
        length=False,
    )
    with connect(server) as sock:
        sock.sendall(head)
        with contextlib.suppress(ConnectionError):
            for _ in range(2 * BODY_LIMIT // 65536):
                sock.sendall(b"a" * 65536)
        # Without the limit the server waits for the trailer's end: recv times out.
        with contextlib.suppress(ConnectionError):
            while sock.recv(65536):
                pass
    assert exchange(server, form_request())[0] == 200


def test_the_head_limit_holds_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mockauth.http.fast._FAST_OK", False)
    with ServerThread() as server:
        with connect(server) as sock:
            sock.sendall(b"GET /.well-known/jwks HTTP/1.1\r\nX-Big: " + b"a" * (2 * HEAD_LIMIT))
            status, _, _ = Reader(sock).response()
        assert status == 431
        assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 200
        assert fast(server).served == 0


def test_capture_handlers_on_the_access_logger_keep_the_fast_path(server: ServerThread) -> None:
    """pytest 9.2 attaches capture handlers to non-propagating loggers such as uvicorn.access;
    uvicorn writes access lines only at INFO, so no line is lost by answering fast."""
    access = logging.getLogger("uvicorn.access")
    handler = logging.NullHandler()
    access.addHandler(handler)
    try:
        before = fast(server).served
        assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 200
        assert fast(server).served == before + 1
        level = access.level
        access.setLevel(logging.INFO)  # now uvicorn would log: ASGI answers
        try:
            assert exchange(server, request_bytes("GET", paths.JWKS))[0] == 200
            assert fast(server).served == before + 1
        finally:
            access.setLevel(level)
    finally:
        access.removeHandler(handler)
