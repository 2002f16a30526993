"""TokenValidator: checks Kinde access tokens the way an API must (Kinde's guide, step 4).

Order of checks, and the error each one raises (all under ``TokenValidationError``):

1. structure: three segments in canonical unpadded base64url (no ``=``, whitespace or
   non-ASCII, and no unused bits set in a last character, so each token has one spelling),
   JSON-object header and payload -> MalformedTokenError. A respelled signature is malformed
   too, not an InvalidSignatureError: it is refused here, before any key lookup or refetch.
2. ``alg`` is exactly RS256 -> DisallowedAlgorithmError
3. ``kid`` present and held in the key set (one rate-limited refetch) -> UnknownKeyError
4. RS256 signature -> InvalidSignatureError
5. ``iss`` equals the issuer byte for byte -> InvalidIssuerError
6. ``aud`` (string or list) contains the audience -> InvalidAudienceError
7. ``exp``, then ``nbf`` and ``iat``, with the leeway -> TokenExpiredError, TokenNotYetValidError
8. every required scope granted (``scp``, else ``scope``) -> InsufficientScopeError

``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are never read: keys come only from the
configured key set. JSON holding a lone surrogate (``"\\ud800"``) is malformed; of
duplicate member names the last counts, as RFC 7515 and 7519 allow and PyJWT does.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mockauth import paths
from mockauth.errors import (
    DisallowedAlgorithmError,
    InsufficientPermissionError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnknownKeyError,
)
from mockauth.validator.jwks import (
    ALGORITHM,
    FetchNeeded,
    KeySet,
    KeySource,
    TimeSource,
    _b64decode,
)
from mockauth.validator.segments import json_segment, split_token

_PADDING = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_HEADER_CACHE_SIZE = 256


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
    already held keep working. Each HTTP fetch is bounded by ``timeout`` seconds in all
    (connect, headers and body) and 1 MiB; redirects are refused, and a loopback JWKS host is
    reached without any proxy; ``ssl_context`` verifies an https host (default: the system's
    trust; for ``mockauth serve --tls``, a context trusting its CA). ``clock`` gives the time
    for ``exp``/``nbf``/``iat``; ``monotonic`` paces refetches. Safe to share between threads;
    ``validate_async`` is the form for asyncio event loops (fetches run in a worker thread,
    ``asyncio.to_thread``).
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
        ssl_context: ssl.SSLContext | None = None,
        clock: TimeSource = time.time,
        monotonic: TimeSource = time.monotonic,
    ) -> None:
        if jwks is not None and jwks_url is not None:
            raise ValueError("give jwks_url or jwks, not both")
        # "not >=": NaN compares false both ways, and a NaN leeway would pass expired tokens.
        if not (leeway >= 0 and timeout > 0 and (refetch_interval or 0) >= 0):
            raise ValueError("leeway and refetch_interval must be >= 0, timeout > 0")
        if issuer.endswith("/"):
            # Kinde issuers have none, iss is compared byte for byte, and the JWKS URL is
            # built from it: refuse early rather than fail every token later.
            raise ValueError(f"issuer must not end with '/': {issuer!r}")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.timeout = timeout
        self._clock = clock
        self._key_set: KeySet
        if jwks is None:
            self.jwks_url: str | None = jwks_url or issuer + paths.JWKS
            self._key_set = KeySet.over_http(
                self.jwks_url,
                timeout=timeout,
                refetch_interval=30.0 if refetch_interval is None else refetch_interval,
                monotonic=monotonic,
                ssl_context=ssl_context,
            )
        else:
            self.jwks_url = None
            self._key_set = KeySet.in_process(
                jwks, refetch_interval=refetch_interval or 0.0, monotonic=monotonic
            )
        self._headers: dict[str, str] = {}

    # --- public surface ---

    def validate(
        self,
        token: str,
        required_scopes: Iterable[str] = (),
        *,
        required_permissions: Iterable[str] = (),
    ) -> TokenClaims:
        """Check the token and return its claims, or raise a TokenValidationError.

        ``required_scopes`` (``scp``/``scope``, as M2M tokens carry them) and
        ``required_permissions`` (the ``permissions`` claim of a user's token) are each an
        iterable, or one space-separated string; InsufficientScopeError or
        InsufficientPermissionError name what is missing.
        May fetch the key set over HTTP (bounded); in async code use ``validate_async``.
        """
        needs = (required_scopes, required_permissions)
        return self._validate(token, needs, self._key_set.fetch_key)

    async def validate_async(
        self,
        token: str,
        required_scopes: Iterable[str] = (),
        *,
        required_permissions: Iterable[str] = (),
    ) -> TokenClaims:
        """``validate`` for event loops: a key-set fetch, if needed, runs in a worker thread."""
        needs = (required_scopes, required_permissions)
        try:
            return self._validate(token, needs, self._key_set.defer_fetch)
        except FetchNeeded as need:
            await asyncio.to_thread(self._key_set.fetch_key, need.kid)
        return self._validate(token, needs, self._key_set.held_key)

    def refresh_keys(self) -> tuple[str, ...]:
        """Fetch the key set now, regardless of the refetch interval; return the kids held.

        Raises KeySetUnavailableError if the fetch fails (keys already held are kept).
        """
        return self._key_set.refresh()

    @property
    def kids(self) -> tuple[str, ...]:
        """The kids of the keys currently held."""
        return self._key_set.kids

    @property
    def refetch_interval(self) -> float:
        """Least seconds between key-set fetch attempts (default 30 for a URL, 0 in process)."""
        return self._key_set.refetch_interval

    @refetch_interval.setter
    def refetch_interval(self, seconds: float) -> None:
        if not seconds >= 0:  # NaN too
            raise ValueError(f"refetch_interval must be >= 0, not {seconds!r}")
        self._key_set.refetch_interval = seconds

    # --- the checks ---

    def _validate(
        self,
        token: str,
        needs: tuple[Iterable[str], Iterable[str]],
        on_unknown: Callable[[str], rsa.RSAPublicKey],
    ) -> TokenClaims:
        head, payload, signature = split_token(token)
        claims = json_segment(payload, "payload")
        raw_signature = _b64decode(signature, "signature", canonical=True)
        kid = self._headers.get(head) or self._check_header(head)
        key = self._key_set.keys.get(kid) or on_unknown(kid)
        try:
            key.verify(raw_signature, f"{head}.{payload}".encode(), _PADDING, _SHA256)
        except InvalidSignature:
            raise InvalidSignatureError("the RS256 signature does not verify") from None
        return self._check_claims(claims, *needs)

    def _check_header(self, head: str) -> str:
        header = json_segment(head, "header")
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

    def _check_claims(
        self, claims: dict[str, Any], required: Iterable[str], permissions_needed: Iterable[str]
    ) -> TokenClaims:
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
        permissions = _granted_permissions(claims, strict=bool(permissions_needed))
        if permissions_needed:
            _check_permissions(permissions_needed, permissions)
        return TokenClaims(
            issuer=iss,
            audiences=audiences,
            scopes=granted,
            client_id=_str_or_none(claims.get("azp")),
            subject=_str_or_none(claims.get("sub")),
            org_code=_str_or_none(claims.get("org_code")),
            permissions=permissions,
            expires_at=exp,
            issued_at=issued_at,
            raw=MappingProxyType(claims),
        )

    def _check_times(self, claims: dict[str, Any]) -> tuple[int, int | None]:
        now, leeway = self._clock(), self.leeway
        exp = _numeric(claims, "exp")
        if exp is None:
            raise MalformedTokenError("the token has no exp claim")
        # now - leeway, not exp + leeway: an int exp beyond float range must not overflow.
        if now - leeway >= exp:
            raise TokenExpiredError(f"expired at {exp}, now {now}", expired_at=int(exp))
        iat = _numeric(claims, "iat")
        for start in (_numeric(claims, "nbf"), iat):
            if start is not None and start > now + leeway:
                raise TokenNotYetValidError(f"valid from {start}, now {now}", valid_from=int(start))
        return int(exp), None if iat is None else int(iat)


# --- helpers (module level: no self on the hot path) ---


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


def _granted_permissions(claims: dict[str, Any], *, strict: bool) -> tuple[str, ...]:
    """Kinde's ``permissions`` list; absent means none. Malformed means none too, unless
    permissions are required (then MalformedTokenError): an M2M app's extra claims may
    use the name for something else."""
    value = claims.get("permissions")
    if value is None:
        return ()
    granted = _strings(value) if isinstance(value, list) else None
    if granted is None:
        if strict:
            raise MalformedTokenError(f"permissions must be a list of strings, not {value!r}")
        return ()
    return granted


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedTokenError(f"{name} must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # JSON 1e999 is inf
        raise MalformedTokenError(f"{name} must be a finite number, not {value!r}")
    return value


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _check_scopes(required: Iterable[str], granted: tuple[str, ...]) -> None:
    _check_held(required, granted, InsufficientScopeError, "scopes")


def _check_permissions(required: Iterable[str], granted: tuple[str, ...]) -> None:
    _check_held(required, granted, InsufficientPermissionError, "permissions")


def _check_held(
    required: Iterable[str],
    granted: tuple[str, ...],
    error: type[InsufficientScopeError | InsufficientPermissionError],
    what: str,
) -> None:
    """``required`` (an iterable, or one space-separated string) must all be granted."""
    wanted = tuple(dict.fromkeys(required.split() if isinstance(required, str) else required))
    missing = [s for s in wanted if s not in granted]
    if missing:
        raise error(f"missing {what}: {' '.join(missing)}", required=wanted, granted=granted)
