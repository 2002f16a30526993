"""Discovery and JWKS: Kinde's fields, every URL from the issuer, both JWKS paths alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockauth.errors import ConfigError
from mockauth.http.app import create_app
from mockauth.tenant.config import default_config, parse_config
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore

ISSUER = "http://127.0.0.1:8400"
JWK_MEMBERS = {"kty", "alg", "use", "kid", "n", "e"}
URL_FIELDS = {
    "jwks_uri": "/.well-known/jwks",
    "token_endpoint": "/oauth2/token",
    "authorization_endpoint": "/oauth2/auth",
    "userinfo_endpoint": "/oauth2/v2/user_profile",
    "revocation_endpoint": "/oauth2/revoke",
    "introspection_endpoint": "/oauth2/introspect",
    "end_session_endpoint": "/logout",
    "device_authorization_endpoint": "/oauth2/device/auth",
}


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore()


@pytest.fixture(scope="module")
def client(keys: KeyStore) -> TestClient:
    return TestClient(create_app(Tenant(issuer=ISSUER, keys=keys)))


def discovery(client: TestClient) -> dict[str, Any]:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    return doc


def test_discovery_has_every_kinde_field(client: TestClient) -> None:
    doc = discovery(client)
    assert doc["issuer"] == ISSUER
    assert set(doc["claims_supported"]) >= {"aud", "exp", "iat", "iss", "sub"}
    assert set(doc["scopes_supported"]) >= {
        "address",
        "email",
        "offline",
        "openid",
        "phone",
        "profile",
    }
    assert doc["subject_types_supported"] == ["public"]
    assert set(doc["response_modes_supported"]) == {"form_post", "query", "fragment"}
    assert {"code", "token", "id_token"} <= set(doc["response_types_supported"])
    assert doc["request_uri_parameter_supported"] is False
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "client_secret_post" in doc["token_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    assert "client_credentials" in doc["grant_types_supported"]
    for field in URL_FIELDS:
        assert field in doc


def test_no_signing_algorithm_but_rs256_is_advertised(client: TestClient) -> None:
    text = client.get("/.well-known/openid-configuration").text
    for alg in ("HS256", "none", "ES256", "PS256"):
        assert f'"{alg}"' not in text


@pytest.mark.parametrize(
    "issuer",
    [ISSUER, "https://tenant.kinde.com", "http://[::1]:9000", "https://auth.example.com"],
)
def test_every_url_is_built_from_the_issuer(issuer: str) -> None:
    client = TestClient(create_app(Tenant(issuer=issuer, keys=KeyStore())))
    doc = discovery(client)
    assert doc["issuer"] == issuer
    for field, path in URL_FIELDS.items():
        assert doc[field] == issuer + path
    urls = [v for v in doc.values() if isinstance(v, str) and "://" in v]
    assert len(urls) == len(URL_FIELDS) + 1
    assert all(url.startswith(issuer) for url in urls)
    assert not any(url.endswith("/") for url in urls)


def test_configured_issuer_wins_over_the_server_url(keys: KeyStore) -> None:
    config = parse_config(b'issuer = "https://acme.kinde.com"\n', source="x.toml")
    doc = discovery(TestClient(create_app(Tenant(config, issuer=ISSUER, keys=keys))))
    assert doc["issuer"] == "https://acme.kinde.com"
    assert doc["token_endpoint"] == "https://acme.kinde.com/oauth2/token"


def test_issuer_with_a_trailing_slash_is_refused(keys: KeyStore) -> None:
    with pytest.raises(ConfigError, match="must not end with '/'"):
        Tenant(default_config(), issuer=ISSUER + "/", keys=keys)


@pytest.mark.parametrize("issuer", ["https://auth.example.com/tenant", "ftp://x", "http://a b"])
def test_issuer_must_be_a_bare_origin(keys: KeyStore, issuer: str) -> None:
    # Every discovery URL is built from the issuer and served at the root.
    with pytest.raises(ConfigError, match="origin"):
        Tenant(default_config(), issuer=issuer, keys=keys)


def test_both_jwks_paths_serve_the_same_body(client: TestClient, keys: KeyStore) -> None:
    plain = client.get("/.well-known/jwks")
    dotjson = client.get("/.well-known/jwks.json")
    assert plain.status_code == dotjson.status_code == 200
    assert plain.content == dotjson.content == keys.jwks_bytes()
    assert plain.headers["content-type"] == dotjson.headers["content-type"] == "application/json"


def test_jwks_keys_are_exactly_public_members(client: TestClient, keys: KeyStore) -> None:
    (jwk,) = client.get("/.well-known/jwks.json").json()["keys"]
    assert set(jwk) == JWK_MEMBERS
    assert jwk["kid"] == keys.active_kid
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")


def test_jwks_follows_rotation() -> None:
    keys = KeyStore()
    client = TestClient(create_app(Tenant(issuer=ISSUER, keys=keys)))
    old = keys.active_kid
    new = keys.rotate()
    for path in ("/.well-known/jwks", "/.well-known/jwks.json"):
        assert [k["kid"] for k in client.get(path).json()["keys"]] == [new, old]
    keys.retire(old)
    assert [k["kid"] for k in client.get("/.well-known/jwks").json()["keys"]] == [new]


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/jwks", "/.well-known/jwks.json"]
)
def test_well_known_documents_refuse_post(client: TestClient, path: str) -> None:
    response = client.post(path)
    assert response.status_code == 405
    assert set(response.json()) == {"error", "error_description"}


def test_discovery_body_is_plain_json(client: TestClient) -> None:
    raw = client.get("/.well-known/openid-configuration").content
    assert json.loads(raw) == discovery(client)


def test_health(client: TestClient) -> None:
    response = client.get("/_mockauth/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# Each URL discovery names, asked with no parameters: its status, and the OAuth error
# code when the answer is an error (None: a page or a document).
BARE_ANSWERS = {
    "token_endpoint": {"GET": (405, "invalid_request"), "POST": (400, "invalid_request")},
    "jwks_uri": {"GET": (200, None), "POST": (405, "invalid_request")},
    "authorization_endpoint": {"GET": (400, "invalid_request"), "POST": (405, "invalid_request")},
    "userinfo_endpoint": {"GET": (401, "invalid_token"), "POST": (405, "invalid_request")},
    "revocation_endpoint": {"GET": (405, "invalid_request"), "POST": (400, "invalid_request")},
    "introspection_endpoint": {"GET": (405, "invalid_request"), "POST": (400, "invalid_request")},
    "end_session_endpoint": {"GET": (200, None), "POST": (405, "invalid_request")},
    # Kinde's client_id is optional here: with one device app, a bare POST gets a code.
    "device_authorization_endpoint": {"GET": (405, "invalid_request"), "POST": (200, None)},
}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_url_discovery_names_is_served(client: TestClient, method: str) -> None:
    # SDKs follow these: each answers, and a bare request gets a clear OAuth error.
    doc = client.get("/.well-known/openid-configuration").json()
    urls = {k: v for k, v in doc.items() if isinstance(v, str) and v.startswith(ISSUER + "/")}
    assert set(urls) == set(BARE_ANSWERS)
    for name, url in urls.items():
        answer = client.request(method, url.removeprefix(ISSUER))
        status, error = BARE_ANSWERS[name][method]
        assert answer.status_code == status, name
        if error is not None:
            assert answer.json()["error"] == error, name
