"""The validator's key set: fetch a JWKS (over HTTP, bounded, or in process), parse it, keep it.

``KeySet`` holds the usable keys by kid. A kid it does not hold triggers one refetch, and
fetch attempts are at least ``refetch_interval`` seconds apart, so bogus kids cannot hammer
the JWKS host; when a fetch fails the keys already held keep working.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import http.client
import json
import logging
import socket
import ssl
import string
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from mockauth.errors import (
    KeySetUnavailableError,
    KeyStoreError,
    MalformedTokenError,
    UnknownKeyError,
)
from mockauth.http.net import opener_for
from mockauth.tokens.keys import KeyStore

# The validator's logger: fetch failures are the validator's to report, under its name.
log = logging.getLogger("mockauth.validator")

ALGORITHM = "RS256"
MIN_KEY_BITS = 2048
# Larger moduli only make each verification slower (a DoS lever, not security).
MAX_KEY_BITS = 4096
# The only exponent real keys use; a huge one costs milliseconds per verification.
RSA_EXPONENT = 65537
MAX_JWKS_BYTES = 1 << 20
# What a failed fetch can raise: network, HTTP, JSON and document errors, a bad keys dir;
# RecursionError is how json reports a hostile body nested too deeply.
_FETCH_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    RecursionError,
    KeyStoreError,
    http.client.HTTPException,
)

TimeSource = Callable[[], float]
KeySource = KeyStore | Mapping[str, Any]


class FetchNeeded(Exception):
    """The async path must fetch keys in a thread before it can go on (``KeySet.defer_fetch``)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid


class KeySet:
    """The RSA keys of one JWKS source by kid, fetched on first use and kept.

    ``keys`` is read without the lock (a fetch replaces the whole dict); fetches hold it.
    The ``fetch_key``, ``defer_fetch`` and ``held_key`` methods are the validator's answers
    to a kid that ``keys`` does not hold: fetch now, ask for a fetch, or give up.
    """

    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        source: str,
        refetch_interval: float,
        monotonic: TimeSource,
    ) -> None:
        self.source = source
        self.refetch_interval = refetch_interval
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetch = fetch
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last_attempt: float | None = None
        self._last_error: str | None = None

    @classmethod
    def over_http(
        cls,
        url: str,
        *,
        timeout: float,
        refetch_interval: float,
        monotonic: TimeSource,
        ssl_context: ssl.SSLContext | None = None,
    ) -> KeySet:
        """Keys from ``url``, each fetch bounded by ``timeout`` (see ``fetch_jwks``)."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"jwks_url must be an http(s) URL: {url!r}")
        fetch = functools.partial(fetch_jwks, url, timeout=timeout, ssl_context=ssl_context)
        return cls(fetch, source=url, refetch_interval=refetch_interval, monotonic=monotonic)

    @classmethod
    def in_process(
        cls, jwks: KeySource, *, refetch_interval: float, monotonic: TimeSource
    ) -> KeySet:
        """Keys from a ``KeyStore`` (read live) or a JWKS document (a dict)."""
        fetch = _store_reader(jwks) if isinstance(jwks, KeyStore) else lambda: jwks
        return cls(
            fetch,
            source="in-process key set",
            refetch_interval=refetch_interval,
            monotonic=monotonic,
        )

    @property
    def kids(self) -> tuple[str, ...]:
        """The kids of the keys currently held."""
        return tuple(self.keys)

    def refresh(self) -> tuple[str, ...]:
        """Fetch now, regardless of the refetch interval; return the kids held.

        Raises KeySetUnavailableError if the fetch fails (keys already held are kept).
        """
        with self._lock:
            self._refetch()
        if self._last_error is not None:
            raise KeySetUnavailableError(self._unavailable(None), kid=None, source=self.source)
        return self.kids

    def fetch_key(self, kid: str) -> rsa.RSAPublicKey:
        """The key for ``kid``, after one refetch if it is not held and the interval allows."""
        with self._lock:
            if kid not in self.keys and self._may_fetch():
                self._refetch()
        return self.keys.get(kid) or self.held_key(kid)

    def defer_fetch(self, kid: str) -> rsa.RSAPublicKey:
        """Raise FetchNeeded if a refetch is allowed; otherwise ``held_key``."""
        if self._may_fetch():
            raise FetchNeeded(kid)
        return self.held_key(kid)

    def held_key(self, kid: str) -> rsa.RSAPublicKey:
        """The key for ``kid`` if held; else KeySetUnavailableError or UnknownKeyError."""
        key = self.keys.get(kid)
        if key is not None:
            return key
        if self._last_error is not None:
            raise KeySetUnavailableError(self._unavailable(kid), kid=kid, source=self.source)
        raise UnknownKeyError(f"no key with kid {kid!r} in {self.source}", kid=kid)

    def _unavailable(self, kid: str | None) -> str:
        return f"cannot check kid {kid!r}: fetching {self.source} failed: {self._last_error}"

    def _may_fetch(self) -> bool:
        last = self._last_attempt
        return last is None or self._monotonic() - last >= self.refetch_interval

    def _refetch(self) -> None:
        """Replace the held keys with a fresh fetch; on failure keep them. Caller holds the lock.

        A first fetch that succeeds does not count toward the interval, so the first key
        rotation after start-up is picked up at once; failures always count.
        """
        first = self._last_attempt is None and not self.keys
        now = self._monotonic()
        try:
            keys = parse_jwks(self._fetch())
        except _FETCH_ERRORS as exc:
            self._last_attempt = now
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "JWKS fetch from %s failed, keeping %d keys: %s",
                self.source,
                len(self.keys),
                self._last_error,
            )
            return
        self.keys = keys
        self._last_error = None
        if not first:
            self._last_attempt = now


def _store_reader(store: KeyStore) -> Callable[[], Mapping[str, Any]]:
    def read() -> Mapping[str, Any]:
        store.refresh()
        return store.jwks()

    return read


def parse_jwks(document: object) -> dict[str, rsa.RSAPublicKey]:
    """The usable keys of a JWKS document, by kid: RSA signing keys of 2048 to 4096 bits
    with exponent 65537.

    Keys of any other type, use, algorithm or size, and malformed entries, are skipped, so no
    key can be used for an algorithm it was not published for and one bad entry does not
    spoil the rest. A document without a ``keys`` list is a ValueError.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document["keys"]:
        key = _rsa_key(jwk)
        if key is not None and jwk["kid"] not in keys:
            keys[jwk["kid"]] = key
    return keys


def _rsa_key(jwk: object) -> rsa.RSAPublicKey | None:
    if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
        return None
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        return None
    try:
        n = int.from_bytes(_b64decode(jwk["n"], "n"), "big")
        e = int.from_bytes(_b64decode(jwk["e"], "e"), "big")
        if e != RSA_EXPONENT or not MIN_KEY_BITS <= n.bit_length() <= MAX_KEY_BITS:
            return None
        return rsa.RSAPublicNumbers(e, n).public_key()
    # Any member of any JSON type may arrive here: a bad entry is skipped, never raised.
    except (KeyError, TypeError, ValueError, AttributeError, MalformedTokenError):
        return None


# '+', '/' and '=' become '!' so strict decoding rejects them: JWS segments are unpadded
# base64url, and standard-alphabet characters are not part of it.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PAD = (b"", b"=", b"==", b"=")  # len % 4 == 1 cannot be base64; strict decoding says so
_DIGITS = {
    c: i for i, c in enumerate(string.ascii_uppercase + string.ascii_lowercase + "0123456789-_")
}
# The low bits of the last character that no byte uses, by len % 4 (1 cannot occur).
_UNUSED_BITS = (0, 0, 0b1111, 0b11)


def _b64decode(segment: str, what: str, *, canonical: bool = False) -> bytes:
    """Strict unpadded base64url, for JWK members here and JWS segments in the validator.

    ``canonical`` (JWS segments) also refuses a last character with unused bits set.
    """
    if not isinstance(segment, str):  # a JWK member can be any JSON value
        raise MalformedTokenError(f"the {what} is not a base64url string")
    try:
        data = segment.encode("ascii").translate(_TO_STANDARD)
        raw = binascii.a2b_base64(data + _PAD[len(segment) % 4], strict_mode=True)
    except (binascii.Error, UnicodeError):
        raise MalformedTokenError(f"the {what} is not base64url") from None
    # Decoders ignore those bits, so up to 16 spellings give the same bytes; a token must
    # have one, or a deny list or cache keyed on the token string is bypassed by respelling
    # it (PyJWT refuses them too). JWK members stay lenient: the JWKS host is trusted.
    if canonical and segment and _DIGITS[segment[-1]] & _UNUSED_BITS[len(segment) % 4]:
        raise MalformedTokenError(f"the {what} is not canonical base64url (unused bits set)")
    return raw


def fetch_jwks(url: str, *, timeout: float, ssl_context: ssl.SSLContext | None = None) -> Any:
    """GET a JWKS document within ``timeout`` seconds all told (name lookup, connect,
    headers, body) and MAX_JWKS_BYTES. Redirects are refused; a loopback host is reached
    without any proxy; https is verified with ``ssl_context`` (default: the system's trust).
    Raises OSError (TimeoutError at the deadline) or ValueError."""
    fetch = _Fetch(url, timeout, ssl_context)
    worker = threading.Thread(target=fetch.run, name="mockauth-jwks-fetch", daemon=True)
    worker.start()
    # urllib bounds each socket operation, not the exchange: a host that sends a header
    # line now and then would hold us (and the key-set lock) for as long as it likes.
    worker.join(timeout)
    if worker.is_alive():
        fetch.abandon()
        raise TimeoutError(f"JWKS fetch timed out: not received within {timeout} s")
    error, fetch.error = fetch.error, None  # its traceback refers back to the fetch
    if error is not None:
        raise error
    if len(fetch.body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(fetch.body)


class _Fetch:
    """One GET, run in a worker thread that the caller can stop waiting for.

    At the deadline the caller abandons it: the sockets of its connections are shut down,
    which ends a blocked read, and a connection that finishes connecting afterwards goes no
    further. (Name lookup and a TLS handshake cannot be cut short; each is still bounded,
    by the resolver and by the per-read ``timeout``.)
    """

    def __init__(self, url: str, timeout: float, ssl_context: ssl.SSLContext | None) -> None:
        # No redirects; no proxy for loopback.
        self._opener = opener_for(url, _Handler(self, ssl_context))
        self._request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "mockauth-validator"}
        )
        self.timeout = timeout
        self.body = b""
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._abandoned = False

    def run(self) -> None:
        try:
            with self._opener.open(self._request, timeout=self.timeout) as response:
                self.body = response.read(MAX_JWKS_BYTES + 1)
        except Exception as exc:  # handed to the caller, whose _FETCH_ERRORS decide
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # it holds the answer open, and so the connection
            self.error = exc
        finally:
            with self._lock:
                self._connections.clear()  # each refers back to this fetch

    def connecting(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def connected(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            abandoned = self._abandoned
        if abandoned:  # connected after the deadline, while abandon() saw no socket yet
            connection.close()
            raise TimeoutError("JWKS fetch abandoned at the deadline")

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            connections = list(self._connections)
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                # Plain socket.shutdown: on a TLS socket it must not touch the TLS state
                # another thread is reading with; it only wakes that read up.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Tracked(http.client.HTTPConnection):
    """A connection its fetch can cut off at the deadline (HTTP and, below, HTTPS)."""

    def __init__(self, host: str, *, fetch: _Fetch, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._fetch = fetch

    def connect(self) -> None:
        self._fetch.connecting(self)
        super().connect()
        self._fetch.connected(self)


class _HTTPConnection(_Tracked):
    pass


class _HTTPSConnection(_Tracked, http.client.HTTPSConnection):
    pass


class _Handler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """urllib's HTTP and HTTPS handlers (replacing both), with connections a fetch can cut off."""

    def __init__(self, fetch: _Fetch, context: ssl.SSLContext | None) -> None:
        super().__init__()
        self._fetch = fetch
        self._ssl_context = context

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPConnection, fetch=self._fetch), req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(
            _HTTPSConnection, fetch=self._fetch, context=self._ssl_context
        )
        return self.do_open(connection, req)
