"""TokenValidator: checks Kinde access tokens the way an API must (Kinde's guide, step 4).

Order of checks, and the error each one raises (all under ``TokenValidationError``):

1. structure: three base64url segments, JSON-object header and payload -> MalformedTokenError
2. ``alg`` is exactly RS256 -> DisallowedAlgorithmError
3. ``kid`` present and held in the key set (one rate-limited refetch) -> UnknownKeyError
4. RS256 signature -> InvalidSignatureError
5. ``iss`` equals the issuer byte for byte -> InvalidIssuerError
6. ``aud`` (string or list) contains the audience -> InvalidAudienceError
7. ``exp``, then ``nbf`` and ``iat``, with the leeway -> TokenExpiredError, TokenNotYetValidError
8. every required scope granted (``scp``, else ``scope``) -> InsufficientScopeError

``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are never read: keys come only from the
configured key set.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import http.client
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mockauth import paths
from mockauth.errors import (
    DisallowedAlgorithmError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    KeySetUnavailableError,
    KeyStoreError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
    UnknownKeyError,
)
from mockauth.keys import KeyStore

log = logging.getLogger("mockauth.validator")

ALGORITHM = "RS256"
MIN_KEY_BITS = 2048
MAX_TOKEN_LENGTH = 65_536
MAX_JWKS_BYTES = 1 << 20
_PADDING = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_HEADER_CACHE_SIZE = 256
# What a failed fetch can raise: network, HTTP, JSON and document errors, a bad keys dir.
_FETCH_ERRORS = (OSError, ValueError, TypeError, KeyError, KeyStoreError, http.client.HTTPException)

TimeSource = Callable[[], float]
KeySource = KeyStore | Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenClaims:
    """A validated token's claims, typed; ``raw`` holds every claim as sent."""

    issuer: str
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    client_id: str | None
    subject: str | None
    org_code: str | None
    permissions: tuple[str, ...]
    expires_at: int
    issued_at: int | None
    raw: Mapping[str, Any]

    def has_scopes(self, *scopes: str) -> bool:
        """True when every one of ``scopes`` was granted."""
        return all(s in self.scopes for s in scopes)


class _FetchNeeded(Exception):
    """Internal: the async path must fetch keys in a thread before it can go on."""

    def __init__(self, kid: str) -> None:
        self.kid = kid


class TokenValidator:
    """Validates RS256 access tokens for one issuer and one API audience.

    >>> validator = TokenValidator(issuer="https://acme.kinde.com",
    ...                            audience="https://api.example.com")
    >>> claims = validator.validate(token, required_scopes=["read:calendar"])

    Keys come from ``jwks_url`` (default ``<issuer>/.well-known/jwks``) over HTTP, or from
    ``jwks`` in process: a ``KeyStore`` (read live) or a JWKS document (a dict). The key set
    is fetched on first use and kept; a token whose ``kid`` is not held triggers one refetch,
    and fetch attempts are at least ``refetch_interval`` seconds apart (default 30 for a URL,
    0 in process), so bogus kids cannot hammer the JWKS host. When a fetch fails the keys
    already held keep working. Each HTTP fetch is bounded by about ``timeout`` seconds
    (connect and every read) and 1 MiB. ``clock`` gives the time for ``exp``/``nbf``/``iat``;
    ``monotonic`` paces refetches. Safe to share between threads; ``validate_async`` is the
    form for asyncio event loops (fetches run in a worker thread, ``asyncio.to_thread``).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks: KeySource | None = None,
        leeway: float = 0,
        refetch_interval: float | None = None,
        timeout: float = 5.0,
        clock: TimeSource = time.time,
        monotonic: TimeSource = time.monotonic,
    ) -> None:
        if jwks is not None and jwks_url is not None:
            raise ValueError("give jwks_url or jwks, not both")
        if leeway < 0 or timeout <= 0 or (refetch_interval or 0) < 0:
            raise ValueError("leeway and refetch_interval must be >= 0, timeout > 0")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.timeout = timeout
        self._clock = clock
        self._monotonic = monotonic
        self._fetch: Callable[[], Any]
        if jwks is None:
            self.jwks_url: str | None = jwks_url or issuer + paths.JWKS
            if urllib.parse.urlsplit(self.jwks_url).scheme not in ("http", "https"):
                raise ValueError(f"jwks_url must be an http(s) URL: {self.jwks_url!r}")
            self._fetch = functools.partial(fetch_jwks, self.jwks_url, timeout=timeout)
            self.refetch_interval = 30.0 if refetch_interval is None else refetch_interval
        else:
            self.jwks_url = None
            self._fetch = _store_reader(jwks) if isinstance(jwks, KeyStore) else lambda: jwks
            self.refetch_interval = refetch_interval or 0.0
        self._source = self.jwks_url or "in-process key set"
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._last_attempt: float | None = None
        self._last_error: str | None = None

    # --- public surface ---

    def validate(self, token: str, required_scopes: Iterable[str] = ()) -> TokenClaims:
        """Check the token and return its claims, or raise a TokenValidationError.

        ``required_scopes`` is an iterable of scopes, or one space-separated string.
        May fetch the key set over HTTP (bounded); in async code use ``validate_async``.
        """
        return self._validate(token, required_scopes, self._fetch_key)

    async def validate_async(self, token: str, required_scopes: Iterable[str] = ()) -> TokenClaims:
        """``validate`` for event loops: a key-set fetch, if needed, runs in a worker thread."""
        try:
            return self._validate(token, required_scopes, self._defer_fetch)
        except _FetchNeeded as need:
            await asyncio.to_thread(self._fetch_key, need.kid)
        return self._validate(token, required_scopes, self._no_key)

    def refresh_keys(self) -> tuple[str, ...]:
        """Fetch the key set now, regardless of the refetch interval; return the kids held.

        Raises KeySetUnavailableError if the fetch fails (keys already held are kept).
        """
        with self._lock:
            self._refetch()
        if self._last_error is not None:
            raise KeySetUnavailableError(self._unavailable(None), kid=None, source=self._source)
        return self.kids

    @property
    def kids(self) -> tuple[str, ...]:
        """The kids of the keys currently held."""
        return tuple(self._keys)

    # --- the checks ---

    def _validate(
        self,
        token: str,
        required_scopes: Iterable[str],
        on_unknown: Callable[[str], rsa.RSAPublicKey],
    ) -> TokenClaims:
        head, payload, signature = _split(token)
        claims = _json_object(payload, "payload")
        raw_signature = _b64decode(signature, "signature")
        kid = self._headers.get(head) or self._check_header(head)
        key = self._keys.get(kid) or on_unknown(kid)
        try:
            key.verify(raw_signature, f"{head}.{payload}".encode(), _PADDING, _SHA256)
        except InvalidSignature:
            raise InvalidSignatureError("the RS256 signature does not verify") from None
        return self._check_claims(claims, required_scopes)

    def _check_header(self, head: str) -> str:
        header = _json_object(head, "header")
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise DisallowedAlgorithmError(f"algorithm {alg!r} is not allowed", algorithm=alg)
        if "crit" in header:
            raise MalformedTokenError("critical header extensions are not supported")
        kid = header.get("kid")
        if kid is None:
            raise UnknownKeyError("the token header has no kid", kid=None)
        if not isinstance(kid, str):
            raise MalformedTokenError(f"kid must be a string, not {kid!r}")
        if len(self._headers) >= _HEADER_CACHE_SIZE:
            self._headers.clear()
        self._headers[head] = kid
        return kid

    def _check_claims(self, claims: dict[str, Any], required: Iterable[str]) -> TokenClaims:
        iss = claims.get("iss")
        if iss != self.issuer:
            raise InvalidIssuerError(
                f"iss {iss!r} is not {self.issuer!r}", expected=self.issuer, actual=iss
            )
        aud = claims.get("aud")
        audiences = _strings(aud)
        if audiences is None or self.audience not in audiences:
            raise InvalidAudienceError(
                f"aud {aud!r} does not contain {self.audience!r}",
                expected=self.audience,
                actual=aud,
            )
        exp, issued_at = self._check_times(claims)
        granted = _granted_scopes(claims)
        if required:
            _check_scopes(required, granted)
        permissions = claims.get("permissions")
        return TokenClaims(
            issuer=iss,
            audiences=audiences,
            scopes=granted,
            client_id=_str_or_none(claims.get("azp")),
            subject=_str_or_none(claims.get("sub")),
            org_code=_str_or_none(claims.get("org_code")),
            permissions=(_strings(permissions) or ()) if permissions is not None else (),
            expires_at=exp,
            issued_at=issued_at,
            raw=MappingProxyType(claims),
        )

    def _check_times(self, claims: dict[str, Any]) -> tuple[int, int | None]:
        now, leeway = self._clock(), self.leeway
        exp = _numeric(claims, "exp")
        if exp is None:
            raise MalformedTokenError("the token has no exp claim")
        if now >= exp + leeway:
            raise TokenExpiredError(f"expired at {exp}, now {now}", expired_at=int(exp))
        iat = _numeric(claims, "iat")
        for start in (_numeric(claims, "nbf"), iat):
            if start is not None and start > now + leeway:
                raise TokenNotYetValidError(f"valid from {start}, now {now}", valid_from=int(start))
        return int(exp), None if iat is None else int(iat)

    # --- the key set ---

    def _fetch_key(self, kid: str) -> rsa.RSAPublicKey:
        with self._lock:
            if kid not in self._keys and self._may_fetch():
                self._refetch()
        return self._keys.get(kid) or self._no_key(kid)

    def _defer_fetch(self, kid: str) -> rsa.RSAPublicKey:
        if self._may_fetch():
            raise _FetchNeeded(kid)
        return self._no_key(kid)

    def _no_key(self, kid: str) -> rsa.RSAPublicKey:
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._last_error is not None:
            raise KeySetUnavailableError(self._unavailable(kid), kid=kid, source=self._source)
        raise UnknownKeyError(f"no key with kid {kid!r} in {self._source}", kid=kid)

    def _unavailable(self, kid: str | None) -> str:
        return f"cannot check kid {kid!r}: fetching {self._source} failed: {self._last_error}"

    def _may_fetch(self) -> bool:
        last = self._last_attempt
        return last is None or self._monotonic() - last >= self.refetch_interval

    def _refetch(self) -> None:
        """Replace the held keys with a fresh fetch; on failure keep them. Caller holds the lock."""
        self._last_attempt = self._monotonic()
        try:
            keys = parse_jwks(self._fetch())
        except _FETCH_ERRORS as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "JWKS fetch from %s failed, keeping %d keys: %s",
                self._source,
                len(self._keys),
                self._last_error,
            )
            return
        self._keys = keys
        self._last_error = None


# --- helpers (module level: no self on the hot path) ---


def _split(token: object) -> list[str]:
    """The three segments of a compact JWS; MalformedTokenError unless there are three."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedTokenError("not a token string of at most 64 KiB")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedTokenError(f"a JWS has 3 segments, this has {len(parts)}")
    return parts


# '+', '/' and '=' become '!' so strict decoding rejects them: JWS segments are unpadded
# base64url, and standard-alphabet characters are not part of it.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PAD = (b"", b"=", b"==", b"=")  # len % 4 == 1 cannot be base64; strict decoding says so


def _b64decode(segment: str, what: str) -> bytes:
    try:
        data = segment.encode("ascii").translate(_TO_STANDARD)
        return binascii.a2b_base64(data + _PAD[len(segment) % 4], strict_mode=True)
    except (binascii.Error, UnicodeError):
        raise MalformedTokenError(f"the {what} is not base64url") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    raw = _b64decode(segment, what)
    try:
        value = _JSON.decode(raw.decode("utf-8"))
    except ValueError:
        raise MalformedTokenError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {what} is not a JSON object")
    return value


def _strings(value: object) -> tuple[str, ...] | None:
    """A claim holding one string or a list of strings, as a tuple; None if neither."""
    if isinstance(value, list):
        return tuple(value) if all(isinstance(v, str) for v in value) else None
    return (value,) if isinstance(value, str) else None


def _granted_scopes(claims: dict[str, Any]) -> tuple[str, ...]:
    """Kinde's ``scp`` list, else the space-separated ``scope``; absent means none."""
    scp = claims.get("scp")
    if scp is None:
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise MalformedTokenError(f"scope must be a string, not {scope!r}")
        return tuple(scope.split())
    granted = _strings(scp) if isinstance(scp, list) else None
    if granted is None:
        raise MalformedTokenError(f"scp must be a list of strings, not {scp!r}")
    return granted


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedTokenError(f"{name} must be a number, not {value!r}")
    return value


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _check_scopes(required: Iterable[str], granted: tuple[str, ...]) -> None:
    wanted = tuple(dict.fromkeys(required.split() if isinstance(required, str) else required))
    missing = [s for s in wanted if s not in granted]
    if missing:
        raise InsufficientScopeError(
            f"missing scopes: {' '.join(missing)}", required=wanted, granted=granted
        )


def _store_reader(store: KeyStore) -> Callable[[], Mapping[str, Any]]:
    def read() -> Mapping[str, Any]:
        store.refresh()
        return store.jwks()

    return read


def parse_jwks(document: object) -> dict[str, rsa.RSAPublicKey]:
    """The usable keys of a JWKS document, by kid: RSA signing keys of 2048 bits or more.

    Keys of any other type, use or algorithm are skipped, so no key can be used for an
    algorithm it was not published for. A document without a ``keys`` list is a ValueError.
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
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, TypeError, ValueError, MalformedTokenError):
        return None
    return key if key.key_size >= MIN_KEY_BITS else None


def fetch_jwks(url: str, *, timeout: float) -> Any:
    """GET a JWKS document: connect and each read bounded by ``timeout``, the whole body by a
    ``timeout`` deadline and MAX_JWKS_BYTES. Raises OSError or ValueError on failure."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "mockauth-validator"}
    )
    body = bytearray()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        while chunk := response.read1(65_536):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"JWKS not received within {timeout} s")
    return json.loads(body)


# --- Starlette / FastAPI integration ---

_DESCRIPTIONS: Mapping[type[TokenValidationError], str] = {
    TokenExpiredError: "The access token expired",
    TokenNotYetValidError: "The access token is not valid yet",
    InvalidAudienceError: "The access token is not meant for this API",
    InvalidIssuerError: "The access token comes from another issuer",
}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class ScopeGuard:
    """An endpoint guard from ``requires_scopes``: a dependency and a decorator.

    As a dependency (Starlette or FastAPI): ``claims = await guard(request)``, or in
    FastAPI ``claims: TokenClaims = Depends(guard)``. As a decorator of a Starlette
    endpoint: ``@guard.protect`` on ``async def endpoint(request, claims)``.
    Failures raise starlette's HTTPException, which both frameworks render with its headers:
    401 ``WWW-Authenticate: Bearer`` without a token, 401 ``error="invalid_token"`` for a bad
    one, 403 ``error="insufficient_scope" scope="..."`` for missing scopes (RFC 6750), and
    503 while the key set cannot be fetched and the token's kid is not held.
    """

    def __init__(self, validator: TokenValidator, scopes: tuple[str, ...]) -> None:
        self.validator = validator
        self.scopes = scopes

    async def __call__(self, request: Request) -> TokenClaims:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise HTTPException(401, "Bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            return await self.validator.validate_async(token, self.scopes)
        except InsufficientScopeError as exc:
            challenge = (
                'Bearer error="insufficient_scope", '
                'error_description="The access token lacks a required scope", '
                f'scope="{" ".join(self.scopes)}"'
            )
            raise HTTPException(403, str(exc), {"WWW-Authenticate": challenge}) from exc
        except KeySetUnavailableError as exc:
            raise HTTPException(503, "Token keys are unavailable; try again later") from exc
        except TokenValidationError as exc:
            text = _DESCRIPTIONS.get(type(exc), "The access token is invalid")
            challenge = f'Bearer error="invalid_token", error_description="{text}"'
            raise HTTPException(401, text, {"WWW-Authenticate": challenge}) from exc

    def protect(
        self, endpoint: Callable[[Request, TokenClaims], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Decorate ``endpoint(request, claims)`` into a Starlette endpoint ``(request)``."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            return await endpoint(request, await self(request))

        return guarded


def requires_scopes(validator: TokenValidator, *scopes: str) -> ScopeGuard:
    """Guard an endpoint: a valid bearer token granting every one of ``scopes``.

    >>> read_calendar = requires_scopes(validator, "read:calendar")
    >>> @read_calendar.protect
    ... async def events(request: Request, claims: TokenClaims) -> Response: ...
    """
    return ScopeGuard(validator, tuple(scopes))
