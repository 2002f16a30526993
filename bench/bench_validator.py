"""Validations per second on one core with a warm key cache, beside PyJWT and raw RSA.

    python bench/bench_validator.py [--seconds 0.5] [--rounds 7] [--tokens 200]

Every method checks the same distinct tokens (no result caching anywhere): RS256 signature,
iss, aud and exp. Rounds are interleaved and the best round of each is reported, so a busy
machine slows all figures alike. The process is pinned to one CPU where the OS allows it.
Targets (issue 3): >= 10,000 validations/s and >= 2x PyJWT's full decode.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mockauth.http.server import ServerThread
from mockauth.tenant.apps import App
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenValidator

ISSUER = "https://acme.kinde.com"
AUDIENCE = "https://api.example.com"
SCOPES = ("read:calendar", "update:event")
APP = App(name="bench", client_id="db7910a2cb5ef186a47f64aa64eb7783", client_secret=None)


def pin_to_one_cpu() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        return "not pinned"
    return f"pinned to CPU {cpu}"


def make_tokens(keys: KeyStore, issuer: str, count: int) -> list[str]:
    factory = TokenFactory(issuer=issuer, keys=keys, clock=lambda: int(time.time()))
    return [
        factory.sign(factory.m2m_claims(APP, [AUDIENCE], SCOPES, lifetime=3600))
        for _ in range(count)
    ]


def rate(run: Callable[[], None], count: int, seconds: float) -> float:
    """Validations per second: repeat ``run`` (``count`` validations) for about ``seconds``."""
    done, start = 0, time.perf_counter()
    while True:
        run()
        done += count
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def methods(
    keys: KeyStore, tokens: list[str], http_tokens: list[str], jwks_url: str
) -> dict[str, Callable[[], None]]:
    public = keys.public_key(keys.active_kid)
    assert public is not None
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    raw = []
    for token in tokens:
        signing_input, _, sig = token.rpartition(".")
        raw.append((signing_input.encode(), base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))))
    local = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys)
    remote = TokenValidator(
        issuer=jwks_url.rsplit("/.well-known", 1)[0], audience=AUDIENCE, jwks_url=jwks_url
    )
    for validator, sample in ((local, tokens), (remote, http_tokens)):
        validator.validate(sample[0])  # warm the key cache

    def raw_verify() -> None:
        for signing_input, sig in raw:
            public.verify(sig, signing_input, pkcs1, sha256)

    def pyjwt_decode() -> None:
        for token in tokens:
            jwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    def validate_local() -> None:
        for token in tokens:
            local.validate(token, SCOPES)

    def validate_remote() -> None:
        for token in http_tokens:
            remote.validate(token, SCOPES)

    async def _async_all() -> None:
        for token in tokens:
            await local.validate_async(token, SCOPES)

    def validate_async() -> None:
        asyncio.run(_async_all())

    return {
        "raw RSA verify (cryptography)": raw_verify,
        "PyJWT jwt.decode, pre-loaded key": pyjwt_decode,
        "TokenValidator.validate, KeyStore": validate_local,
        "TokenValidator.validate, JWKS over HTTP": validate_remote,
        "TokenValidator.validate_async (one loop)": validate_async,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per method per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    pinned = pin_to_one_cpu()
    keys = KeyStore()
    tokens = make_tokens(keys, ISSUER, args.tokens)
    with ServerThread(keys=keys) as server:
        http_tokens = make_tokens(keys, server.issuer, args.tokens)
        table = methods(keys, tokens, http_tokens, server.url + "/.well-known/jwks")
        best = dict.fromkeys(table, 0.0)
        for _ in range(args.rounds):
            for name, run in table.items():
                best[name] = max(best[name], rate(run, len(tokens), args.seconds))
    print(f"validations/s, best of {args.rounds} rounds, {len(tokens)} distinct tokens, {pinned}")
    for name, per_second in best.items():
        print(f"  {name:<44} {per_second:>9,.0f}/s  {1e6 / per_second:6.1f} us")
    ours = best["TokenValidator.validate, KeyStore"]
    pyjwt = best["PyJWT jwt.decode, pre-loaded key"]
    raw = best["raw RSA verify (cryptography)"]
    print(f"  validator / PyJWT: {ours / pyjwt:.2f}x (target >= 2x)")
    print(f"  validator / raw verify: {ours / raw:.0%} of the RSA limit")
    print(f"  target >= 10,000/s: {'met' if ours >= 10_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
