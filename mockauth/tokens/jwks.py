"""The public JWKS: each key as Kinde publishes it (kty, alg, use, kid, n, e; never a
private member), in one document serialised once per key change."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import rsa

from mockauth.tokens.encoding import b64url


def public_jwk(public_key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    """The JWK of a public key: exactly kty, alg, use, kid, n, e."""
    numbers = public_key.public_numbers()
    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": _int_b64(numbers.n),
        "e": _int_b64(numbers.e),
    }


def jwks_bytes(keys: list[tuple[str, rsa.RSAPublicKey]]) -> bytes:
    """The JWKS document of (kid, public key) pairs, in order, compact."""
    doc = {"keys": [public_jwk(key, kid) for kid, key in keys]}
    return json.dumps(doc, separators=(",", ":")).encode()


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))
