"""Bad tokens by fault name: what fault injection serves and what the strategies generate.

Each builder takes the factory that issues good tokens and the claims of a good token, and
returns a token carrying exactly one fault. ``BAD_TOKENS`` pairs each fault with the error a
correct validator must raise for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from mockauth.errors import (
    DisallowedAlgorithmError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
    UnknownKeyError,
)
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.encoding import b64url, encode_segment
from mockauth.tokens.keys import KeyStore

Claims = dict[str, Any]
WRONG_AUDIENCE = "https://wrong-audience.example.invalid"
WRONG_ISSUER = "https://wrong-issuer.kinde.com"


def expired(factory: TokenFactory, claims: Claims, *, by: int = 3600) -> str:
    """Valid in every way but expired ``by`` seconds ago (lifetime kept).

    The default hour is past any sane validator leeway, so an API must reject it.
    """
    shift = claims["exp"] - factory.clock() + by
    return factory.sign({**claims, "iat": claims["iat"] - shift, "exp": claims["exp"] - shift})


def not_yet_valid(factory: TokenFactory, claims: Claims, *, by: int = 3600) -> str:
    """Issued and valid only from ``by`` seconds in the future."""
    start = factory.clock() + by
    lifetime = claims["exp"] - claims["iat"]
    return factory.sign({**claims, "iat": start, "nbf": start, "exp": start + lifetime})


def wrong_audience(factory: TokenFactory, claims: Claims, *, audience: str = WRONG_AUDIENCE) -> str:
    return factory.sign({**claims, "aud": [audience]})


def wrong_issuer(factory: TokenFactory, claims: Claims, *, issuer: str = WRONG_ISSUER) -> str:
    return factory.sign({**claims, "iss": issuer})


def missing_scopes(
    factory: TokenFactory, claims: Claims, *, drop: tuple[str, ...] | None = None
) -> str:
    """Without the scopes in ``drop`` (default: all of them)."""
    kept = [s for s in claims.get("scp", []) if drop is not None and s not in drop]
    return factory.sign({**claims, "scope": " ".join(kept), "scp": kept})


def tampered_payload(factory: TokenFactory, claims: Claims) -> str:
    """A good signature over other claims: the payload was edited after signing."""
    header, _, signature = factory.sign(claims).split(".")
    forged = {**claims, "scope": "admin:everything", "scp": ["admin:everything"]}
    return f"{header}.{encode_segment(forged)}.{signature}"


def tampered_signature(factory: TokenFactory, claims: Claims, *, byte: int = 0) -> str:
    """One bit of the signature flipped."""
    head, payload, sig = factory.sign(claims).split(".")
    raw = bytearray(_unb64(sig))
    raw[byte % len(raw)] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def truncated_signature(factory: TokenFactory, claims: Claims, *, keep: int = 128) -> str:
    """The signature cut to ``keep`` bytes (a 2048-bit RS256 signature has 256)."""
    head, payload, sig = factory.sign(claims).split(".")
    return f"{head}.{payload}.{b64url(_unb64(sig)[: max(0, min(keep, 255))])}"


def unknown_kid(
    factory: TokenFactory, claims: Claims, *, keys: KeyStore | None = None, kid: str | None = None
) -> str:
    """Signed by a key the issuer never published; with ``kid``, by the issuer's key under a
    kid it never published."""
    if kid is not None:
        return factory.sign(claims, header={"alg": "RS256", "kid": kid, "typ": "JWT"})
    stranger = TokenFactory(issuer=factory.issuer, keys=keys or _spare_keys(), clock=factory.clock)
    return stranger.sign(claims)


def missing_kid(factory: TokenFactory, claims: Claims) -> str:
    return factory.sign(claims, header={"alg": "RS256", "typ": "JWT"})


def alg_none(factory: TokenFactory, claims: Claims, *, alg: str = "none") -> str:
    """Unsigned, claiming ``alg: none`` (or a spelling such as ``None``, ``NONE``)."""
    header = {"alg": alg, "kid": factory.keys.active_kid, "typ": "JWT"}
    return f"{encode_segment(header)}.{encode_segment(claims)}."


def hs256_public_key(factory: TokenFactory, claims: Claims) -> str:
    """HMAC-signed with the issuer's public key PEM as the secret (key confusion attack)."""
    kid = factory.keys.active_kid
    public = factory.keys.public_key(kid)
    assert public is not None
    secret = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{encode_segment({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}."
    signing_input += encode_segment(claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def malformed(factory: TokenFactory, claims: Claims, *, variant: int = 0) -> str:
    """Not a JWS: wrong segment count, bad base64, non-JSON header or payload, or (variant 8)
    the signature spelled non-canonically (ValueError if its length leaves no spare bits, as
    for a 3072-bit key)."""
    good = factory.sign(claims)
    head, payload, sig = good.split(".")
    variants = (
        f"{head}.{payload}",
        f"{good}.{sig}",
        f"{head}!.{payload}.{sig}",
        f"{b64url(b'not json')}.{payload}.{sig}",
        f"{b64url(json.dumps([1, 2]).encode())}.{payload}.{sig}",
        "",
        f"{head}.{b64url(b'not json')}.{sig}",
        f"{head}.{b64url(json.dumps([1, 2]).encode())}.{sig}",
    )
    # The last variant is built only when chosen: not every signature can be respelled.
    chosen = variant % (len(variants) + 1)
    if chosen == len(variants):
        return f"{head}.{payload}.{_respelled(sig)}"
    return variants[chosen]


@dataclass(frozen=True)
class BadToken:
    """One fault family: how to build it and what a correct validator raises."""

    name: str
    build: Callable[..., str]
    error: type[TokenValidationError]
    description: str


BAD_TOKENS: Mapping[str, BadToken] = {
    b.name: b
    for b in (
        BadToken("expired", expired, TokenExpiredError, "exp in the past"),
        BadToken(
            "not_yet_valid", not_yet_valid, TokenNotYetValidError, "nbf and iat in the future"
        ),
        BadToken("wrong_audience", wrong_audience, InvalidAudienceError, "aud lacks the API"),
        BadToken("wrong_issuer", wrong_issuer, InvalidIssuerError, "iss is another tenant"),
        BadToken("missing_scopes", missing_scopes, InsufficientScopeError, "scopes removed"),
        BadToken("tampered_payload", tampered_payload, InvalidSignatureError, "claims edited"),
        BadToken("tampered_signature", tampered_signature, InvalidSignatureError, "bit flipped"),
        BadToken(
            "truncated_signature", truncated_signature, InvalidSignatureError, "signature cut"
        ),
        BadToken("unknown_kid", unknown_kid, UnknownKeyError, "signed by an unpublished key"),
        BadToken("missing_kid", missing_kid, UnknownKeyError, "no kid in the header"),
        BadToken("alg_none", alg_none, DisallowedAlgorithmError, "alg none, no signature"),
        BadToken(
            "hs256_public_key",
            hs256_public_key,
            DisallowedAlgorithmError,
            "HS256 keyed with the public key",
        ),
        BadToken("malformed", malformed, MalformedTokenError, "not a JWS at all"),
    )
}


def bad_token(factory: TokenFactory, claims: Claims, fault: str, **params: Any) -> str:
    """Build the named bad token; KeyError lists the known names."""
    try:
        entry = BAD_TOKENS[fault]
    except KeyError:
        raise KeyError(f"unknown bad token {fault!r}; known: {', '.join(BAD_TOKENS)}") from None
    return entry.build(factory, claims, **params)


_DIGITS = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _respelled(segment: str) -> str:
    """The same bytes with the last character's unused low bits set: a lenient decoder
    ignores them, so only a validator that wants one spelling per token refuses it."""
    unused = {2: 0b1111, 3: 0b11}.get(len(segment) % 4)
    if unused is None:
        raise ValueError(f"a segment of {len(segment)} characters has no other spelling")
    return segment[:-1] + _DIGITS[_DIGITS.index(segment[-1]) | unused]


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


_SPARE: list[KeyStore] = []


def _spare_keys() -> KeyStore:
    # Generating RSA keys is slow; one stranger key serves every unknown_kid token.
    if not _SPARE:
        _SPARE.append(KeyStore())
    return _SPARE[0]
