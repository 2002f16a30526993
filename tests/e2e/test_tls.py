"""HTTPS with the keys dir's local CA: the certificates, a real uvicorn server over TLS,
and `mockauth serve --tls` run as a user runs it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
from cryptography import x509

from mockauth.errors import KeySetUnavailableError, KeyStoreError
from mockauth.http.limits import HEAD_LIMIT
from mockauth.http.server import (
    ServerThread,
    certificate_for,
    outward_addresses,
    wait_until_serving,
)
from mockauth.http.tls import CERT_LIFETIME, RENEW_BEFORE, ensure_tls, system_ca_file, tls_files
from mockauth.testing.helpers import MockAuth
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenValidator
from tests.e2e.test_server import (
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    LINUX_PROC,
    WAIT,
    pause,
    server_errors_logged,
    serving,
    wait_for_state,
    worker_pids,
)

ip = ipaddress.ip_address
LOCAL = {x509.DNSName("localhost"), x509.IPAddress(ip("127.0.0.1")), x509.IPAddress(ip("::1"))}


def sans(path: Path) -> set[x509.GeneralName]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trusting(ca_file: Path | None) -> ssl.SSLContext:
    assert ca_file is not None
    return ssl.create_default_context(cafile=str(ca_file))


# --- the certificates ---


def test_a_keys_dir_gets_a_ca_and_a_server_certificate_for_the_local_names(
    tmp_path: Path,
) -> None:
    files = ensure_tls(tmp_path / "keys")
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert sans(files.cert) == LOCAL
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= CERT_LIFETIME + dt.timedelta(hours=1)
    # Files with a private key are the owner's alone; the CA certificate is for clients.
    for private in (files.cert, files.ca_cert.with_name("ca.key")):
        assert os.stat(private).st_mode & 0o777 == 0o600
    assert os.stat(files.ca_cert).st_mode & 0o077 == 0o044
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.cert)  # key and cert, one file
    # The signing keys ignore the TLS files: one RSA key, no TLS key in the JWKS.
    assert len(KeyStore(tmp_path / "keys").jwks()["keys"]) == 1


def test_the_bundle_holds_the_cas_trusted_here_and_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ensure_tls(tmp_path)
    bundle = files.bundle.read_bytes()
    assert bundle.endswith(files.ca_cert.read_bytes())
    system = system_ca_file()
    if system is not None:  # what this process trusted before: kept, so other HTTPS works
        assert bundle.startswith(system.read_bytes().rstrip())
    assert ssl.create_default_context(cafile=str(files.bundle)).get_ca_certs()
    # A shell that took the advice (SSL_CERT_FILE = the bundle) must not nest it in itself,
    monkeypatch.setenv("SSL_CERT_FILE", str(files.bundle))
    ensure_tls(tmp_path)
    assert files.bundle.read_bytes() == bundle
    # nor take in another keys dir's CA.
    other = ensure_tls(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.bundle))
    ensure_tls(tmp_path)
    assert files.bundle.read_bytes() == bundle
    assert other.ca_cert.read_bytes() not in bundle
    assert bundle.count(b"# mockauth local CA") == 1


def test_certificates_are_reused_while_they_fit(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, ["myhost"])
    before = {p: digest(p) for p in (first.ca_cert, first.cert)}
    again = ensure_tls(tmp_path, ["MyHost."])  # the same name
    assert again == first
    assert {p: digest(p) for p in (again.ca_cert, again.cert)} == before


def test_other_hosts_get_their_own_file_and_leave_the_first_alone(tmp_path: Path) -> None:
    # Two servers on one keys dir, with other hosts: neither may change what the other serves.
    first = ensure_tls(tmp_path)
    cert = digest(first.cert)
    other = ensure_tls(tmp_path, ["api.mockauth.test", "[::2]", "10.0.0.7"])
    assert other.cert != first.cert
    assert other.ca_cert == first.ca_cert
    assert digest(first.cert) == cert
    assert sans(first.cert) == LOCAL
    assert sans(other.cert) == LOCAL | {
        x509.DNSName("api.mockauth.test"),
        x509.IPAddress(ip("::2")),
        x509.IPAddress(ip("10.0.0.7")),
    }


def test_a_server_certificate_near_its_end_is_renewed(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert = digest(files.cert)
    now = dt.datetime.now(dt.UTC)
    ensure_tls(tmp_path, now=now + CERT_LIFETIME - RENEW_BEFORE - dt.timedelta(days=2))
    assert digest(files.cert) == cert  # still a month and more to go
    ensure_tls(tmp_path, now=now + CERT_LIFETIME - RENEW_BEFORE + dt.timedelta(days=2))
    assert digest(files.cert) != cert


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deleted", "other key"])
def test_a_damaged_server_certificate_is_made_again(tmp_path: Path, damage: str) -> None:
    files = ensure_tls(tmp_path)
    whole = files.cert.read_bytes()
    if damage == "garbage":
        files.cert.write_text("not a certificate")
    elif damage == "truncated":
        files.cert.write_bytes(whole[:400])
    elif damage == "deleted":
        files.cert.unlink()
    else:  # the CA's key beside this certificate
        key = files.ca_cert.with_name("ca.key").read_bytes()
        files.cert.write_bytes(key + whole[whole.index(b"-----BEGIN CERTIFICATE") :])
    ensure_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    x509.load_pem_x509_certificate(files.cert.read_bytes()).verify_directly_issued_by(ca)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.cert)


@pytest.mark.parametrize("lost", ["ca.key", "ca.crt"])
def test_half_a_ca_stops_start_up_naming_the_missing_file(tmp_path: Path, lost: str) -> None:
    files = ensure_tls(tmp_path)
    (files.ca_cert.parent / lost).unlink()
    with pytest.raises(KeyStoreError, match=rf"{lost}: missing beside .*; delete .*tls"):
        ensure_tls(tmp_path)


def test_a_ca_certificate_that_does_not_match_its_key_stops_start_up(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    files.ca_cert.write_bytes(files.cert.read_bytes())
    with pytest.raises(KeyStoreError, match=r"ca\.crt: does not match the key"):
        ensure_tls(tmp_path)


def test_a_server_certificate_posing_as_the_ca_stops_start_up(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    # A matching pair, but not a CA: what it signed would never verify.
    pem = files.cert.read_bytes()
    cut = pem.index(b"-----BEGIN CERTIFICATE")
    files.ca_cert.with_name("ca.key").write_bytes(pem[:cut])
    files.ca_cert.write_bytes(pem[cut:])
    with pytest.raises(KeyStoreError, match=r"ca\.crt: not a CA certificate"):
        ensure_tls(tmp_path)


def test_a_ca_key_others_may_read_stops_start_up(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    files.ca_cert.with_name("ca.key").chmod(0o644)
    with pytest.raises(KeyStoreError, match=r"ca\.key: others may read it \(mode 644\).*chmod 600"):
        ensure_tls(tmp_path)


def test_a_tls_path_that_is_a_file_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "tls").write_text("")
    with pytest.raises(KeyStoreError, match=r"cannot create .*tls: File exists"):
        ensure_tls(tmp_path)


@pytest.mark.parametrize("host", ["bücher.test", "*", "bad host", "localhost:80", "a..b", ""])
def test_a_host_that_cannot_be_named_in_a_certificate_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(KeyStoreError, match=r"cannot make a TLS certificate for host .*: not a"):
        ensure_tls(tmp_path, [host])
    assert not (tmp_path / "tls").exists()  # refused before anything is written


def test_a_wildcard_bind_names_this_machine_and_the_issuer_host(tmp_path: Path) -> None:
    files = certificate_for(tmp_path, "0.0.0.0", "https://auth.mockauth.test:9443")
    names = sans(files.cert)
    assert x509.DNSName(socket.gethostname().lower()) in names
    assert x509.DNSName("auth.mockauth.test") in names
    assert x509.IPAddress(ip("0.0.0.0")) not in names
    # Its outward addresses too, so a container can reach it by IP; each is really its own.
    addresses = {n.value for n in names if isinstance(n, x509.IPAddress)} - {ip("127.0.0.1")}
    assert {str(a) for a in addresses - {ip("::1")}} == set(outward_addresses())
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        with socket.socket(family) as sock:
            sock.bind((str(address), 0))  # OSError if the address is not this machine's


def test_processes_started_at_once_on_one_keys_dir_make_one_ca(tmp_path: Path) -> None:
    code = (
        "import sys; from mockauth.http.tls import ensure_tls; "
        "f = ensure_tls(sys.argv[1]); print(f.ca_cert.read_text())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "keys")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=WAIT)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert len(set(outputs)) == 1
    assert outputs[0].strip() == tls_files(tmp_path / "keys").ca_cert.read_text().strip()


# --- a real server over TLS ---


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(keys_dir=tmp_path_factory.mktemp("tls-keys"), tls=True) as server:
        yield server


@contextlib.contextmanager
def https(
    server: ServerThread, *, host: str | None = None
) -> Iterator[http.client.HTTPSConnection]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPSConnection(
        host or parts.hostname or "", parts.port, timeout=WAIT, context=trusting(server.ca_file)
    )
    try:
        yield conn
    finally:
        conn.close()


def post_token(conn: http.client.HTTPConnection, **extra: str) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": API,
        **extra,
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/oauth2/token", body=urlencode(form), headers=headers)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_tokens_over_https_verify_with_pyjwkclient_against_the_https_jwks(
    tls_server: ServerThread,
) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert tls_server.issuer == tls_server.url
    with https(tls_server) as conn:
        status, body = post_token(conn, scope="read:calendar")
    assert status == 200, body
    token = body["access_token"]
    for path in ("/.well-known/jwks", "/.well-known/jwks.json"):
        client = jwt.PyJWKClient(tls_server.url + path, ssl_context=trusting(tls_server.ca_file))
        claims = jwt.decode(
            token,
            client.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],
            audience=API,
            issuer=tls_server.issuer,
        )
        assert claims["scp"] == ["read:calendar"]


def test_discovery_over_https_names_https_urls_only(tls_server: ServerThread) -> None:
    with https(tls_server, host="localhost") as conn:  # the certificate names localhost too
        conn.request("GET", "/.well-known/openid-configuration")
        doc = json.loads(conn.getresponse().read())
    urls = [v for v in doc.values() if isinstance(v, str) and "://" in v]
    assert len(urls) >= 8
    assert all(u.startswith(tls_server.issuer + "/") or u == tls_server.issuer for u in urls)


def test_the_validator_fetches_the_jwks_over_https_with_the_ca(tls_server: ServerThread) -> None:
    with https(tls_server) as conn:
        status, body = post_token(conn)
    assert status == 200
    validator = TokenValidator(
        issuer=tls_server.issuer, audience=API, ssl_context=trusting(tls_server.ca_file)
    )
    assert validator.validate(body["access_token"], ["read:calendar"]).client_id == CLIENT_ID
    # Without the CA the certificate is not trusted: verification is real.
    untrusting = TokenValidator(issuer=tls_server.issuer, audience=API, timeout=WAIT)
    with pytest.raises(KeySetUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.validate(body["access_token"])


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_server: ServerThread) -> None:
    parts = urlsplit(tls_server.url)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, timeout=WAIT, context=ssl.create_default_context()
    )
    with contextlib.closing(conn), pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/.well-known/jwks")


def test_the_fast_path_answers_over_tls_on_a_kept_alive_connection(
    tls_server: ServerThread,
) -> None:
    fast = tls_server.app.fast_path  # type: ignore[attr-defined]
    before = fast.served
    with https(tls_server) as conn:
        for _ in range(3):
            assert post_token(conn)[0] == 200
            conn.request("GET", "/.well-known/jwks")
            assert json.loads(conn.getresponse().read())["keys"]
    assert fast.served - before == 6


def test_a_huge_header_over_tls_gets_the_oauth_431(tls_server: ServerThread) -> None:
    # No half-close on TLS: the answer must still arrive before the connection ends.
    parts = urlsplit(tls_server.url)
    raw = socket.create_connection((parts.hostname, parts.port), timeout=WAIT)
    with trusting(tls_server.ca_file).wrap_socket(raw, server_hostname=parts.hostname) as sock:
        sock.sendall(b"GET /.well-known/jwks HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sock.sendall(b"a" * (HEAD_LIMIT * 3))  # past the limit however TLS records fall
        received = b""
        while chunk := _recv(sock):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), received[:200]
    assert json.loads(body)["error"] == "invalid_request"
    assert _still_serving(tls_server)


def _recv(sock: ssl.SSLSocket) -> bytes:
    try:
        return sock.recv(65536)
    except (ssl.SSLError, ConnectionResetError):
        return b""  # the server dropped the rest: the answer is what came before


def _still_serving(server: ServerThread) -> bool:
    with https(server) as conn:
        conn.request("GET", "/.well-known/jwks")
        return conn.getresponse().status == 200


def test_plain_http_to_the_tls_port_is_dropped_and_the_server_keeps_serving(
    tls_server: ServerThread,
) -> None:
    parts = urlsplit(tls_server.url)
    with server_errors_logged() as errors:
        with socket.create_connection((parts.hostname, parts.port), timeout=WAIT) as sock:
            sock.sendall(b"GET /.well-known/jwks HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _recv_plain(sock) == b""
        assert _still_serving(tls_server)
    assert errors == []


def _recv_plain(sock: socket.socket) -> bytes:
    try:
        return sock.recv(100)
    except ConnectionResetError:
        return b""


def test_stopping_with_an_idle_tls_client_is_prompt_and_quiet(tmp_path: Path) -> None:
    server = ServerThread(keys_dir=tmp_path, tls=True).start()
    with https(server) as conn:
        conn.request("GET", "/.well-known/jwks")
        assert conn.getresponse().read()  # the connection stays open, idle
        with server_errors_logged() as errors:
            server.stop()
        # Else uvicorn waits for a TLS close_notify the client never sends, then logs
        # "Cancel 0 running task(s), timeout graceful shutdown exceeded".
        assert errors == []
        assert isinstance(conn.sock, ssl.SSLSocket)
        conn.sock.settimeout(WAIT)
        assert _recv(conn.sock) == b""


def test_stopping_with_a_tls_request_in_flight_sends_its_answer_then_goes(
    tmp_path: Path,
) -> None:
    server = ServerThread(keys_dir=tmp_path, tls=True).start()
    helper = MockAuth(server.tenant, server.url)
    helper.fault(endpoint="jwks", effect="latency", delay=0.5)
    parts = urlsplit(server.url)
    raw = socket.create_connection((parts.hostname, parts.port), timeout=WAIT)
    # A client that reads its answer and keeps the socket (http.client would close it on the
    # answer's "connection: close").
    with trusting(server.ca_file).wrap_socket(raw, server_hostname=parts.hostname) as sock:
        sock.sendall(b"GET /.well-known/jwks HTTP/1.1\r\nHost: x\r\n\r\n")  # answered in 0.5 s
        with server_errors_logged() as errors:
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"]}"):
                received += sock.recv(65536)  # the shutdown lets it finish
            stopper.join(WAIT)
        assert received.startswith(b"HTTP/1.1 200 ")
        assert errors == []


def test_stopping_loses_no_byte_of_a_large_tls_answer_the_client_is_slow_to_read(
    tmp_path: Path,
) -> None:
    server = ServerThread(keys_dir=tmp_path, tls=True)
    # Small kernel buffers, as on a slow link: most of the answer waits in the server process,
    # where an abort would lose it (the kernel still delivers what it has taken).
    server._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    server.start()
    with https(server) as conn:  # a journal of about 80 KB to ask for
        for _ in range(server.tenant.journal.size):
            conn.request("GET", "/.well-known/jwks")
            conn.getresponse().read()
    parts = urlsplit(server.url)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # most of it waits at the server
    raw.settimeout(WAIT)
    raw.connect((parts.hostname, parts.port))
    with trusting(server.ca_file).wrap_socket(raw, server_hostname=parts.hostname) as sock:
        host = parts.netloc.encode()  # the admin API answers only its own Host
        sock.sendall(b"GET /_mockauth/journal?limit=1000 HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        time.sleep(0.3)  # answered: what the kernel has not taken waits in the server
        with server_errors_logged() as errors:
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            time.sleep(0.3)  # the shutdown has begun; only now does the client read
            received = b""
            while chunk := _recv(sock):
                received += chunk
            stopper.join(WAIT)
        assert errors == []
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert length > 60_000
    assert len(body) == length
    assert len(json.loads(body)["entries"]) == server.tenant.journal.size


def test_a_server_thread_without_a_keys_dir_keeps_its_ca_until_it_stops() -> None:
    with ServerThread(tls=True) as server:
        ca = server.ca_file
        assert ca is not None and ca.exists()
        assert _still_serving(server)
    assert not ca.exists()
    plain = ServerThread()
    plain.stop()
    assert plain.ca_file is None
    assert plain.url.startswith("http://")


# --- mockauth serve --tls ---


def test_serve_tls_announces_the_ca_and_serves_kindes_flow_over_https(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with serving("--tls", "--port", "0", "--keys-dir", str(keys), cwd=tmp_path) as proc:
        url = proc.url()
        assert url.startswith("https://127.0.0.1:")
        banner = proc.banner(until_audience=API)
        ca = tls_files(keys).ca_cert.resolve()
        bundle = tls_files(keys).bundle.resolve()
        assert banner["issuer"] == [url]
        assert banner["CA cert"] == [str(ca)]
        assert banner["CA bundle"][0].startswith(f"{bundle} ")
        assert f"SSL_CERT_FILE={bundle} REQUESTS_CA_BUNDLE={bundle}" in banner["trust it"][0]
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "audience": API,
            }
        )
        # The advice as printed: a process whose SSL_CERT_FILE is the bundle trusts the server.
        code = (
            "import sys, urllib.request; "
            "print(urllib.request.urlopen(sys.argv[1], data=sys.argv[2].encode()).read().decode())"
        )
        clients = [[sys.executable, "-c", code, url + "/oauth2/token", form]]
        if shutil.which("curl"):  # and an HTTP client that is not Python's
            clients.append(["curl", "-sS", "--cacert", str(ca), url + "/oauth2/token", "-d", form])
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
        for client in clients:
            done = subprocess.run(
                client,
                env=env | {"SSL_CERT_FILE": str(bundle)},
                capture_output=True,
                text=True,
                timeout=WAIT,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            token = json.loads(done.stdout)["access_token"]
            assert jwt.decode(token, options={"verify_signature": False})["iss"] == url
        assert proc.stop() == 0


@LINUX_PROC
def test_serve_tls_with_two_workers_answers_from_both(tmp_path: Path) -> None:
    env = {"MOCKAUTH_TLS": "1", "MOCKAUTH_WORKERS": "2"}
    with serving("--port", "0", "--keys-dir", str(tmp_path / "k"), cwd=tmp_path, env=env) as proc:
        url = proc.url()
        ca = tls_files(tmp_path / "k").ca_cert
        parts = urlsplit(url)
        workers = worker_pids(proc.proc.pid)
        assert len(workers) == 2
        for stopped, _alone in itertools.permutations(workers):
            # With one worker stopped, the other must answer over TLS.
            pause(stopped)
            try:
                wait_for_state(stopped, "T")
                conn = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=WAIT, context=trusting(ca)
                )
                with contextlib.closing(conn):
                    assert post_token(conn)[0] == 200
            finally:
                os.kill(stopped, signal.SIGCONT)
        assert proc.stop() == 0


def test_token_follows_mockauth_tls_for_its_default_issuer(tmp_path: Path) -> None:
    def token(flag: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
        command = ["token", "--keys-dir", str(tmp_path), "--audience", API]
        return subprocess.run(
            [sys.executable, "-m", "mockauth", *command],
            env=env | {"MOCKAUTH_TLS": flag},
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )

    done = token("yes")
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == "https://127.0.0.1:8400"
    bad = token("maybe")
    assert bad.returncode == 2
    assert "MOCKAUTH_TLS = 'maybe' is not a boolean" in bad.stderr


def test_serve_tls_with_a_half_ca_exits_2_naming_the_file(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path / "keys")
    files.ca_cert.unlink()
    with serving("--tls", "--port", "0", "--keys-dir", str(tmp_path / "keys"), cwd=tmp_path) as p:
        assert p.proc.wait(WAIT) == 2
    assert any("ca.crt: missing beside" in line for line in p.stderr), p.stderr


def test_the_admin_cli_reaches_a_tls_server_that_it_trusts(tls_server: ServerThread) -> None:
    from tests.e2e.test_admin_cli import run

    assert tls_server.tls is not None
    trust = {"SSL_CERT_FILE": str(tls_server.tls.bundle)}  # as the start-up block advises
    listed = run("fault", "list", url=tls_server.url, env=trust)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout == "no fault rules\n"
    refused = run("fault", "list", url=tls_server.url, env={"SSL_CERT_FILE": os.devnull})
    assert refused.exit_code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert "trust its CA: SSL_CERT_FILE=<its keys dir>/tls/bundle.pem" in refused.stderr
    # Without --url: where `serve` listens with the same MOCKAUTH_* settings.
    port = str(urlsplit(tls_server.url).port)
    found = run("fault", "list", env=trust | {"MOCKAUTH_TLS": "1", "MOCKAUTH_PORT": port})
    assert found.exit_code == 0, found.stderr


def test_the_start_up_probe_says_why_a_server_does_not_answer(tls_server: ServerThread) -> None:
    # serve prints the start-up block only once this answers; else it logs the reason.
    assert wait_until_serving(tls_server.url, ca_file=tls_server.ca_file) is None
    problem = wait_until_serving(tls_server.url, timeout=0.5, ca_file=None)
    assert problem is not None and "CERTIFICATE_VERIFY_FAILED" in problem


def test_serve_tls_with_a_host_no_certificate_can_name_exits_2_and_writes_nothing(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    with serving("--tls", "--host", "bad host", "--keys-dir", str(keys), cwd=tmp_path) as p:
        assert p.proc.wait(WAIT) == 2
    assert any("cannot make a TLS certificate for host 'bad host'" in x for x in p.stderr)
    assert not keys.exists()
