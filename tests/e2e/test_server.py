"""Real sockets: uvicorn on a free port, tokens checked with PyJWT's PyJWKClient, and
`mockauth serve` run as a subprocess the way a user runs it."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import itertools
import json
import logging
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
import pytest

from mockauth.errors import ConfigError
from mockauth.http.limits import MAX_HEADER_BYTES
from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config
from mockauth.tokens.keys import KeyStore

DEFAULT_APP = default_config().apps[0]
CLIENT_ID = DEFAULT_APP.client_id
CLIENT_SECRET = DEFAULT_APP.client_secret or ""
API = "https://api.example.com"
JWKS_PATHS = ["/.well-known/jwks", "/.well-known/jwks.json"]
FORM = "application/x-www-form-urlencoded"
WAIT = 30.0  # a generous bound on every wait; nothing here asserts on timing
LINUX_PROC = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


# --- HTTP helpers (stdlib http.client; PyJWKClient fetches with urllib) ---


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def http_request(
    url: str, method: str, path: str, *, body: str | bytes | None = None, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*_address(url), timeout=WAIT)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get_json(url: str, path: str) -> Any:
    status, _, body = http_request(url, "GET", path, headers={})
    assert status == 200, body
    return json.loads(body)


def token_request(
    url: str,
    *,
    basic: bool = False,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    audience: str = API,
    **extra: str,
) -> tuple[int, dict[str, Any]]:
    """POST /oauth2/token for client_credentials, credentials in the form or as HTTP Basic."""
    form = {"grant_type": "client_credentials", "audience": audience, **extra}
    headers = {"Content-Type": FORM}
    if basic:
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form |= {"client_id": client_id, "client_secret": client_secret}
    status, _, body = http_request(
        url, "POST", "/oauth2/token", body=urlencode(form), headers=headers
    )
    return status, json.loads(body)


def get_token(url: str, **kwargs: Any) -> str:
    status, body = token_request(url, **kwargs)
    assert status == 200, body
    assert body["token_type"] == "bearer"
    token: str = body["access_token"]
    return token


def verify(token: str, jwks_url: str, *, issuer: str, audience: str = API) -> dict[str, Any]:
    """What an API does: fetch the signing key from the served JWKS, check iss and aud."""
    signing_key = jwt.PyJWKClient(jwks_url, cache_jwk_set=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud"]},
    )
    return claims


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(keys=KeyStore()) as running:
        yield running


# --- tokens over HTTP, verified against the served JWKS ---


@pytest.mark.parametrize("jwks_path", JWKS_PATHS)
@pytest.mark.parametrize("basic", [False, True], ids=["form-auth", "basic-auth"])
def test_m2m_token_verifies_against_the_served_jwks(
    server: ServerThread, basic: bool, jwks_path: str
) -> None:
    token = get_token(server.url, basic=basic, scope="read:calendar update:event")
    claims = verify(token, server.url + jwks_path, issuer=server.issuer)
    assert claims["iss"] == server.url
    assert claims["aud"] == [API]
    assert claims["azp"] == CLIENT_ID
    assert claims["scp"] == ["read:calendar", "update:event"]
    assert jwt.get_unverified_header(token)["kid"] == server.tenant.keys.active_kid


def test_discovery_leads_a_client_to_the_jwks(server: ServerThread) -> None:
    discovery = get_json(server.url, "/.well-known/openid-configuration")
    assert discovery["issuer"] == server.issuer
    assert discovery["jwks_uri"] == server.issuer + "/.well-known/jwks"
    token = get_token(server.url)
    assert verify(token, discovery["jwks_uri"], issuer=discovery["issuer"])["azp"] == CLIENT_ID


@pytest.mark.parametrize(
    ("wrong", "error"),
    [
        (lambda s: {"audience": "https://other.example.com"}, jwt.InvalidAudienceError),
        (lambda s: {"audience": s.issuer + "/api"}, jwt.InvalidAudienceError),
        (lambda s: {"issuer": "https://example.kinde.com"}, jwt.InvalidIssuerError),
        (lambda s: {"issuer": s.issuer + "/"}, jwt.InvalidIssuerError),  # byte for byte
    ],
    ids=["other-audience", "management-audience", "other-issuer", "trailing-slash-issuer"],
)
def test_verification_fails_for_the_wrong_audience_or_issuer(
    server: ServerThread,
    wrong: Callable[[ServerThread], dict[str, str]],
    error: type[Exception],
) -> None:
    token = get_token(server.url)
    expected = {"issuer": server.issuer, "audience": API} | wrong(server)
    with pytest.raises(error):
        verify(token, server.url + "/.well-known/jwks", **expected)


def test_token_from_another_key_store_is_rejected(server: ServerThread) -> None:
    with ServerThread(keys=KeyStore()) as other:
        token = get_token(other.url)
    with pytest.raises(jwt.PyJWKClientError, match="signing key"):
        verify(token, server.url + "/.well-known/jwks", issuer=other.issuer)


# --- persistence across restarts ---


@pytest.mark.parametrize("jwks_path", JWKS_PATHS)
def test_token_issued_before_a_restart_verifies_after_it(tmp_path: Path, jwks_path: str) -> None:
    keys_dir = tmp_path / "keys"
    with ServerThread(keys_dir=keys_dir) as first:
        token = get_token(first.url)
        issuer = first.issuer
    with ServerThread(keys_dir=keys_dir) as second:
        claims = verify(token, second.url + jwks_path, issuer=issuer)
    assert claims["iss"] == issuer
    with (
        ServerThread(keys_dir=tmp_path / "fresh") as unrelated,
        pytest.raises(jwt.PyJWKClientError),
    ):
        verify(token, unrelated.url + jwks_path, issuer=issuer)


# --- ServerThread lifecycle ---


def test_stopping_a_server_thread_releases_its_port_and_thread() -> None:
    before = set(threading.enumerate())
    server = ServerThread(keys=KeyStore()).start()
    host, port = _address(server.url)
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:  # a keep-alive connection is still open while the server stops
        conn.request("GET", "/.well-known/jwks")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert len(set(threading.enumerate()) - before) == 1
        server.stop()
    finally:
        conn.close()
    server.stop()  # idempotent
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=WAIT).close()
    with socket.socket() as probe:  # nothing listens there any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.listen()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_server_thread_that_fails_to_build_leaks_no_socket() -> None:
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ConfigError, match="must not end with '/'"):
        ServerThread(keys=KeyStore(), issuer="http://127.0.0.1:1/")
    assert len(os.listdir("/proc/self/fd")) == before


def test_server_thread_runs_on_uvloop_and_httptools(server: ServerThread) -> None:
    uvloop = pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    uv = server._server  # the uvicorn.Server: the loop and protocol it actually runs
    assert isinstance(uv.servers[0].get_loop(), uvloop.Loop)
    assert issubclass(uv.config.http_protocol_class, HttpToolsProtocol)


# --- hostile wire input over a raw socket ---


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def server_errors_logged() -> Iterator[list[logging.LogRecord]]:
    """ERROR records from our handler of last resort and from uvicorn's ASGI error path."""
    handler = _ListHandler()
    loggers = [logging.getLogger(name) for name in ("mockauth", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


class _Buffer:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self._data)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(_Buffer(raw))  # type: ignore[arg-type]
    response.begin()
    with contextlib.closing(response):
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def read_one_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    with contextlib.closing(response):
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def raw_exchange(url: str, data: bytes) -> bytes:
    """Send raw bytes, half-close, and read until the server closes the connection."""
    with socket.create_connection(_address(url), timeout=WAIT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def assert_oauth_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    doc = json.loads(body)
    assert set(doc) == {"error", "error_description"}
    assert doc["error"] == "invalid_request"


def assert_still_serving(url: str) -> None:
    assert verify(get_token(url), url + "/.well-known/jwks", issuer=url)["aud"] == [API]


def post_head(length: int | None = None, *, extra: bytes = b"") -> bytes:
    framing = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
    return (
        b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: " + FORM.encode() + b"\r\n" + extra + framing + b"\r\n\r\n"
    )


def get_with_header(name: bytes, value: bytes) -> bytes:
    return (
        b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + name
        + b": "
        + value
        + b"\r\n\r\n"
    )


TEN_MB = 10 * 1024 * 1024


def test_10mb_body_is_refused_before_it_is_sent(server: ServerThread) -> None:
    with server_errors_logged() as errors:
        with socket.create_connection(_address(server.url), timeout=WAIT) as sock:
            # Only 64 KB of the declared 10 MB: the answer must not wait for the rest.
            sock.sendall(post_head(TEN_MB) + b"a" * 65536)
            assert_oauth_error(*read_one_response(sock), expected=413)
        assert_still_serving(server.url)
    assert errors == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_whole_10mb_body_gets_413_and_the_server_keeps_serving(
    server: ServerThread, chunked: bool
) -> None:
    piece = b"a" * 65536
    pieces = TEN_MB // len(piece)
    if chunked:
        frame = b"%x\r\n%s\r\n" % (len(piece), piece)
        head, payload, tail = post_head(None), [frame] * pieces, b"0\r\n\r\n"
    else:
        head, payload, tail = post_head(TEN_MB), [piece] * pieces, b""
    with server_errors_logged() as errors:
        with socket.create_connection(_address(server.url), timeout=WAIT) as sock:

            def send_all() -> None:
                with contextlib.suppress(OSError):  # the server may close once it has answered
                    for part in [head, *payload, tail]:
                        sock.sendall(part)

            sender = threading.Thread(target=send_all)
            sender.start()
            try:
                response = read_one_response(sock)
            finally:
                sender.join(WAIT)
            assert not sender.is_alive()
        assert_oauth_error(*response, expected=413)
        assert_still_serving(server.url)
    assert errors == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        get_with_header(b"X-Big", b"a" * 100_000),
        get_with_header(b"X-Big", b"a" * 4_000_000),
        get_with_header(b"X-Big", b"a" * (MAX_HEADER_BYTES + 1)),
        post_head(0, extra=b"Authorization: Basic " + b"QUFB" * 25_000 + b"\r\n"),
        b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
        + b"\r\n",
    ],
    ids=["100KB-value", "4MB-value", "just-over-limit", "100KB-authorization", "20k-headers"],
)
def test_huge_headers_get_431_and_the_server_keeps_serving(
    server: ServerThread, request_bytes: bytes
) -> None:
    with server_errors_logged() as errors:
        assert_oauth_error(*parse_response(raw_exchange(server.url, request_bytes)), expected=431)
        assert_still_serving(server.url)
    assert errors == []


def test_large_but_reasonable_headers_are_served(server: ServerThread) -> None:
    cookie = "session=" + "c" * 8_000
    status, _, body = http_request(
        server.url, "GET", "/.well-known/jwks", headers={"Cookie": cookie, "X-Trace": "t" * 4_000}
    )
    assert status == 200
    assert json.loads(body) == server.tenant.keys.jwks()


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&client_id=\xff\xfe&audience=x",
        b"grant_type=client_credentials&client_secret=%ff%fe%fd",
        b"\xc3\x28=\xa0\xa1",
        b"grant_type=client_credentials&audience=\xed\xa0\x80",  # a UTF-8 encoded surrogate
    ],
    ids=["raw-bytes", "percent-encoded", "bad-sequence", "surrogate"],
)
def test_invalid_utf8_bodies_get_an_oauth_400(server: ServerThread, body: bytes) -> None:
    with server_errors_logged() as errors:
        raw = raw_exchange(server.url, post_head(len(body)) + body)
        assert_oauth_error(*parse_response(raw), expected=400)
        assert_still_serving(server.url)
    assert errors == []


# uvicorn's parser answers these itself, before the app runs: a text/plain 400.
MALFORMED = {
    "garbage-request-line": b"GARBAGE\r\n\r\n",
    "unknown-http-version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "binary-method": b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n",
    "non-ascii-path": b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "100KB-path": b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    "header-name-with-space": b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
    "nul-in-header-value": post_head(0, extra=b"X-Nul: a\x00b\r\n"),
    "non-numeric-content-length": post_head(None).replace(
        b"Transfer-Encoding: chunked", b"Content-Length: abc"
    ),
    "negative-content-length": post_head(-1),
    "conflicting-content-lengths": post_head(5, extra=b"Content-Length: 7\r\n") + b"abcdefg",
    "content-length-and-chunked": post_head(5, extra=b"Transfer-Encoding: chunked\r\n")
    + b"0\r\n\r\n",
    "bad-chunk-size": post_head(None) + b"zz\r\nabc\r\n",
}


@pytest.mark.parametrize("request_bytes", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_requests_get_a_4xx_and_the_server_keeps_serving(
    server: ServerThread, request_bytes: bytes
) -> None:
    with server_errors_logged() as errors:
        status, headers, body = parse_response(raw_exchange(server.url, request_bytes))
        assert 400 <= status < 500, (status, body)
        if headers.get("content-type") == "application/json":
            assert set(json.loads(body)) == {"error", "error_description"}
        assert_still_serving(server.url)
    assert errors == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"",
        b"\r\n\r\n",  # empty lines before a request line are allowed, then EOF
        b"POST /oauth2/tok",
        b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le",
        post_head(1000) + b"grant_type=client_cre",
        post_head(None) + b"10\r\ngrant_type=clien",
        post_head(None) + b"5\r\ngrant\r\n",
    ],
    ids=[
        "nothing",
        "empty-lines",
        "mid-request-line",
        "mid-headers",
        "mid-body",
        "mid-chunk",
        "between-chunks",
    ],
)
def test_connection_closed_early_is_no_server_error(
    server: ServerThread, request_bytes: bytes
) -> None:
    with server_errors_logged() as errors:
        with socket.create_connection(_address(server.url), timeout=WAIT) as sock:
            sock.sendall(request_bytes)
        # A few full requests give the server's handling of the hang-up time to finish.
        for _ in range(3):
            assert_still_serving(server.url)
    assert [r.getMessage() for r in errors] == []


# --- `mockauth serve` as a subprocess ---


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
    return env | (extra or {})


class Serve:
    """`python -m mockauth serve ...`, its stdout and stderr drained by threads."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockauth", "serve", *args],
            cwd=cwd,
            env=_clean_env(env),
            preexec_fn=preexec_fn,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump_stdout, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._pump_stderr, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump_stdout(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self.stderr.append(line.rstrip("\n"))

    def line(self) -> str:
        try:
            line = self._lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"mockauth serve printed nothing for {WAIT} s; stderr: {self.stderr}")
        if line is None:
            self.proc.wait(WAIT)
            pytest.fail(f"mockauth serve exited {self.proc.returncode}; stderr: {self.stderr}")
        self.stdout.append(line)
        return line

    def url(self) -> str:
        """The first line: it must name the URL, and come only once requests are accepted."""
        first = self.line()
        prefix = "mockauth serving on "
        assert first.startswith(prefix), first
        return first.removeprefix(prefix)

    def banner(self, until_audience: str) -> dict[str, list[str]]:
        """The start-up block after the first line, read up to the line naming an audience."""
        fields: dict[str, list[str]] = {}
        while True:
            key, _, value = self.line().strip().partition(":")
            fields.setdefault(key, []).append(value.strip())
            if key == "audience" and value.split()[0] == until_audience:
                return fields

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode


@contextlib.contextmanager
def serving(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Serve]:
    proc = Serve(*args, cwd=cwd, env=env, preexec_fn=preexec_fn)
    try:
        yield proc
    finally:
        proc.stop()


def listening_addresses(port: int) -> set[str]:
    """Addresses with a TCP socket in LISTEN state on this port, from /proc/net/tcp{,6}."""
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            fields = row.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
                packed = b"".join(struct.pack("=I", w) for w in words)
                found.add(socket.inet_ntop(family, packed))
    return found


def children(pid: int) -> list[int]:
    """Live child processes of pid (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.append(int(stat.parent.name))
    return found


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing spawn children, not its resource tracker)."""
    return [
        child
        for child in children(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def pause(pid: int) -> None:
    """SIGSTOP a worker, after the moment it takes to write down the requests it answered
    (journal entries are written as its event loop's turn ends)."""
    time.sleep(0.05)
    os.kill(pid, signal.SIGSTOP)


def wait_for_state(pid: int, state: str) -> None:
    deadline = time.monotonic() + WAIT
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != state:
        assert time.monotonic() < deadline, f"process {pid} never reached state {state}"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def default_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Serve]]:
    """One `mockauth serve --port 0` on the embedded default config, started in an empty dir."""
    cwd = tmp_path_factory.mktemp("serve-default")
    with serving("--port", "0", cwd=cwd) as proc:
        yield proc.url(), proc


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_announces_only_once_it_accepts_requests(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    state = tmp_path / "state"
    with serving("--port", "0", cwd=tmp_path, env={"XDG_STATE_HOME": str(state)}) as proc:
        url = proc.url()
        # No retry, no sleep: the line itself is the promise that requests are accepted.
        status, body = token_request(url)
        assert status == 200, body
        banner = proc.banner(until_audience=API)
        assert banner["issuer"] == [url]
        assert banner["jwks"] == [url + "/.well-known/jwks"]
        assert banner["client_id"] == [CLIENT_ID]
        assert banner["client_secret"] == [CLIENT_SECRET]
        # The default keys dir is the per-user state dir, shown absolute; never ./keys.
        assert banner["keys dir"] == [str(state / "mockauth")]
        assert list((state / "mockauth").glob("*.pem"))
        assert not (tmp_path / "keys").exists()
        code = proc.stop(stop_signal)
    # Ctrl-C is the documented way to stop; uvicorn re-raises SIGTERM after shutting down.
    assert code in ((0,) if stop_signal == signal.SIGINT else (0, -signal.SIGTERM))
    assert not any("Traceback" in line for line in proc.stderr), proc.stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_address(url), timeout=WAIT).close()


def test_serve_default_config_runs_the_issue_curl_flow(default_serve: tuple[str, Serve]) -> None:
    url, proc = default_serve
    banner = proc.banner(until_audience=f"{url}/api")
    assert [aud.split()[0] for aud in banner["audience"]] == [API, f"{url}/api"]
    # curl -d grant_type=client_credentials -d client_id=… -d client_secret=…
    #      -d audience=https://api.example.com -d 'scope=read:calendar update:event' …/oauth2/token
    status, body = token_request(
        url,
        client_id=banner["client_id"][0],
        client_secret=banner["client_secret"][0],
        audience=API,
        scope="read:calendar update:event",
    )
    assert status == 200, body
    assert body["scope"] == "read:calendar update:event"
    assert body["expires_in"] == 86399
    claims = verify(body["access_token"], banner["jwks"][0], issuer=banner["issuer"][0])
    assert claims["scp"] == ["read:calendar", "update:event"]
    assert claims["gty"] == ["client_credentials"]
    assert "sub" not in claims
    management_api = f"{url}/api"  # <issuer>/api, as Kinde's Management API
    management = get_token(url, audience=management_api)
    claims = verify(management, url + "/.well-known/jwks.json", issuer=url, audience=management_api)
    assert "read:users" in claims["scp"]


@LINUX_PROC
def test_serve_binds_loopback_only_by_default(default_serve: tuple[str, Serve]) -> None:
    url, _ = default_serve
    assert urlsplit(url).hostname == "127.0.0.1"
    assert listening_addresses(_address(url)[1]) == {"127.0.0.1"}


ENV_APP_ID = "0123456789abcdef0123456789abcdef"
ENV_APP_SECRET = "EnvSecret" + "x" * 40
ENV_CONFIG = f"""
[[apis]]
audience = "https://orders.example.com"
scopes = ["read:orders", "write:orders"]

[[apps]]
name = "Orders worker"
client_id = "{ENV_APP_ID}"
client_secret = "{ENV_APP_SECRET}"
claims = {{ tenant = "acme" }}

[apps.apis]
"https://orders.example.com" = ["read:orders"]
"""


def test_serve_takes_every_setting_from_mockauth_env_vars(tmp_path: Path) -> None:
    config = tmp_path / "orders.toml"
    config.write_text(ENV_CONFIG)
    issuer = "http://auth.mockauth.test"
    env = {
        "MOCKAUTH_CONFIG": str(config),
        "MOCKAUTH_HOST": "localhost",
        "MOCKAUTH_PORT": "0",
        "MOCKAUTH_KEYS_DIR": str(tmp_path / "env-keys"),
        "MOCKAUTH_ISSUER": issuer,
        "MOCKAUTH_WORKERS": "1",
        "MOCKAUTH_LOG_LEVEL": "info",
    }
    with serving(cwd=tmp_path, env=env) as proc:
        url = proc.url()
        assert urlsplit(url).hostname == "localhost"
        banner = proc.banner(until_audience="https://orders.example.com")
        assert banner["issuer"] == [issuer]
        assert banner["client_id"] == [ENV_APP_ID]
        assert get_json(url, "/.well-known/openid-configuration")["issuer"] == issuer
        token = get_token(
            url,
            client_id=ENV_APP_ID,
            client_secret=ENV_APP_SECRET,
            audience="https://orders.example.com",
        )
        claims = verify(
            token,
            url + "/.well-known/jwks.json",
            issuer=issuer,
            audience="https://orders.example.com",
        )
        assert claims["tenant"] == "acme"
        assert claims["scp"] == ["read:orders"]
        # A secret in a query string (wrongly sent there) must not reach the log.
        query = urlencode({"client_id": ENV_APP_ID, "client_secret": ENV_APP_SECRET})
        http_request(url, "GET", "/.well-known/jwks?" + query, headers={})
        assert proc.stop() == 0
    assert not any(ENV_APP_SECRET in line for line in proc.stderr)
    assert any('"GET /.well-known/jwks?<query hidden> HTTP/1.1" 200' in x for x in proc.stderr)
    assert len(list((tmp_path / "env-keys").glob("*.pem"))) == 1
    assert not (tmp_path / "keys").exists()
    assert any("Started server process" in line for line in proc.stderr)  # log level info
    # ... which writes a line per request, on stderr: stdout is the start-up block alone.
    assert any('"POST /oauth2/token HTTP/1.1" 200' in line for line in proc.stderr)
    assert not any("HTTP/1.1" in line for line in proc.stdout)


@LINUX_PROC
@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_with_two_workers_signs_with_one_key_in_both(tmp_path: Path, how: str) -> None:
    keys_dir = tmp_path / "keys"
    args = ["--port", "0", "--keys-dir", str(keys_dir)]
    if how == "flag":
        args += ["--workers", "2"]
    env = {"MOCKAUTH_WORKERS": "2"} if how == "env" else None
    with serving(*args, cwd=tmp_path, env=env) as proc:
        url = proc.url()
        workers = worker_pids(proc.proc.pid)
        assert len(workers) == 2
        tokens: dict[int, str] = {}
        jwks: dict[int, Any] = {}
        for stopped, alone in itertools.permutations(workers):
            # With one worker stopped, the other must accept: each answer is from a known worker.
            pause(stopped)
            try:
                wait_for_state(stopped, "T")
                tokens[alone] = get_token(url)
                jwks[alone] = get_json(url, "/.well-known/jwks")
            finally:
                os.kill(stopped, signal.SIGCONT)
        assert proc.stop() == 0
    first, second = workers
    assert jwks[first] == jwks[second] == KeyStore(keys_dir).jwks()
    assert len(jwks[first]["keys"]) == 1
    kid = jwks[first]["keys"][0]["kid"]
    with ServerThread(keys_dir=keys_dir) as verifier:  # the same keys, served again
        for token in tokens.values():
            assert jwt.get_unverified_header(token)["kid"] == kid
            assert verify(token, verifier.url + "/.well-known/jwks", issuer=url)["aud"] == [API]
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


def test_two_servers_started_at_once_on_an_empty_keys_dir_share_one_key(tmp_path: Path) -> None:
    keys_dir = tmp_path / "shared-keys"  # does not exist yet
    args = ("--port", "0", "--keys-dir", str(keys_dir))
    with serving(*args, cwd=tmp_path) as one, serving(*args, cwd=tmp_path) as two:
        url_one, url_two = one.url(), two.url()
        jwks_one = get_json(url_one, "/.well-known/jwks")
        assert get_json(url_two, "/.well-known/jwks.json") == jwks_one
        token = get_token(url_one)
        assert verify(token, url_two + "/.well-known/jwks", issuer=url_one)["azp"] == CLIENT_ID
    pems = list(keys_dir.glob("*.pem"))
    assert len(pems) == 1
    assert pems[0].stat().st_mode & 0o777 == 0o600
    assert len(jwks_one["keys"]) == 1


GOOD_API = """
[[apis]]
audience = "https://api.example.com"
scopes = ["read:calendar"]
"""
GOOD_APP = f"""
[[apps]]
name = "Backend"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"""


@pytest.mark.parametrize(
    ("toml", "key", "value"),
    [
        ('issuer = "http://x"\ncolour = "blue"\n', "colour", "'blue'"),
        ('[lifetimes]\naccess_token = "long"\n', "lifetimes.access_token", "'long'"),
        (
            GOOD_API
            + GOOD_APP
            + '[apps.apis]\n"https://api.example.com" = ["delete:everything"]\n',
            "apps[0].apis.'https://api.example.com'[0]",
            "'delete:everything'",
        ),
        (
            GOOD_API + GOOD_APP + '[apps.apis]\n"https://nowhere.example.com" = []\n',
            "apps[0].apis.'https://nowhere.example.com'",
            "[]",
        ),
        (
            GOOD_API + GOOD_APP.replace(CLIENT_SECRET, "too-short!"),
            "apps[0].client_secret",
            "'too-short!'",
        ),
        (
            GOOD_API + GOOD_APP + GOOD_APP.replace("Backend", "Twin"),
            "apps[1].client_id",
            repr(CLIENT_ID),
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "undefined-scope",
        "undefined-audience",
        "malformed-secret",
        "duplicate-client-id",
    ],
)
def test_serve_with_a_bad_config_exits_2_naming_file_key_and_value(
    tmp_path: Path, toml: str, key: str, value: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    done = subprocess.run(
        [sys.executable, "-m", "mockauth", "serve", "--config", str(config), "--port", "0"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # nothing announced
    message = done.stderr
    assert str(config) in message
    assert key in message
    assert value in message
    assert not (tmp_path / "keys").exists()  # refused before touching the keys dir


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (("--port", "0"), {"MOCKAUTH_ISSUER": "http://127.0.0.1:8400/"}, "must not end with '/'"),
        ((), {"MOCKAUTH_PORT": "70000"}, "70000"),
        (("--port", "0", "--workers", "0"), {}, "--workers"),
        (("--port", "0", "--config", "missing.toml"), {}, "missing.toml"),
        (("--port", "0", "--head-timeout", "nan"), {}, "--head-timeout"),
        (("--port", "0"), {"MOCKAUTH_IDLE_TIMEOUT": "0"}, "--idle-timeout"),
        (("--port", "0", "--idle-timeout", "inf"), {}, "--idle-timeout"),
        (("--port", "0"), {"MOCKAUTH_MAX_CONNECTIONS": "0"}, "--max-connections"),
    ],
    ids=[
        "issuer-trailing-slash",
        "port-out-of-range",
        "zero-workers",
        "missing-config",
        "head-timeout-nan",
        "idle-timeout-zero",
        "idle-timeout-inf",
        "max-connections-zero",
    ],
)
def test_serve_with_bad_settings_exits_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], fragment: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockauth", "serve", *args],
        cwd=tmp_path,
        env=_clean_env(env),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert fragment in done.stderr
    assert done.stdout == ""


def test_serve_on_a_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mockauth", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert done.stdout == ""
