"""TokenValidator by example: each check and its error, hardening, the JWKS cache against
real local HTTP servers, thread and async safety, and the requires_scopes guard."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from mockauth.errors import (
    DisallowedAlgorithmError,
    InsufficientPermissionError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    KeySetUnavailableError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
    UnknownKeyError,
)
from mockauth.faults import badtokens
from mockauth.http.server import ServerThread
from mockauth.tenant.apps import App
from mockauth.tenant.config import parse_config
from mockauth.tenant.tenant import Tenant
from mockauth.testing.helpers import MockAuth
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.encoding import b64url, encode_segment
from mockauth.tokens.jwks import public_jwk
from mockauth.tokens.keys import KeyStore
from mockauth.validator.guard import bearer_token, requires_scopes
from mockauth.validator.jwks import parse_jwks
from mockauth.validator.validator import TokenClaims, TokenValidator

ISSUER = "https://acme.kinde.com"
AUDIENCE = "https://api.example.com"
NOW = 1_700_000_000
SCOPES = ("read:calendar", "update:event")
APP = App(name="Backend", client_id="db7910a2cb5ef186a47f64aa64eb7783", client_secret=None)
ORG_APP = App(name="Org", client_id="f" * 32, org_code="org_0123456789a")


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore()


@pytest.fixture(scope="module")
def stranger() -> KeyStore:
    return KeyStore()


@pytest.fixture
def factory(keys: KeyStore) -> TokenFactory:
    return TokenFactory(issuer=ISSUER, keys=keys, clock=lambda: NOW)


def m2m(factory: TokenFactory, scopes: tuple[str, ...] = SCOPES, **extra: Any) -> dict[str, Any]:
    claims = factory.m2m_claims(APP, [AUDIENCE], scopes, lifetime=3600)
    claims.update(extra)
    return claims


def validator_for(
    keys: KeyStore | Mapping[str, Any], now: float = NOW, **kw: Any
) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys, clock=lambda: now, **kw)


def raw_token(header: Mapping[str, Any], payload: str, keys: KeyStore) -> str:
    """Sign any header and payload segment with the store's active key."""
    signing_input = f"{encode_segment(header)}.{payload}"
    _, signature = keys.sign(signing_input.encode())
    return f"{signing_input}.{b64url(signature)}"


def header_for(keys: KeyStore, **extra: Any) -> dict[str, Any]:
    return {"alg": "RS256", "kid": keys.active_kid, "typ": "JWT", **extra}


def raises(validator: TokenValidator, token: str, scopes: Any = ()) -> TokenValidationError:
    with pytest.raises(TokenValidationError) as info:
        validator.validate(token, scopes)
    return info.value


# --- accepted tokens and their claims ---


def test_valid_m2m_token_gives_typed_claims(keys: KeyStore, factory: TokenFactory) -> None:
    claims = m2m(factory)
    result = validator_for(keys).validate(factory.sign(claims), ["read:calendar"])
    assert isinstance(result, TokenClaims)
    assert result.issuer == ISSUER
    assert result.audiences == (AUDIENCE,)
    assert result.scopes == SCOPES
    assert result.client_id == APP.client_id
    assert result.subject is None
    assert result.org_code is None
    assert result.permissions == ()
    assert result.expires_at == NOW + 3600
    assert result.issued_at == NOW
    assert dict(result.raw) == claims
    assert result.has_scopes("read:calendar", "update:event")
    assert not result.has_scopes("delete:event")


def test_user_token_claims_carry_subject_org_and_permissions(
    keys: KeyStore, factory: TokenFactory
) -> None:
    claims = factory.m2m_claims(ORG_APP, [AUDIENCE, "https://other"], (), lifetime=60)
    claims.update(sub="kp_" + "a" * 32, permissions=["read:things", "write:things"])
    result = validator_for(keys).validate(factory.sign(claims))
    assert result.subject == "kp_" + "a" * 32
    assert result.org_code == "org_0123456789a"
    assert result.permissions == ("read:things", "write:things")
    assert result.audiences == (AUDIENCE, "https://other")
    assert result.scopes == ()


def test_scopes_come_from_scope_when_scp_is_absent(keys: KeyStore, factory: TokenFactory) -> None:
    claims = m2m(factory)
    del claims["scp"]
    result = validator_for(keys).validate(factory.sign(claims), "read:calendar update:event")
    assert result.scopes == SCOPES


def test_audience_may_be_a_single_string(keys: KeyStore, factory: TokenFactory) -> None:
    result = validator_for(keys).validate(factory.sign(m2m(factory, aud=AUDIENCE)))
    assert result.audiences == (AUDIENCE,)


def test_a_jwks_document_works_as_the_key_set(keys: KeyStore, factory: TokenFactory) -> None:
    result = validator_for(keys.jwks()).validate(factory.sign(m2m(factory)))
    assert result.client_id == APP.client_id


def test_default_jwks_url_is_the_issuers_well_known_jwks() -> None:
    assert TokenValidator(issuer=ISSUER, audience=AUDIENCE).jwks_url == ISSUER + "/.well-known/jwks"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"jwks": {"keys": []}, "jwks_url": "http://127.0.0.1:1/jwks"},
        {"jwks_url": "file:///etc/passwd"},
        {"leeway": -1},
        {"timeout": 0},
        {"refetch_interval": -5},
        {"leeway": float("nan")},  # would pass every expired token
        {"timeout": float("nan")},
        {"refetch_interval": float("nan")},  # would never refetch
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TokenValidator(issuer=ISSUER, audience=AUDIENCE, **kwargs)


@pytest.mark.parametrize("seconds", [-1, float("nan")])
def test_a_bad_refetch_interval_is_refused_when_set_too(seconds: float, keys: KeyStore) -> None:
    validator = validator_for(keys)
    with pytest.raises(ValueError, match="refetch_interval"):
        validator.refetch_interval = seconds
    assert validator.refetch_interval == 0


# --- each fault, its error and the error's attributes ---


@pytest.mark.parametrize("fault", list(badtokens.BAD_TOKENS))
def test_each_bad_token_family_gets_its_error(
    fault: str, keys: KeyStore, factory: TokenFactory
) -> None:
    token = badtokens.bad_token(factory, m2m(factory), fault)
    error = raises(validator_for(keys), token, SCOPES)
    assert type(error) is badtokens.BAD_TOKENS[fault].error


@pytest.mark.parametrize("variant", range(9))
def test_every_malformed_variant_is_malformed(
    variant: int, keys: KeyStore, factory: TokenFactory
) -> None:
    token = badtokens.malformed(factory, m2m(factory), variant=variant)
    assert type(raises(validator_for(keys), token)) is MalformedTokenError


def test_the_respelled_variant_differs_only_in_spelling(
    keys: KeyStore, factory: TokenFactory
) -> None:
    token = badtokens.malformed(factory, m2m(factory), variant=8)
    head, payload, sig = token.split(".")
    signature = keys.sign(f"{head}.{payload}".encode())[1]
    assert sig != b64url(signature) and badtokens._unb64(sig) == signature
    with pytest.raises(jwt.DecodeError):  # PyJWT refuses it too
        jwt.decode(token, keys.public_key(keys.active_kid), algorithms=["RS256"], audience=AUDIENCE)
    with pytest.raises(ValueError, match="no other spelling"):
        badtokens._respelled("A" * 512)  # a 3072-bit signature: no spare bits


def test_expired_carries_expired_at(keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), badtokens.expired(factory, m2m(factory), by=5))
    assert isinstance(error, TokenExpiredError)
    assert error.expired_at == NOW - 5


def test_not_yet_valid_carries_valid_from(keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), badtokens.not_yet_valid(factory, m2m(factory), by=7))
    assert isinstance(error, TokenNotYetValidError)
    assert error.valid_from == NOW + 7


def test_wrong_audience_carries_expected_and_actual(keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), badtokens.wrong_audience(factory, m2m(factory)))
    assert isinstance(error, InvalidAudienceError)
    assert (error.expected, error.actual) == (AUDIENCE, [badtokens.WRONG_AUDIENCE])


@pytest.mark.parametrize("aud", [None, 42, [], [AUDIENCE + "/"], [1, AUDIENCE], {"a": AUDIENCE}])
def test_missing_or_ill_typed_audience_is_rejected(
    aud: Any, keys: KeyStore, factory: TokenFactory
) -> None:
    claims = m2m(factory, aud=aud)
    if aud is None:
        del claims["aud"]
    error = raises(validator_for(keys), factory.sign(claims))
    assert isinstance(error, InvalidAudienceError)
    assert error.actual == aud


@pytest.mark.parametrize("iss", [ISSUER + "/", ISSUER.upper(), "http://acme.kinde.com", None, 1])
def test_issuer_must_match_byte_for_byte(iss: Any, keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), factory.sign(m2m(factory, iss=iss)))
    assert isinstance(error, InvalidIssuerError)
    assert (error.expected, error.actual) == (ISSUER, iss)


@pytest.mark.parametrize(
    ("granted", "required", "missing"),
    [
        ((), ("read:calendar",), ("read:calendar",)),
        (("read:calendar",), ("update:event", "read:calendar", "x"), ("update:event", "x")),
        (("a",), "b a c", ("b", "c")),
        (("a",), ("b", "b"), ("b",)),
    ],
)
def test_insufficient_scope_lists_exactly_the_missing_scopes(
    granted: tuple[str, ...],
    required: Any,
    missing: tuple[str, ...],
    keys: KeyStore,
    factory: TokenFactory,
) -> None:
    error = raises(validator_for(keys), factory.sign(m2m(factory, granted)), required)
    assert isinstance(error, InsufficientScopeError)
    assert error.missing == missing
    assert error.granted == granted
    assert set(error.required) == set(required.split() if isinstance(required, str) else required)


def test_unknown_kid_carries_the_kid(
    keys: KeyStore, stranger: KeyStore, factory: TokenFactory
) -> None:
    error = raises(validator_for(keys), badtokens.unknown_kid(factory, m2m(factory), keys=stranger))
    assert type(error) is UnknownKeyError
    assert error.kid == stranger.active_kid


def test_missing_kid_is_an_unknown_key_with_kid_none(keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), badtokens.missing_kid(factory, m2m(factory)))
    assert isinstance(error, UnknownKeyError)
    assert error.kid is None


# --- expiry, not-before and issued-at with the leeway ---


@pytest.mark.parametrize("leeway", [0, 1, 30])
def test_expiry_boundary_is_exact(leeway: int, keys: KeyStore, factory: TokenFactory) -> None:
    token = factory.sign(m2m(factory))
    exp = NOW + 3600
    assert validator_for(keys, exp + leeway - 1, leeway=leeway).validate(token).expires_at == exp
    error = raises(validator_for(keys, exp + leeway, leeway=leeway), token)
    assert isinstance(error, TokenExpiredError)
    assert error.expired_at == exp


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize("leeway", [0, 30])
def test_not_before_and_issued_at_boundary_is_exact(
    claim: str, leeway: int, keys: KeyStore, factory: TokenFactory
) -> None:
    start = NOW + 100
    claims = m2m(factory)
    claims[claim] = start
    token = factory.sign(claims)
    assert validator_for(keys, start - leeway, leeway=leeway).validate(token)
    error = raises(validator_for(keys, start - leeway - 1, leeway=leeway), token)
    assert isinstance(error, TokenNotYetValidError)
    assert error.valid_from == start


def test_fractional_times_are_compared_exactly(keys: KeyStore, factory: TokenFactory) -> None:
    token = factory.sign(m2m(factory, exp=NOW + 10.5))
    assert validator_for(keys, NOW + 10.4).validate(token).expires_at == NOW + 10
    assert isinstance(raises(validator_for(keys, NOW + 10.5), token), TokenExpiredError)


# --- malformed tokens ---


def _segment(obj: Any) -> str:
    return b64url(json.dumps(obj).encode())


MALFORMED_PAYLOADS: dict[str, str] = {
    "payload not JSON": b64url(b"{nope"),
    "payload a JSON list": _segment([1, 2]),
    "payload not UTF-8": b64url(b'{"a": "\xff"}'),
    "exp NaN": b64url(b'{"exp": NaN}'),
    "exp missing": _segment({"iss": ISSUER, "aud": [AUDIENCE]}),
    "exp a string": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": "9999999999"}),
    "exp a boolean": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": True}),
    "nbf a string": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": NOW + 9, "nbf": "0"}),
    "scp a string": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": NOW + 9, "scp": "a"}),
    "scp with a number": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": NOW + 9, "scp": [1]}),
    "scope a list": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": NOW + 9, "scope": ["a"]}),
    # JSON's 1e999 is inf, which int() cannot take.
    "exp infinite": b64url(f'{{"iss": "{ISSUER}", "aud": "{AUDIENCE}", "exp": 1e999}}'.encode()),
    "nbf infinite": b64url(
        f'{{"iss": "{ISSUER}", "aud": "{AUDIENCE}", "exp": {NOW + 9}, "nbf": 1e999}}'.encode()
    ),
    "iat minus infinite": b64url(
        f'{{"iss": "{ISSUER}", "aud": "{AUDIENCE}", "exp": {NOW + 9}, "iat": -1e999}}'.encode()
    ),
    "payload nested too deeply": b64url(b'{"a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"),
    "lone surrogate": _segment({"iss": ISSUER, "aud": [AUDIENCE], "exp": NOW + 9, "x": "\ud800"}),
    "lone low surrogate in a key": _segment({"\udfff": 1, "exp": NOW + 9}),
    "surrogate as UTF-8 bytes": b64url(b'{"exp": 1, "x": "\xed\xa0\x80"}'),
}


@pytest.mark.parametrize("payload", list(MALFORMED_PAYLOADS.values()), ids=list(MALFORMED_PAYLOADS))
def test_signed_but_malformed_payloads_are_malformed(payload: str, keys: KeyStore) -> None:
    token = raw_token(header_for(keys), payload, keys)
    assert type(raises(validator_for(keys), token)) is MalformedTokenError


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "kid": 7},
        {"alg": "RS256", "kid": "k", "crit": ["exp"]},
        {"alg": "RS256", "kid": "k\ud800"},
    ],
    ids=["kid not a string", "crit header", "kid with a lone surrogate"],
)
def test_malformed_headers_are_malformed(header: dict[str, Any], keys: KeyStore) -> None:
    token = raw_token(header, _segment({"exp": NOW + 9}), keys)
    assert type(raises(validator_for(keys), token)) is MalformedTokenError


def test_surrogate_pairs_are_fine(keys: KeyStore, factory: TokenFactory) -> None:
    token = factory.sign(m2m(factory, name="Ann \U0001f600"))  # escaped as \ud83d\ude00
    assert "\\ud83d\\ude00" in json.dumps(m2m(factory, name="Ann \U0001f600"))
    assert validator_for(keys).validate(token).raw["name"] == "Ann \U0001f600"


def test_a_header_nested_too_deeply_is_malformed(keys: KeyStore) -> None:
    # json raises RecursionError, not ValueError; unsigned tokens reach this too.
    head = b64url(b'{"alg": "RS256", "kid": ' + b"[" * 20_000 + b"]" * 20_000 + b"}")
    token = f"{head}.{_segment({'exp': NOW + 9})}.AAAA"
    assert type(raises(validator_for(keys), token)) is MalformedTokenError


def test_an_exp_beyond_float_range_does_not_overflow(keys: KeyStore, factory: TokenFactory) -> None:
    # exp + 0.5 would be an OverflowError; the claim is a valid (if silly) JSON number.
    token = factory.sign(m2m(factory, exp=10**400))
    assert validator_for(keys, leeway=0.5).validate(token).expires_at == 10**400


def _variants(good: str) -> dict[str, object]:
    head, payload, sig = good.split(".")
    return {
        "empty": "",
        "one segment": head,
        "two segments": f"{head}.{payload}",
        "four segments": f"{good}.{sig}",
        "JWE-like five segments": f"{head}.{payload}.{sig}.{sig}.{sig}",
        "padding": f"{head}.{payload}.{sig}=",
        "standard alphabet": f"{head}.{payload}.{sig[:-1]}+",
        "space in signature": f"{head}.{payload}.{sig[:10]} {sig[10:]}",
        "non-ASCII": f"{head}.{payload}.{sig}\u00e9",
        "length 1 mod 4": f"{head}.{payload}.{sig}" + "A" * ((1 - len(sig)) % 4 or 4),
        "header not JSON": f"{b64url(b'nope')}.{payload}.{sig}",
        "header a string": f"{_segment('RS256')}.{payload}.{sig}",
        "too long": f"{head}.{payload}.{sig}" + "A" * 70_000,
        "bytes": good.encode(),
        "None": None,
    }


VARIANTS = list(_variants("h.p.s"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_malformed_tokens_are_malformed(
    variant: str, keys: KeyStore, factory: TokenFactory
) -> None:
    token = _variants(factory.sign(m2m(factory)))[variant]
    with pytest.raises(MalformedTokenError):
        validator_for(keys).validate(token)  # type: ignore[arg-type]


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respelled(segment: str) -> list[str]:
    """The other spellings of ``segment``: its last character with unused bits set."""
    unused = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    digit = ALPHABET.index(segment[-1])
    return [segment[:-1] + ALPHABET[digit | bits] for bits in range(1, unused + 1)]


def test_every_respelled_signature_is_malformed(keys: KeyStore, factory: TokenFactory) -> None:
    head, payload, sig = factory.sign(m2m(factory)).split(".")
    validator = validator_for(keys)
    validator.validate(f"{head}.{payload}.{sig}")
    spellings = respelled(sig)
    assert len(spellings) == 15  # a 2048-bit signature: 342 characters, 4 unused bits
    for other in spellings:
        assert type(raises(validator, f"{head}.{payload}.{other}")) is MalformedTokenError


def with_unused_bits(obj: Mapping[str, Any]) -> str:
    """``obj`` as a segment whose last character has unused bits (its length is not 0 mod 4)."""
    segment = encode_segment(obj)
    # JSON of 3n bytes has no unused bits; a member of 7 bytes (,"f":"") ends that.
    return segment if len(segment) % 4 else encode_segment({**obj, "f": ""})


@pytest.mark.parametrize("part", [0, 1], ids=["header", "payload"])
def test_a_respelled_header_or_payload_is_malformed_though_signed(
    part: int, keys: KeyStore, factory: TokenFactory
) -> None:
    segments = [with_unused_bits(header_for(keys)), with_unused_bits(m2m(factory))]
    validator = validator_for(keys)
    for other in respelled(segments[part]):
        # The respelled segment is what is signed: only its spelling is wrong.
        signing_input = ".".join([*segments[:part], other, *segments[part + 1 :]])
        _, signature = keys.sign(signing_input.encode())
        token = f"{signing_input}.{b64url(signature)}"
        assert type(raises(validator, token)) is MalformedTokenError


def test_a_respelled_jwk_member_is_still_read(keys: KeyStore, factory: TokenFactory) -> None:
    # The JWKS host is trusted and other encoders may be sloppy: only tokens are strict.
    good = keys.jwks()["keys"][0]
    document = {"keys": [{**good, "n": respelled(good["n"])[0]}]}
    assert list(parse_jwks(document)) == [good["kid"]]
    assert validator_for(document).validate(factory.sign(m2m(factory))).client_id == APP.client_id


# --- hardening ---


@pytest.mark.parametrize(
    "alg", ["none", "None", "NONE", "HS256", "HS512", "RS512", "PS256", "ES256"]
)
def test_only_rs256_is_allowed(alg: str, keys: KeyStore, factory: TokenFactory) -> None:
    # Signed with the real RSA key: only the header's alg is wrong.
    token = raw_token(header_for(keys, alg=alg), encode_segment(m2m(factory)), keys)
    error = raises(validator_for(keys), token)
    assert isinstance(error, DisallowedAlgorithmError)
    assert error.algorithm == alg


def test_missing_alg_is_disallowed(keys: KeyStore, factory: TokenFactory) -> None:
    token = raw_token({"kid": keys.active_kid}, encode_segment(m2m(factory)), keys)
    error = raises(validator_for(keys), token)
    assert isinstance(error, DisallowedAlgorithmError)
    assert error.algorithm is None


def test_hs256_keyed_with_the_public_key_is_refused(keys: KeyStore, factory: TokenFactory) -> None:
    error = raises(validator_for(keys), badtokens.hs256_public_key(factory, m2m(factory)))
    assert isinstance(error, DisallowedAlgorithmError)
    assert error.algorithm == "HS256"


class JwksHost:
    """A tiny JWKS server on 127.0.0.1 that counts requests and can be told to fail."""

    def __init__(self, document: Callable[[], bytes]) -> None:
        self.document = document
        self.status = 200
        self.location: str | None = None  # sent with any status, for redirects
        self.requests = 0
        self.paths: list[str] = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests += 1
                host.paths.append(self.path)
                body = host.document() if host.status == 200 else b"{}"
                self.send_response(host.status)
                if host.location is not None:
                    self.send_header("Location", host.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def host(keys: KeyStore) -> Iterator[JwksHost]:
    served = JwksHost(keys.jwks_bytes)
    yield served
    served.close()


def test_jku_x5u_jwk_and_x5c_headers_are_never_used(
    keys: KeyStore, stranger: KeyStore, factory: TokenFactory, host: JwksHost
) -> None:
    evil = TokenFactory(issuer=ISSUER, keys=stranger, clock=lambda: NOW)
    attacker_key = stranger.public_key(stranger.active_kid)
    assert attacker_key is not None
    embedded = {
        "jku": host.url,
        "x5u": host.url,
        "jwk": public_jwk(attacker_key, stranger.active_kid),
        "x5c": ["MIIB"],
    }
    validator = validator_for(keys)
    own_kid = evil.sign(m2m(factory), header=header_for(stranger, **embedded))
    assert type(raises(validator, own_kid)) is UnknownKeyError
    borrowed_kid = evil.sign(m2m(factory), header=header_for(keys, **embedded))
    assert type(raises(validator, borrowed_kid)) is InvalidSignatureError
    assert host.requests == 0


def test_jwks_keeps_only_rsa_signing_keys_of_2048_bits(keys: KeyStore) -> None:
    good = keys.jwks()["keys"][0]
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    document = {
        "keys": [
            {"kty": "oct", "kid": "oct", "k": b64url(b"secret")},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "rs512", "alg": "RS512"},
            {**good, "kid": "bad-n", "n": "!!"},
            {**good, "kid": None},
            {key: value for key, value in good.items() if key not in ("kid", "n")}
            | {"kid": "no-n"},
            public_jwk(small, "small"),
            "not a jwk",
            {k: v for k, v in good.items() if k not in ("use", "alg")} | {"kid": "bare"},
            good,
        ]
    }
    assert sorted(parse_jwks(document)) == sorted(["bare", good["kid"]])


@pytest.mark.parametrize("document", [None, [], {}, {"keys": {}}, {"keys": "x"}])
def test_a_document_without_a_keys_list_is_not_a_jwks(document: Any) -> None:
    with pytest.raises(ValueError):
        parse_jwks(document)


def _rsa_jwk(kid: str, n: int, e: int = 65537) -> dict[str, str]:
    """A JWK of any modulus and exponent (no key is generated; parsing does not factor)."""

    def member(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": member(n), "e": member(e)}


def test_jwks_keeps_only_moduli_of_2048_to_4096_bits_with_exponent_65537() -> None:
    modulus = {bits: (1 << (bits - 1)) | 1 for bits in (2047, 2048, 3072, 4096, 4097, 20_000)}
    document = {
        "keys": [_rsa_jwk(f"bits-{bits}", n) for bits, n in modulus.items()]
        + [
            _rsa_jwk("e-3", modulus[3072], 3),
            _rsa_jwk("e-huge", modulus[3072], modulus[3072] - 2),  # 4.8 ms a verification
        ]
    }
    assert sorted(parse_jwks(document)) == ["bits-2048", "bits-3072", "bits-4096"]


BAD_MEMBERS: dict[str, dict[str, Any]] = {
    "n a number": {"n": 123},
    "n null": {"n": None},
    "n an object": {"n": {"a": "AQAB"}},
    "e a list": {"e": [1]},
    "e a boolean": {"e": True},
    "kty a list": {"kty": ["RSA"]},
    "use an object": {"use": {}},
}


@pytest.mark.parametrize("bad", list(BAD_MEMBERS.values()), ids=list(BAD_MEMBERS))
def test_one_malformed_jwk_does_not_spoil_the_key_set(
    bad: dict[str, Any], keys: KeyStore, factory: TokenFactory
) -> None:
    good = keys.jwks()["keys"][0]
    document = {"keys": [good, {**good, "kid": "other", **bad}]}
    assert list(parse_jwks(document)) == [good["kid"]]
    assert validator_for(document).validate(factory.sign(m2m(factory))).client_id == APP.client_id


def test_a_malformed_jwk_over_http_is_skipped(keys: KeyStore, factory: TokenFactory) -> None:
    good = keys.jwks()["keys"][0]
    body = json.dumps({"keys": [{**good, "kid": "other", "n": 123}, good]}).encode()
    host = JwksHost(lambda: body)
    try:
        assert http_validator(host.url).validate(factory.sign(m2m(factory)))
    finally:
        host.close()


def test_a_jwks_nested_too_deeply_is_unavailable(factory: TokenFactory) -> None:
    body = b'{"keys": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    host = JwksHost(lambda: body)
    try:
        error = raises(http_validator(host.url), factory.sign(m2m(factory)))
        assert isinstance(error, KeySetUnavailableError)
        assert "RecursionError" in str(error)
    finally:
        host.close()


def test_hs256_under_a_kid_of_a_symmetric_jwk_is_still_refused(
    keys: KeyStore, factory: TokenFactory
) -> None:
    # A JWKS that (wrongly) publishes an oct key: it is never used, whatever the header says.
    document = {"keys": [*keys.jwks()["keys"], {"kty": "oct", "kid": "sym", "k": b64url(b"k")}]}
    validator = validator_for(document)
    hs = badtokens.hs256_public_key(factory, m2m(factory))
    assert isinstance(raises(validator, hs), DisallowedAlgorithmError)
    rs = raw_token({"alg": "RS256", "kid": "sym"}, encode_segment(m2m(factory)), keys)
    assert type(raises(validator, rs)) is UnknownKeyError


# --- the JWKS cache over HTTP ---


class MonotonicClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def http_validator(url: str, clock: MonotonicClock | None = None, **kw: Any) -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=url,
        clock=lambda: NOW,
        monotonic=clock or MonotonicClock(),
        **kw,
    )


def test_jwks_is_fetched_once_and_kept(host: JwksHost, factory: TokenFactory) -> None:
    validator = http_validator(host.url)
    for _ in range(20):
        validator.validate(factory.sign(m2m(factory)))
    assert host.requests == 1
    assert host.paths == ["/jwks"]


def test_unknown_kid_triggers_one_refetch_and_rotation_works() -> None:
    store = KeyStore()
    host = JwksHost(store.jwks_bytes)
    try:
        signer = TokenFactory(issuer=ISSUER, keys=store, clock=lambda: NOW)
        clock = MonotonicClock()
        validator = http_validator(host.url, clock, refetch_interval=30)
        validator.validate(signer.sign(m2m(signer)))
        store.rotate()
        clock.now += 30
        result = validator.validate(signer.sign(m2m(signer)))
        assert result.client_id == APP.client_id
        assert host.requests == 2
        assert store.active_kid in validator.kids
    finally:
        host.close()


def test_first_rotation_after_start_up_is_picked_up_at_once() -> None:
    # The first fetch does not count toward the interval: a rotation right after a
    # validator's first token must not cause 30 s of rejected good tokens.
    store = KeyStore()
    host = JwksHost(store.jwks_bytes)
    try:
        signer = TokenFactory(issuer=ISSUER, keys=store, clock=lambda: NOW)
        validator = http_validator(host.url, MonotonicClock(), refetch_interval=30)
        validator.validate(signer.sign(m2m(signer)))
        store.rotate()
        assert validator.validate(signer.sign(m2m(signer))).client_id == APP.client_id
        assert host.requests == 2
        store.rotate()  # a second rotation within the interval waits for it
        assert type(raises(validator, signer.sign(m2m(signer)))) is UnknownKeyError
        assert host.requests == 2
    finally:
        host.close()


def test_the_default_interval_is_30_s_for_a_url_and_0_in_process(keys: KeyStore) -> None:
    assert TokenValidator(issuer=ISSUER, audience=AUDIENCE).refetch_interval == 30
    assert validator_for(keys).refetch_interval == 0


def test_the_default_holds_back_a_second_rotation_until_set_to_0() -> None:
    store = KeyStore()
    host = JwksHost(store.jwks_bytes)
    try:
        signer = TokenFactory(issuer=ISSUER, keys=store, clock=lambda: NOW)
        clock = MonotonicClock()
        validator = TokenValidator(
            issuer=ISSUER, audience=AUDIENCE, jwks_url=host.url, clock=lambda: NOW, monotonic=clock
        )
        for _ in range(2):  # the start-up fetch, then the first rotation at once
            validator.validate(signer.sign(m2m(signer)))
            store.rotate()
        clock.now += 29.9
        assert type(raises(validator, signer.sign(m2m(signer)))) is UnknownKeyError
        assert host.requests == 2
        validator.refetch_interval = 0  # what a test suite that rotates keys sets
        assert validator.validate(signer.sign(m2m(signer))).client_id == APP.client_id
        store.rotate()
        assert validator.validate(signer.sign(m2m(signer))).client_id == APP.client_id
        assert host.requests == 4
    finally:
        host.close()


def test_refetches_are_rate_limited(
    host: JwksHost, keys: KeyStore, stranger: KeyStore, factory: TokenFactory
) -> None:
    clock = MonotonicClock()
    validator = http_validator(host.url, clock, refetch_interval=30)
    validator.validate(factory.sign(m2m(factory)))
    bogus = badtokens.unknown_kid(factory, m2m(factory), keys=stranger)
    clock.now += 100
    for _ in range(50):
        assert type(raises(validator, bogus)) is UnknownKeyError
    assert host.requests == 2  # the first fetch and one refetch for the flood
    clock.now += 29.5
    raises(validator, bogus)
    assert host.requests == 2
    clock.now += 0.5
    raises(validator, bogus)
    assert host.requests == 3
    assert validator.validate(factory.sign(m2m(factory)))  # good tokens never waited


def test_failing_host_keeps_the_keys_held(
    host: JwksHost, stranger: KeyStore, factory: TokenFactory
) -> None:
    clock = MonotonicClock()
    validator = http_validator(host.url, clock, refetch_interval=30)
    validator.validate(factory.sign(m2m(factory)))
    host.status = 500
    clock.now += 60
    bogus = badtokens.unknown_kid(factory, m2m(factory), keys=stranger)
    error = raises(validator, bogus)
    assert isinstance(error, KeySetUnavailableError)
    assert (error.kid, error.source) == (stranger.active_kid, host.url)
    assert host.requests == 2
    assert validator.validate(factory.sign(m2m(factory))).client_id == APP.client_id
    host.status = 200
    clock.now += 30
    assert type(raises(validator, bogus)) is UnknownKeyError  # the host is back


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"keys": "none"}'], ids=["not JSON", "list", "no key list"]
)
def test_a_host_serving_garbage_is_unavailable(body: bytes, factory: TokenFactory) -> None:
    host = JwksHost(lambda: body)
    try:
        error = raises(http_validator(host.url), factory.sign(m2m(factory)))
        assert isinstance(error, KeySetUnavailableError)
    finally:
        host.close()


def test_an_oversized_jwks_is_refused(keys: KeyStore, factory: TokenFactory) -> None:
    padded = keys.jwks_bytes()[:-1] + b"," + b" " * (1 << 20) + b'"x": 1}'
    host = JwksHost(lambda: padded)
    try:
        assert isinstance(
            raises(http_validator(host.url), factory.sign(m2m(factory))), KeySetUnavailableError
        )
    finally:
        host.close()


def test_a_closed_port_is_unavailable(factory: TokenFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/jwks"
    validator = http_validator(url)
    error = raises(validator, factory.sign(m2m(factory)))
    assert isinstance(error, KeySetUnavailableError)
    assert error.source == url
    with pytest.raises(KeySetUnavailableError):
        validator.refresh_keys()


def test_a_silent_host_times_out(factory: TokenFactory) -> None:
    # Accepts connections (the kernel does) but never answers.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/jwks"
        validator = http_validator(url, timeout=0.2)
        error = raises(validator, factory.sign(m2m(factory)))
    assert isinstance(error, KeySetUnavailableError)
    assert "timed out" in str(error)


@contextlib.contextmanager
def dripping_host(body: bytes) -> Iterator[str]:
    """Answers 200 at once, then sends the body a byte every 20 ms (about 20 s in all)."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            conn.recv(65_536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
            conn.sendall(head.encode())
            for i in range(len(body)):
                if stop.wait(0.02):
                    return
                conn.sendall(body[i : i + 1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_dripping_host_is_cut_off_by_the_deadline(keys: KeyStore, factory: TokenFactory) -> None:
    # Every read succeeds quickly, so only an overall deadline stops the fetch; without one
    # this JWKS would arrive whole (after ~20 s) and the token would be accepted.
    body = keys.jwks_bytes() + b" " * max(0, 1000 - len(keys.jwks_bytes()))
    with dripping_host(body) as url:
        error = raises(http_validator(url, timeout=0.3), factory.sign(m2m(factory)))
    assert isinstance(error, KeySetUnavailableError)
    assert "not received within 0.3 s" in str(error)


@contextlib.contextmanager
def trickling_headers_host(interval: float) -> Iterator[tuple[str, threading.Event]]:
    """Sends a status line, then a header line every ``interval`` s, never ending them; the
    event is set once the client hangs up."""
    hung_up, stop = threading.Event(), threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            conn.recv(65_536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            try:
                while not stop.wait(interval):
                    conn.sendall(b"X-Drip: 1\r\n")
            except OSError:
                hung_up.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks", hung_up
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_trickling_headers_are_cut_off_by_the_deadline(factory: TokenFactory) -> None:
    # Each header line comes well within the read timeout; urllib alone would wait for 100
    # of them (5 s here), holding the key-set lock all along.
    with trickling_headers_host(0.05) as (url, hung_up):
        validator = http_validator(url, timeout=0.3)
        start = time.monotonic()
        error = raises(validator, factory.sign(m2m(factory)))
        elapsed = time.monotonic() - start
        assert hung_up.wait(2)  # the abandoned fetch let go of the connection
    assert isinstance(error, KeySetUnavailableError)
    assert "not received within 0.3 s" in str(error)
    assert elapsed < 1.0


@pytest.mark.parametrize("target", ["another host", "ftp"])
def test_redirects_are_refused(target: str, host: JwksHost, factory: TokenFactory) -> None:
    # Keys come from the configured URL only: not another host, not another scheme.
    with socket.socket() as ftp:
        ftp.bind(("127.0.0.1", 0))
        ftp.listen(1)
        ftp.setblocking(False)
        redirecting = JwksHost(lambda: b"{}")
        redirecting.status = 302
        redirecting.location = {
            "another host": host.url,
            "ftp": f"ftp://127.0.0.1:{ftp.getsockname()[1]}/jwks",
        }[target]
        try:
            error = raises(http_validator(redirecting.url), factory.sign(m2m(factory)))
        finally:
            redirecting.close()
        assert isinstance(error, KeySetUnavailableError)
        assert "302" in str(error)
        assert host.requests == 0
        with pytest.raises(BlockingIOError):
            ftp.accept()  # nobody connected


@pytest.fixture
def unreachable_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    # urlopen's opener reads the proxy settings once; make it (if used) read these.
    monkeypatch.setattr(urllib.request, "_opener", None)


@pytest.mark.usefixtures("unreachable_proxy")
@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_a_loopback_jwks_bypasses_the_proxy(
    hostname: str, host: JwksHost, factory: TokenFactory
) -> None:
    validator = http_validator(host.url.replace("127.0.0.1", hostname))
    assert validator.validate(factory.sign(m2m(factory))).client_id == APP.client_id
    assert host.requests == 1


def test_a_remote_jwks_still_goes_through_the_proxy(
    host: JwksHost, factory: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", host.url.rsplit("/", 1)[0])  # the host plays the proxy
    monkeypatch.setattr(urllib.request, "_opener", None)
    validator = http_validator("http://jwks.example.test/jwks")
    assert validator.validate(factory.sign(m2m(factory))).client_id == APP.client_id
    assert host.paths == ["http://jwks.example.test/jwks"]


def test_refresh_keys_fetches_now_and_lists_the_kids(
    host: JwksHost, keys: KeyStore, factory: TokenFactory
) -> None:
    validator = http_validator(host.url, refetch_interval=3600)
    assert validator.kids == ()
    assert validator.refresh_keys() == (keys.active_kid,)
    assert validator.refresh_keys() == (keys.active_kid,)  # the interval does not apply
    assert host.requests == 2


@pytest.mark.e2e
def test_the_mock_servers_rotation_reaches_the_validator() -> None:
    with ServerThread() as server:
        signer = server.tenant.tokens
        validator = TokenValidator(issuer=server.issuer, audience=AUDIENCE, refetch_interval=0)
        first = validator.validate(signer.sign(m2m(signer)))
        old_kid = server.tenant.keys.active_kid
        server.tenant.keys.rotate()
        second = validator.validate(signer.sign(m2m(signer)))
        server.tenant.keys.retire(old_kid)
        validator.refresh_keys()
        assert first.issuer == second.issuer == server.issuer
        assert validator.kids == (server.tenant.keys.active_kid,)


# --- threads and event loops ---


def test_concurrent_first_use_fetches_once(
    host: JwksHost, keys: KeyStore, factory: TokenFactory
) -> None:
    validator = http_validator(host.url, refetch_interval=0)
    tokens = [factory.sign(m2m(factory)) for _ in range(16)]
    barrier = threading.Barrier(len(tokens))
    results: list[object] = [None] * len(tokens)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = validator.validate(tokens[i]).client_id
        except Exception as exc:  # recorded, checked below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [APP.client_id] * len(tokens)
    assert host.requests == 1


def test_threads_sharing_a_validator_each_get_their_own_answer(
    keys: KeyStore, stranger: KeyStore, factory: TokenFactory
) -> None:
    validator = validator_for(keys)
    cases: list[tuple[str, type[Exception] | None]] = []
    for fault, entry in badtokens.BAD_TOKENS.items():
        params = {"keys": stranger} if fault == "unknown_kid" else {}
        cases.append((badtokens.bad_token(factory, m2m(factory), fault, **params), entry.error))
        cases.append((factory.sign(m2m(factory)), None))
    outcomes: dict[int, list[type[Exception] | None]] = {}

    def work(n: int) -> None:
        seen: list[type[Exception] | None] = []
        for token, _ in cases * 5:
            try:
                validator.validate(token, SCOPES)
                seen.append(None)
            except TokenValidationError as exc:
                seen.append(type(exc))
        outcomes[n] = seen

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = [error for _, error in cases] * 5
    assert outcomes == {n: expected for n in range(8)}


class RecordingJWKS(Mapping[str, Any]):
    """A JWKS document that notes which thread read it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.threads: list[int] = []

    def __getitem__(self, key: str) -> Any:
        self.threads.append(threading.get_ident())
        return self.document[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.document)

    def __len__(self) -> int:
        return len(self.document)


def test_validate_async_fetches_off_the_event_loop(keys: KeyStore, factory: TokenFactory) -> None:
    jwks = RecordingJWKS(keys.jwks())
    validator = validator_for(jwks)
    tokens = [factory.sign(m2m(factory)) for _ in range(5)]

    async def main() -> tuple[int, list[TokenClaims]]:
        results = await asyncio.gather(*(validator.validate_async(t, SCOPES) for t in tokens))
        return threading.get_ident(), results

    loop_thread, results = asyncio.run(main())
    assert [r.client_id for r in results] == [APP.client_id] * 5
    assert jwks.threads
    assert loop_thread not in jwks.threads


def test_validate_async_raises_the_same_errors(
    keys: KeyStore, stranger: KeyStore, factory: TokenFactory
) -> None:
    validator = validator_for(keys)
    bogus = badtokens.unknown_kid(factory, m2m(factory), keys=stranger)
    with pytest.raises(UnknownKeyError) as info:
        asyncio.run(validator.validate_async(bogus))
    assert info.value.kid == stranger.active_kid
    with pytest.raises(InsufficientScopeError):
        asyncio.run(validator.validate_async(factory.sign(m2m(factory, ())), ["read:calendar"]))


def test_validate_async_over_http_with_a_rate_limited_refetch(
    host: JwksHost, stranger: KeyStore, factory: TokenFactory
) -> None:
    clock = MonotonicClock()
    validator = http_validator(host.url, clock, refetch_interval=30)
    bogus = badtokens.unknown_kid(factory, m2m(factory), keys=stranger)

    async def main() -> None:
        assert (await validator.validate_async(factory.sign(m2m(factory)))).scopes == SCOPES
        for _ in range(10):
            with pytest.raises(UnknownKeyError):
                await validator.validate_async(bogus)

    asyncio.run(main())
    assert host.requests == 2  # the first fetch, then one refetch for the whole flood


# --- requires_scopes: RFC 6750 answers ---


@pytest.fixture(scope="module")
def guarded(keys: KeyStore) -> TestClient:
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys, clock=lambda: NOW + 10)
    guard = requires_scopes(validator, *SCOPES)

    @guard.protect
    async def decorated(request: Request, claims: TokenClaims) -> Response:
        return JSONResponse({"client_id": claims.client_id, "scopes": list(claims.scopes)})

    async def dependency(request: Request) -> Response:
        claims = await requires_scopes(validator)(request)
        return JSONResponse({"client_id": claims.client_id})

    app = Starlette(routes=[Route("/decorated", decorated), Route("/dependency", dependency)])
    return TestClient(app)


def test_guard_hands_the_claims_to_the_endpoint(guarded: TestClient, factory: TokenFactory) -> None:
    auth = {"Authorization": f"Bearer {factory.sign(m2m(factory))}"}
    answer = guarded.get("/decorated", headers=auth)
    assert answer.status_code == 200
    assert answer.json() == {"client_id": APP.client_id, "scopes": list(SCOPES)}
    assert guarded.get("/dependency", headers=auth).json() == {"client_id": APP.client_id}


@pytest.mark.parametrize(
    "spelling",
    [tuple(SCOPES), (" ".join(SCOPES),), (list(SCOPES),), (SCOPES[0], [*SCOPES[1:], SCOPES[0]])],
)
def test_guard_takes_scopes_as_validate_does(
    keys: KeyStore, factory: TokenFactory, spelling: tuple[Any, ...]
) -> None:
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys, clock=lambda: NOW + 10)
    guard = requires_scopes(validator, *spelling)
    assert guard.scopes == tuple(SCOPES)


def test_guard_refuses_what_is_not_scopes(keys: KeyStore) -> None:
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys)
    with pytest.raises(TypeError):
        requires_scopes(validator, [1, 2])  # type: ignore[list-item]
    guard = requires_scopes(validator, "read:calendar")
    with pytest.raises(TypeError, match="async def"):
        guard.protect(lambda request, claims: None)  # type: ignore[arg-type,return-value]


def test_issuer_with_a_trailing_slash_is_refused_early(keys: KeyStore) -> None:
    with pytest.raises(ValueError, match="must not end with '/'"):
        TokenValidator(issuer=ISSUER + "/", audience=AUDIENCE, jwks=keys)


@pytest.mark.parametrize("path", ["/decorated", "/dependency"])
@pytest.mark.parametrize("authorization", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_no_bearer_token_is_a_bare_challenge(
    guarded: TestClient, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = guarded.get(path, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("fault", "description"),
    [
        ("expired", "The access token expired"),
        ("not_yet_valid", "The access token is not valid yet"),
        ("wrong_audience", "The access token is not meant for this API"),
        ("wrong_issuer", "The access token comes from another issuer"),
        ("tampered_signature", "The access token is invalid"),
        ("alg_none", "The access token is invalid"),
        ("malformed", "The access token is invalid"),
    ],
)
def test_bad_tokens_get_invalid_token(
    guarded: TestClient, factory: TokenFactory, fault: str, description: str
) -> None:
    token = badtokens.bad_token(factory, m2m(factory), fault)
    answer = guarded.get("/decorated", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )


def test_missing_scopes_get_insufficient_scope_naming_the_scopes(
    guarded: TestClient, factory: TokenFactory
) -> None:
    token = factory.sign(m2m(factory, ("read:calendar",)))
    answer = guarded.get("/decorated", headers={"Authorization": f"bearer {token}"})
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="The access token lacks a required scope", '
        'scope="read:calendar update:event"'
    )


def test_unreachable_keys_get_503(factory: TokenFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/jwks"
    guard = requires_scopes(http_validator(url))

    async def endpoint(request: Request) -> Response:
        await guard(request)
        return Response("ok")

    with TestClient(Starlette(routes=[Route("/", endpoint)])) as client:
        answer = client.get("/", headers={"Authorization": f"Bearer {factory.sign(m2m(factory))}"})
    assert answer.status_code == 503
    assert "www-authenticate" not in answer.headers


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        ("Bearer", None),
        ("Basic abc", None),
        ("Bearerabc", None),
        (None, None),
        ("", None),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


# --- users' permissions ---

USER_TOML = f"""
[[apis]]
audience = "{AUDIENCE}"

[[apps]]
name = "Web"
type = "spa"
client_id = "{"c" * 32}"
redirect_uris = ["http://localhost:3000"]
[apps.apis]
"{AUDIENCE}" = []

[[users]]
email = "ann@example.com"
permissions = ["read:calendar", "update:event"]
"""


@pytest.fixture(scope="module")
def user_auth() -> MockAuth:
    config = parse_config(USER_TOML.encode(), source="t.toml")
    return MockAuth(Tenant(config, issuer=ISSUER), ISSUER)


def user_validator(auth: MockAuth) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=auth.tenant.keys)


def test_a_users_permissions_are_required_like_scopes(user_auth: MockAuth) -> None:
    validator = user_validator(user_auth)
    token = user_auth.user_token(audience=AUDIENCE)
    claims = validator.validate(token, required_permissions="read:calendar update:event")
    assert claims.permissions == ("read:calendar", "update:event")
    assert claims.subject == user_auth.tenant.config.users[0].id
    with pytest.raises(InsufficientPermissionError) as info:
        validator.validate(token, required_permissions=["read:calendar", "delete:event"])
    assert info.value.missing == ("delete:event",)
    assert info.value.granted == ("read:calendar", "update:event")
    # OIDC scopes are scopes, not permissions: each check reads its own claim.
    assert validator.validate(token, required_scopes="openid").scopes[0] == "openid"
    with pytest.raises(InsufficientScopeError):
        validator.validate(token, required_scopes="read:calendar")


def test_a_malformed_permissions_claim_fails_only_when_permissions_are_required(
    factory: TokenFactory, keys: KeyStore
) -> None:
    token = factory.sign({**m2m(factory), "permissions": "read:calendar"})
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys, clock=lambda: NOW + 10)
    assert validator.validate(token).permissions == ()
    with pytest.raises(MalformedTokenError, match="permissions"):
        validator.validate(token, required_permissions="read:calendar")


def test_the_guard_answers_a_missing_permission_with_403(user_auth: MockAuth) -> None:
    guard = requires_scopes(user_validator(user_auth), permissions="delete:event")
    assert guard.permissions == ("delete:event",)

    @guard.protect
    async def endpoint(request: Request, claims: TokenClaims) -> Response:
        return JSONResponse({"sub": claims.subject})

    client = TestClient(Starlette(routes=[Route("/e", endpoint)]))
    auth = {"Authorization": "Bearer " + user_auth.user_token(audience=AUDIENCE)}
    answer = client.get("/e", headers=auth)
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and "permission" in challenge
    allowed = requires_scopes(user_validator(user_auth), permissions=["read:calendar"])
    client = TestClient(Starlette(routes=[Route("/e", allowed.protect(endpoint.__wrapped__))]))
    assert client.get("/e", headers=auth).json() == {"sub": user_auth.tenant.config.users[0].id}
