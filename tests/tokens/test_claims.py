"""TokenFactory: Kinde v2 M2M claims, the RS256 header, and signing with the active key."""

from __future__ import annotations

import base64
import json
import re
import uuid
from types import MappingProxyType
from typing import Any

import jwt
import pytest

from mockauth.tenant.apps import App
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.encoding import encode_segment
from mockauth.tokens.keys import KeyStore

ISSUER = "http://127.0.0.1:8400"
NOW = 1_700_000_000
CLIENT_ID = "0123456789abcdef0123456789abcdef"
APP = App(name="Backend", client_id=CLIENT_ID, client_secret="a" * 40)
ORG_APP = App(
    name="Org",
    client_id="f" * 32,
    client_secret="b" * 40,
    org_code="org_0123456789a",
    claims=MappingProxyType({"tenant": "acme", "feature_flags": {"beta": {"t": "b", "v": True}}}),
)
M2M_ORDER = ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"]


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore()


@pytest.fixture
def factory(keys: KeyStore) -> TokenFactory:
    return TokenFactory(issuer=ISSUER, keys=keys, clock=lambda: NOW)


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def verify(token: str, keys: KeyStore, audience: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    public = keys.public_key(kid)
    assert public is not None
    claims: dict[str, Any] = jwt.decode(
        token,
        key=public,
        algorithms=["RS256"],
        audience=audience,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


def test_m2m_claims_are_exactly_kindes(factory: TokenFactory) -> None:
    claims = factory.m2m_claims(
        APP, ["https://api.example.com"], ["read:calendar", "update:event"], lifetime=86_400
    )
    assert list(claims) == M2M_ORDER
    assert claims["aud"] == ["https://api.example.com"]
    assert claims["azp"] == CLIENT_ID
    assert claims["iat"] == NOW
    assert claims["exp"] == NOW + 86_400
    assert claims["gty"] == ["client_credentials"]
    assert claims["iss"] == ISSUER
    assert uuid.UUID(claims["jti"]).version == 4
    assert str(uuid.UUID(claims["jti"])) == claims["jti"]
    assert claims["scope"] == "read:calendar update:event"
    assert claims["scp"] == ["read:calendar", "update:event"]
    assert claims["v"] == "2"
    assert "sub" not in claims
    assert "org_code" not in claims


def test_m2m_claims_with_no_scopes_keep_empty_scope_and_scp(factory: TokenFactory) -> None:
    claims = factory.m2m_claims(APP, ["https://api.example.com"], [], lifetime=60)
    assert claims["scope"] == ""
    assert claims["scp"] == []


def test_aud_is_a_list_with_every_audience(factory: TokenFactory) -> None:
    auds = ["https://a.example.com", "https://b.example.com", f"{ISSUER}/api"]
    claims = factory.m2m_claims(APP, auds, [], lifetime=60)
    assert claims["aud"] == auds


def test_org_code_and_extra_claims_are_added(factory: TokenFactory) -> None:
    claims = factory.m2m_claims(ORG_APP, ["https://api.example.com"], ["x"], lifetime=60)
    assert claims["org_code"] == "org_0123456789a"
    assert claims["tenant"] == "acme"
    assert claims["feature_flags"] == {"beta": {"t": "b", "v": True}}
    assert list(claims)[: len(M2M_ORDER) + 1] == [
        "aud",
        "azp",
        "exp",
        "gty",
        "iat",
        "iss",
        "jti",
        "org_code",
        "scope",
        "scp",
        "v",
    ]
    assert "sub" not in claims


def test_jti_is_fresh_for_every_token(factory: TokenFactory) -> None:
    jtis = {factory.m2m_claims(APP, ["a"], [], lifetime=60)["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_clock_is_injected(keys: KeyStore) -> None:
    times = iter([100, 200])
    factory = TokenFactory(issuer=ISSUER, keys=keys, clock=lambda: next(times))
    assert factory.m2m_claims(APP, ["a"], [], lifetime=5)["iat"] == 100
    second = factory.m2m_claims(APP, ["a"], [], lifetime=5)
    assert (second["iat"], second["exp"]) == (200, 205)


def test_signed_token_header_is_rs256_kid_jwt(factory: TokenFactory, keys: KeyStore) -> None:
    token = factory.sign(factory.m2m_claims(APP, ["https://api.example.com"], [], lifetime=60))
    header = segment(token, 0)
    assert header == {"alg": "RS256", "kid": keys.active_kid, "typ": "JWT"}
    assert list(header) == ["alg", "kid", "typ"]


def test_signed_token_verifies_with_pyjwt(factory: TokenFactory, keys: KeyStore) -> None:
    claims = factory.m2m_claims(ORG_APP, ["https://api.example.com"], ["x", "y"], lifetime=60)
    token = factory.sign(claims)
    assert verify(token, keys, "https://api.example.com") == claims


def test_token_is_compact_unpadded_base64url(factory: TokenFactory) -> None:
    token = factory.sign(factory.m2m_claims(APP, ["https://api.example.com"], [], lifetime=60))
    parts = token.split(".")
    assert len(parts) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in parts)


def test_header_segment_is_plain_base64_for_atob() -> None:
    # @kinde/jwt-validator decodes the header with atob: no '-' or '_' may appear in it.
    for _ in range(5):
        ks = KeyStore()
        header = TokenFactory(issuer=ISSUER, keys=ks, clock=lambda: NOW).sign({})
        assert re.fullmatch(r"[A-Za-z0-9]+", header.split(".")[0])


def test_signing_follows_rotation() -> None:
    ks = KeyStore()
    factory = TokenFactory(issuer=ISSUER, keys=ks, clock=lambda: NOW)
    before = factory.sign({"iss": ISSUER, "aud": ["a"]})
    old = ks.active_kid
    new = ks.rotate()
    after = factory.sign({"iss": ISSUER, "aud": ["a"]})
    assert segment(before, 0)["kid"] == old
    assert segment(after, 0)["kid"] == new
    assert verify(before, ks, "a") == {"iss": ISSUER, "aud": ["a"]}
    assert verify(after, ks, "a") == {"iss": ISSUER, "aud": ["a"]}


def test_custom_header_replaces_the_standard_one(factory: TokenFactory) -> None:
    token = factory.sign({"a": 1}, header={"alg": "RS256", "typ": "JWT"})
    assert segment(token, 0) == {"alg": "RS256", "typ": "JWT"}
    assert segment(token, 1) == {"a": 1}


def test_encode_segment_is_compact_json() -> None:
    encoded = encode_segment({"a": [1, 2], "b": "c"})
    assert base64.urlsafe_b64decode(encoded + "==") == b'{"a":[1,2],"b":"c"}'
    assert "=" not in encoded
