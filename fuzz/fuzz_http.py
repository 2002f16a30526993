#!/usr/bin/env python3
"""HTTP fuzzer: random, mutated-valid and malformed requests against a real server.

    python fuzz/fuzz_http.py                          # 20,000 requests, 8 client threads
    python fuzz/fuzz_http.py --requests 100000 --seed 7
    python fuzz/fuzz_http.py --duration 120 --tls     # over HTTPS, for two minutes

Starts ``mockauth serve --workers 2`` (this checkout, a fresh keys dir, port 0) and sends,
over raw sockets, requests to every endpoint and grant: the token endpoint with every grant
type (client credentials, authorization code with and without PKCE, refresh token, device
code, unknown ones), authorize, userinfo v1 and v2, introspect, revoke, logout, device
authorization and the device page, discovery, both JWKS paths, health and the admin API.
Real codes, refresh tokens, device codes and access tokens are fetched as it goes, so the
valid requests go deep. A third of the requests are sent as built, a third mutated (bytes
flipped, inserted, cut or repeated; headers, lengths, methods, versions, targets and form
values changed), and a third is malformed HTTP from scratch.

Each request is classified with httptools, the server's own parser: a complete or
unparseable request must be answered (or the connection closed) within --timeout seconds;
after an incomplete one the client half-closes and the server must close. Failures, any
of which makes the exit status 1: a 5xx answer, a hang, an ERROR or traceback in the
server's log, a server that no longer serves at the end or does not stop cleanly.
Prints the count of answers by status for each kind of request, and the failures.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httptools  # noqa: E402

from mockauth.http.tls import tls_files  # noqa: E402
from mockauth.tenant.config import default_config  # noqa: E402

CONFIG = default_config()
APPS = {app.type: app for app in CONFIG.apps}
M2M, WEB, SPA, TV = APPS["m2m"], APPS["regular"], APPS["spa"], APPS["device"]
API = "https://api.example.com"
USER = CONFIG.users[0]
FORM = "application/x-www-form-urlencoded"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# What in the server's log is a failure (its own lines and uvicorn's).
LOG_FAILURE = re.compile(r"ERROR|CRITICAL|Traceback|Exception|fast path disabled")


# --------------------------------------------------------------------------- the server


class Server:
    """`python -m mockauth serve --port 0 --workers N` from this checkout."""

    def __init__(self, workers: int, tls: bool) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="mockauth-fuzz-")
        args = ["--port", "0", "--workers", str(workers), "--keys-dir", "keys"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockauth", "serve", *args, *(["--tls"] if tls else [])],
            cwd=self.dir.name,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.log: list[str] = []
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        first = self.proc.stdout.readline().strip()
        if not first.startswith("mockauth serving on "):
            raise SystemExit(f"mockauth serve did not start: {first!r} {self.log}")
        threading.Thread(target=self._drain, args=(self.proc.stdout, False), daemon=True).start()
        self.url = first.removeprefix("mockauth serving on ")
        parts = urlsplit(self.url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 0)
        self.context: ssl.SSLContext | None = None
        if tls:
            ca = tls_files(Path(self.dir.name) / "keys").ca_cert
            self.context = ssl.create_default_context(cafile=str(ca))

    def _drain(self, stream: Any, keep: bool = True) -> None:
        for line in stream:
            if keep:
                self.log.append(line.rstrip("\n"))

    def connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_hostname=self.address[0])
        return sock

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.dir.cleanup()
        return self.proc.returncode


# --------------------------------------------------------------------------- HTTP on sockets


class Hang(Exception):
    """The server neither answered nor closed in time."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        return "close" in self.headers.get("connection", "").lower()


class Reader:
    """Answers read off one socket (1xx skipped; HEAD answers have no body)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _more(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError as exc:
            raise Hang("no answer") from exc
        except (ConnectionError, ssl.SSLError):
            return False
        self.buf += chunk
        return bool(chunk)

    def response(self, head_request: bool = False) -> Response | None:
        """The next final answer; None when the server closed before one."""
        while True:
            while b"\r\n\r\n" not in self.buf:
                if not self._more():
                    return None
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:
                continue
            if head_request or status in (204, 304):
                return Response(status, headers, b"")
            return Response(status, headers, self._body(headers))

    def _body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            size = int(headers["content-length"])
            while len(self.buf) < size and self._more():
                pass
            body, self.buf = self.buf[:size], self.buf[size:]
            return body
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._more():
                        return body
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                while len(self.buf) < size + 2 and self._more():
                    pass
                body, self.buf = body + self.buf[:size], self.buf[size + 2 :]
                if size == 0:
                    return body
        while self._more():
            pass
        body, self.buf = self.buf, b""
        return body

    def until_closed(self) -> None:
        while self._more():
            self.buf = b""


class _Parse:
    """httptools callbacks: how far the server's parser gets with a request."""

    def __init__(self) -> None:
        self.complete = False

    def on_message_complete(self) -> None:
        self.complete = True


def classify(data: bytes) -> str:
    """'complete', 'error' (the server answers 400) or 'incomplete', as httptools reads the
    first request in ``data``; an Upgrade the server answers as a plain request."""
    state = _Parse()
    parser = httptools.HttpRequestParser(state)
    with contextlib.suppress(AttributeError):
        parser.set_dangerous_leniencies(lenient_data_after_close=True)
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        return "complete"
    except httptools.HttpParserError:
        return "complete" if state.complete else "error"
    return "complete" if state.complete else "incomplete"


def request(
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def form(fields: dict[str, str] | list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bytes]:
    return [("Content-Type", FORM)], urlencode(fields).encode()


def basic(client_id: str, secret: str) -> tuple[str, str]:
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return ("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())


# --------------------------------------------------------------------------- what to send


@dataclass
class Pool:
    """Real artifacts, fetched as the run goes, for valid requests to use."""

    codes: list[tuple[str, str]] = field(default_factory=list)  # (code, verifier or "")
    refresh: list[str] = field(default_factory=list)
    devices: list[tuple[str, str]] = field(default_factory=list)  # (device, user code)
    access: list[str] = field(default_factory=list)

    def pick(self, rng: random.Random, name: str, fallback: Any) -> Any:
        items = getattr(self, name)
        return rng.choice(items) if items else fallback


class Requests:
    """Builders of one valid request each, for every endpoint and grant."""

    def __init__(self, rng: random.Random, pool: Pool) -> None:
        self.rng = rng
        self.pool = pool
        self.builders: list[Callable[[], bytes]] = [
            self.client_credentials,
            self.authorization_code,
            self.refresh_token,
            self.device_code,
            self.odd_grant,
            self.authorize,
            self.userinfo,
            self.introspect,
            self.revoke,
            self.logout,
            self.device_authorization,
            self.device_page,
            self.discovery,
            self.jwks,
            self.admin,
            self.preflight,
        ]

    def any(self) -> bytes:
        return self.rng.choice(self.builders)()

    def _token(self, fields: dict[str, str], secret: str | None, client: str) -> bytes:
        headers, body = form(fields)
        if secret is not None and self.rng.random() < 0.3:
            headers.append(basic(client, secret))
        else:
            body = urlencode(
                {
                    **fields,
                    "client_id": client,
                    **({} if secret is None else {"client_secret": secret}),
                }
            ).encode()
        return request("POST", "/oauth2/token", headers, body)

    def client_credentials(self) -> bytes:
        fields = {"grant_type": "client_credentials", "audience": API}
        if self.rng.random() < 0.5:
            fields["scope"] = self.rng.choice(["read:calendar", "read:calendar update:event", "x"])
        return self._token(fields, M2M.client_secret, M2M.client_id)

    def authorization_code(self) -> bytes:
        code, verifier = self.pool.pick(self.rng, "codes", ("nope", ""))
        fields = {"grant_type": "authorization_code", "code": code}
        if verifier:
            fields |= {"code_verifier": verifier, "redirect_uri": SPA.redirect_uris[0]}
            return self._token(fields, None, SPA.client_id)
        fields["redirect_uri"] = WEB.redirect_uris[0]
        return self._token(fields, WEB.client_secret, WEB.client_id)

    def refresh_token(self) -> bytes:
        token = self.pool.pick(self.rng, "refresh", "a.b")
        fields = {"grant_type": "refresh_token", "refresh_token": token}
        return self._token(fields, WEB.client_secret, WEB.client_id)

    def device_code(self) -> bytes:
        device, _ = self.pool.pick(self.rng, "devices", ("nope", ""))
        return self._token({"grant_type": DEVICE_GRANT, "device_code": device}, None, TV.client_id)

    def odd_grant(self) -> bytes:
        grant = self.rng.choice(["password", "implicit", "", "client_credentials\x00", "x" * 300])
        return self._token({"grant_type": grant}, M2M.client_secret, M2M.client_id)

    def authorize(self) -> bytes:
        params = {
            "client_id": WEB.client_id,
            "redirect_uri": WEB.redirect_uris[0],
            "response_type": "code",
            "scope": "openid profile email offline",
            "state": str(self.rng.random()),
        }
        if self.rng.random() < 0.3:
            params["prompt"] = self.rng.choice(["login", "create", "none", "consent"])
        if self.rng.random() < 0.3:
            params["login_hint"] = self.rng.choice([USER.email or "", "nobody@example.com"])
        return request("GET", "/oauth2/auth?" + urlencode(params))

    def userinfo(self) -> bytes:
        token = self.pool.pick(self.rng, "access", "x.y.z")
        path = self.rng.choice(["/oauth2/v2/user_profile", "/oauth2/user_profile"])
        auth = self.rng.choice([f"Bearer {token}", f"bearer {token}", "Bearer", "Basic x"])
        return request("GET", path, [("Authorization", auth)])

    def introspect(self) -> bytes:
        token = self.pool.pick(self.rng, "access", "x.y.z")
        headers, body = form({"token": token})
        headers.append(basic(M2M.client_id, M2M.client_secret or ""))
        return request("POST", "/oauth2/introspect", headers, body)

    def revoke(self) -> bytes:
        token = self.pool.pick(self.rng, "refresh", "a.b")
        fields = {"token": token, "client_id": WEB.client_id, "client_secret": WEB.client_secret}
        headers, body = form(fields)
        return request("POST", "/oauth2/revoke", headers, body)

    def logout(self) -> bytes:
        target = self.rng.choice(["http://localhost:3000", "https://evil.example", "/x"])
        name = self.rng.choice(["redirect", "redirect_uri"])
        return request("GET", "/logout?" + urlencode({name: target, "state": "s"}))

    def device_authorization(self) -> bytes:
        headers, body = form({"client_id": TV.client_id, "scope": "openid offline"})
        return request("POST", "/oauth2/device/auth", headers, body)

    def device_page(self) -> bytes:
        _, user_code = self.pool.pick(self.rng, "devices", ("", "ABCD-EFGH"))
        query = {"user_code": user_code}
        if self.rng.random() < 0.3:
            query["deny"] = self.rng.choice(["0", "1", "2"])
        return request("GET", "/device?" + urlencode(query))

    def discovery(self) -> bytes:
        return request("GET", "/.well-known/openid-configuration")

    def jwks(self) -> bytes:
        return request(
            self.rng.choice(["GET", "HEAD"]),
            self.rng.choice(["/.well-known/jwks", "/.well-known/jwks.json", "/_mockauth/health"]),
        )

    def admin(self) -> bytes:
        # Reads, and writes that cannot make the server fail on purpose (no fault rules,
        # no clock changes, no key retirement).
        kind = self.rng.randrange(4)
        if kind == 0:
            path = self.rng.choice(
                [
                    "apps",
                    "apis",
                    "users",
                    "orgs",
                    "keys",
                    "clock",
                    "journal",
                    "faults",
                    "openapi.json",
                    "faults/nope",
                ]
            )
            return request("GET", "/_mockauth/" + path)
        if kind == 1:
            body = {"email": f"fuzz{self.rng.randrange(10**6)}@example.com"}
            return request(
                "POST",
                "/_mockauth/users",
                [("Content-Type", "application/json")],
                json.dumps(body).encode(),
            )
        if kind == 2:
            body = {"name": "Fuzz", "type": self.rng.choice(["m2m", "spa", "x"])}
            return request(
                "POST",
                "/_mockauth/apps",
                [("Content-Type", "application/json")],
                json.dumps(body).encode(),
            )
        return request("DELETE", f"/_mockauth/users/kp_{self.rng.getrandbits(128):032x}")

    def preflight(self) -> bytes:
        return request(
            "OPTIONS",
            "/oauth2/token",
            [
                ("Origin", "http://localhost:3000"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "kinde-sdk, content-type"),
            ],
        )


_NASTY = [
    b"\r",
    b"\n",
    b"\r\n",
    b"\x00",
    b" ",
    b"\t",
    b":",
    b"%",
    b"%00",
    b"\xff",
    b"\xc3\x28",
    b"\r\n\r\n",
    b"0" * 30,
    b"-1",
    b"chunked",
    b"\\",
    b"..",
    b'"',
    b"\xf0\x9f\x98\x80",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random changes to a request's bytes."""
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(_MUTATIONS)(rng, data)
    return data


def _flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]


def _insert(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice(_NASTY) * rng.choice([1, 1, 2, 50]) + data[i:]


def _cut(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    j = min(len(data), i + rng.choice([1, 2, 10, 100]))
    return data[:i] + data[j:]


def _repeat(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    j = min(len(data), i + rng.randrange(1, 200))
    return data[:j] + data[i:j] * rng.choice([1, 2, 10]) + data[j:]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _length(rng: random.Random, data: bytes) -> bytes:
    value = rng.choice(
        [
            b"0",
            b"1",
            b"-1",
            b"99999999999999999999",
            b"0" * 5000 + b"1",
            b"1 2",
            b" 10",
            b"0x10",
            b"",
            b"10, 10",
            b"+5",
            str(rng.randrange(500)).encode(),
        ]
    )
    if b"Content-Length: " in data:
        return re.sub(rb"Content-Length: [^\r]*", b"Content-Length: " + value, data, count=1)
    return data.replace(b"\r\n", b"\r\nContent-Length: " + value + b"\r\n", 1)


def _header(rng: random.Random, data: bytes) -> bytes:
    extra = rng.choice(
        [
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: gzip, chunked",
            b"Expect: 100-continue",
            b"Connection: close",
            b"Connection: Upgrade\r\nUpgrade: h2c",
            b"Content-Length: 3",
            b"X-Long: " + b"a" * rng.choice([100, 10_000, 40_000]),
            b" folded",
            b"NoColon",
            b"Host: other",
            b"Authorization: Bearer " + b"x" * 3000,
            b"Content-Type: text/plain",
            b"Content-Type: application/x-www-form-urlencoded; charset=latin-1",
            b"Origin: http://[",
            b"Cookie: " + b"a=b; " * 500,
            b"X: \x01\x7f",
        ]
    )
    return data.replace(b"\r\n", b"\r\n" + extra + b"\r\n", 1)


def _start_line(rng: random.Random, data: bytes) -> bytes:
    line, sep, rest = data.partition(b"\r\n")
    parts = line.split(b" ")
    k = rng.randrange(3)
    if k == 0 and parts:
        parts[0] = rng.choice(
            [
                b"GET",
                b"POST",
                b"PUT",
                b"DELETE",
                b"PATCH",
                b"get",
                b"TRACE",
                b"CONNECT",
                b"PRI",
                b"G\x00T",
                b"X" * 100,
            ]
        )
    elif k == 1 and len(parts) > 1:
        parts[1] = rng.choice(
            [
                b"*",
                b"/",
                b"http://127.0.0.1/oauth2/token",
                b"/%",
                b"/%zz",
                b"/" + b"a" * 9000,
                parts[1] + b"?a=%ff&a=1&a=2",
                b"/../../etc",
                parts[1] + b"#frag",
                b"/oauth2/token/",
            ]
        )
    elif len(parts) > 2:
        parts[2] = rng.choice(
            [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1x", b"HTTP/9.9", b""]
        )
    return b" ".join(parts) + sep + rest


def _form_values(rng: random.Random, data: bytes) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not body:
        return data
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    name = rng.choice(list(fields) or ["x"])
    value = rng.choice(["", "\u0000", "\ud800", "é" * 50, "a" * 70_000, "%", " ", "null", "[]"])
    pairs = [(k, v) for k, vs in fields.items() for v in vs]
    if rng.random() < 0.5:
        pairs.append((name, value))
    else:
        pairs = [(k, value if k == name else v) for k, v in pairs]
    new = urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
    head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(new), head)
    return head + sep + new


_MUTATIONS = [
    _flip,
    _insert,
    _cut,
    _repeat,
    _truncate,
    _length,
    _header,
    _start_line,
    _form_values,
    _form_values,
]


def malformed(rng: random.Random) -> bytes:
    """HTTP that was never valid."""
    k = rng.randrange(10)
    if k == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if k == 1:
        return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    if k == 2:
        return b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40)
    if k == 3:
        return (
            b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
    if k == 4:
        size = rng.choice([b"zz", b"-1", b"ffffffffffffffffff", b"5;ext=\x01", b"1\r\nab"])
        return (
            b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + size
            + b"\r\nabcde\r\n0\r\n\r\n"
        )
    if k == 5:
        return b"GET /.well-known/jwks\r\n\r\n"  # HTTP/0.9
    if k == 6:
        return (
            b"GET /.well-known/jwks HTTP/1.1\r\n" + b"X: y\r\n" * rng.choice([10, 3000]) + b"\r\n"
        )
    if k == 7:
        return b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n"
    if k == 8:
        return b"\r\n" * rng.randrange(1, 20) + b"GET / HTTP/1.1\r\n\r\n"
    return b"GET /.well-known/jwks HTTP/1.1\r\nHost: x\r\n\r\n" * rng.randrange(2, 30)


# --------------------------------------------------------------------------- the run


@dataclass
class Tally:
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, outcome: str, failure: str | None = None) -> None:
        with self.lock:
            self.statuses.setdefault(kind, Counter())[outcome] += 1
            if failure is not None:
                self.failures.append(failure)


class Client:
    """One thread's requests: valid ones on a kept-alive connection, the others each on a
    connection of its own."""

    def __init__(self, server: Server, rng: random.Random, timeout: float, tally: Tally) -> None:
        self.server = server
        self.rng = rng
        self.timeout = timeout
        self.tally = tally
        self.pool = Pool()
        self.build = Requests(rng, self.pool)
        self.sock: socket.socket | None = None
        self.reader: Reader | None = None

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = self.reader = None

    def one(self) -> None:
        roll = self.rng.random()
        if roll < 0.34:
            self.valid(self.build.any())
        elif roll < 0.67:
            self.alone("mutated", mutate(self.rng, self.build.any()))
        else:
            self.alone("malformed", malformed(self.rng))

    def valid(self, data: bytes) -> None:
        head = data.startswith(b"HEAD ")
        for attempt in range(2):  # a kept-alive connection the server has just closed
            if self.sock is None:
                self.sock = self.server.connect(self.timeout)
                self.reader = Reader(self.sock)
            assert self.reader is not None
            try:
                self.sock.sendall(data)
                answer = self.reader.response(head)
            except Hang:
                self.tally.add("valid", "hang", f"hang on a valid request: {data[:300]!r}")
                self.close()
                return
            except OSError:
                answer = None
            if answer is None:
                self.close()
                if attempt == 0:
                    continue
                self.tally.add("valid", "closed")
                return
            self.record("valid", data, answer)
            self.harvest(data, answer)
            if answer.closes:
                self.close()
            return

    def alone(self, kind: str, data: bytes) -> None:
        shape = classify(data)
        try:
            with self.server.connect(self.timeout) as sock:
                reader = Reader(sock)
                with contextlib.suppress(OSError):
                    sock.sendall(data)
                    if shape == "incomplete":
                        sock.shutdown(socket.SHUT_WR)
                try:
                    answer = reader.response(data.startswith(b"HEAD "))
                    if answer is not None and shape == "incomplete":
                        reader.until_closed()
                except Hang:
                    what = "no close after EOF" if shape == "incomplete" else "hang"
                    self.tally.add(kind, "hang", f"{what} ({kind}, {shape}): {data[:300]!r}")
                    return
        except OSError as exc:
            self.tally.add(kind, f"connect: {type(exc).__name__}")
            return
        if answer is None:
            self.tally.add(kind, "closed")
        else:
            self.record(kind, data, answer)

    def record(self, kind: str, data: bytes, answer: Response) -> None:
        failure = None
        if answer.status >= 500:
            failure = f"{answer.status} for ({kind}) {data[:300]!r}: {answer.body[:300]!r}"
        self.tally.add(kind, str(answer.status), failure)

    def harvest(self, data: bytes, answer: Response) -> None:
        """Keep what a valid answer hands out, for later requests to use."""
        pool = self.pool
        if answer.status in (302, 303) and "location" in answer.headers:
            query = parse_qs(urlsplit(answer.headers["location"]).query)
            if "code" in query:
                _keep(pool.codes, (query["code"][0], ""))
            return
        if answer.status != 200 or not answer.body.startswith(b"{"):
            return
        try:
            doc = json.loads(answer.body)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if isinstance(doc.get("access_token"), str):
            _keep(pool.access, doc["access_token"])
        if isinstance(doc.get("refresh_token"), str):
            _keep(pool.refresh, doc["refresh_token"])
        if isinstance(doc.get("device_code"), str):
            _keep(pool.devices, (doc["device_code"], str(doc.get("user_code", ""))))

    def spa_code(self) -> None:
        """An authorization code for the SPA with PKCE (the builders only ask for Web's)."""
        verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        params = {
            "client_id": SPA.client_id,
            "redirect_uri": SPA.redirect_uris[0],
            "response_type": "code",
            "scope": "openid offline",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with self.server.connect(self.timeout) as sock:
            sock.sendall(request("GET", "/oauth2/auth?" + urlencode(params)))
            answer = Reader(sock).response()
        if answer is not None and "location" in answer.headers:
            code = parse_qs(urlsplit(answer.headers["location"]).query).get("code")
            if code:
                self.pool.codes.append((code[0], verifier))


def _keep(items: list[Any], item: Any) -> None:
    items.append(item)
    del items[:-20]


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    server = Server(args.workers, args.tls)
    print(
        f"fuzzing {server.url} (--workers {args.workers}) with {args.threads} threads, "
        f"seed {args.seed}",
        file=sys.stderr,
        flush=True,
    )
    tally = Tally()
    deadline = time.monotonic() + args.duration if args.duration else None
    lock = threading.Lock()

    def claim() -> bool:
        with lock:
            if tally.sent >= args.requests or (deadline and time.monotonic() > deadline):
                return False
            tally.sent += 1
            return True

    def work(index: int) -> None:
        client = Client(server, random.Random(f"{args.seed}:{index}"), args.timeout, tally)
        n = 0
        while claim():
            if n % 200 == 0:
                with contextlib.suppress(OSError, Hang):
                    client.spa_code()
            try:
                client.one()
            except Exception as exc:  # a bug of the fuzzer's, not the server's
                tally.add("fuzzer", type(exc).__name__, f"fuzzer error: {exc!r}")
            n += 1
        client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    serving = _still_serving(server, args.timeout)
    code = server.stop()
    bad_log = [line for line in server.log if LOG_FAILURE.search(line)]
    _report(tally, elapsed, serving, code, bad_log)
    failed = tally.failures or bad_log or not serving or code != 0
    return 1 if failed else 0


def _still_serving(server: Server, timeout: float) -> bool:
    try:
        for _ in range(4):
            with server.connect(timeout) as sock:
                sock.sendall(request("GET", "/_mockauth/health"))
                answer = Reader(sock).response()
                if answer is None or answer.status != 200:
                    return False
        return True
    except (OSError, Hang):
        return False


def _report(tally: Tally, elapsed: float, serving: bool, code: int, bad_log: list[str]) -> None:
    total = sum(sum(c.values()) for c in tally.statuses.values())
    print(f"requests: {total} in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
    for kind, counts in sorted(tally.statuses.items()):
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(f"  {kind:9} {sum(counts.values()):7}  {shown}")
    print(f"server still serving: {serving}; exit status on SIGINT: {code}")
    print(
        f"failures: {len(tally.failures)}; ERROR/traceback lines in the server log: {len(bad_log)}"
    )
    for failure in tally.failures[:20]:
        print("  " + failure[:600])
    for line in bad_log[:40]:
        print("  log: " + line[:300])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=20_000, help="requests to send (20000)")
    parser.add_argument("--duration", type=float, default=0, help="stop after S seconds")
    parser.add_argument("--seed", default=str(random.randrange(10**6)), help="random seed")
    parser.add_argument("--threads", type=int, default=8, help="client threads (8)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (2)")
    parser.add_argument("--timeout", type=float, default=15.0, help="hang bound, s (15)")
    parser.add_argument("--tls", action="store_true", help="serve and fuzz over HTTPS")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
