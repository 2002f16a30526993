"""User login in process: the authorization endpoint, the authorization_code and
refresh_token grants, user profile, introspection, revocation and logout."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth.errors import ConfigError
from mockauth.http.app import create_app
from mockauth.tenant.apps import Lifetimes
from mockauth.tenant.config import default_config, parse_config
from mockauth.tenant.people import Org, User
from mockauth.tenant.tenant import Tenant
from mockauth.testing.helpers import MockAuth
from mockauth.tokens.keys import KeyStore
from mockauth.tokens.sealed import MAX_SEALED, SEAL_KEY_FILE, Sealer

ISSUER = "http://testserver"
CONFIG = default_config()
M2M = CONFIG.apps[0]
WEB = next(a for a in CONFIG.apps if a.type == "regular")
SPA = next(a for a in CONFIG.apps if a.type == "spa")
USER = CONFIG.users[0]
ORG = CONFIG.orgs[0]
API = "https://api.example.com"
CALLBACK = WEB.redirect_uris[1]
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmn"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
ALL_SCOPES = "openid profile email offline"

EXTRA_TOML = """
[[apis]]
audience = "https://api.example.com"
scopes = ["read:calendar"]

[[apps]]
name = "Web"
type = "regular"
client_id = "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"
client_secret = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3w"
redirect_uris = ["http://localhost:3000/callback"]
logout_uris = ["http://localhost:3000"]

[[apps]]
name = "Other"
type = "regular"
client_id = "00000000000000000000000000000001"
client_secret = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3x"
redirect_uris = ["http://localhost:3000/callback"]
logout_uris = ["http://localhost:4000"]

[[orgs]]
code = "org_a"
name = "A"

[[orgs]]
code = "org_b"

[[users]]
email = "first@example.com"
orgs = ["org_a", "org_b"]

[[users]]
id = "kp_second"
email = "Second@Example.com"
given_name = "Sec"
username = "second"
picture = "https://example.com/p.png"
roles = ["admin"]
claims = { tier = "gold" }
"""
OTHER_ID = "00000000000000000000000000000001"
OTHER_SECRET = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3x"


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(issuer=ISSUER, keys=KEYS)


KEYS = KeyStore()


@pytest.fixture
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), base_url=ISSUER)


def auth_params(app: Any = WEB, **extra: str) -> dict[str, str]:
    params = {
        "client_id": app.client_id,
        "redirect_uri": CALLBACK if app is WEB else app.redirect_uris[0],
        "response_type": "code",
        "scope": ALL_SCOPES,
        "state": "st-1",
        "nonce": "nonce-1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != "-"}


def authorize(client: TestClient, **params: str) -> dict[str, str]:
    answer = client.get("/oauth2/auth", params=params, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    assert answer.headers["cache-control"] == "no-store"
    location = urlsplit(answer.headers["location"])
    redirect_uri = params["redirect_uri"]
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def code_for(client: TestClient, app: Any = WEB, **extra: str) -> str:
    got = authorize(client, **auth_params(app, **extra))
    assert "code" in got, got
    return got["code"]


def redeem(client: TestClient, the_code: str, app: Any = WEB, **extra: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": the_code,
        "client_id": app.client_id,
        "redirect_uri": CALLBACK if app is WEB else app.redirect_uris[0],
        "code_verifier": VERIFIER,
    }
    if app.client_secret:
        form["client_secret"] = app.client_secret
    form.update(extra)
    return client.post("/oauth2/token", data={k: v for k, v in form.items() if v != "-"})


def login(client: TestClient, app: Any = WEB, **extra: str) -> dict[str, Any]:
    answer = redeem(client, code_for(client, app, **extra), app)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def verified(
    token: str, audience: str | None = None, *, now_is_real: bool = True
) -> dict[str, Any]:
    """Claims after PyJWT checks signature, issuer and audience (and times, unless the
    tenant's clock was moved)."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = KEYS.public_key(kid)
    assert key is not None
    options = {} if audience else {"verify_aud": False}
    if not now_is_real:
        options.update(verify_iat=False, verify_exp=False)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], issuer=ISSUER, audience=audience, options=options
    )
    return claims


def refresh(client: TestClient, token: str, app: Any = WEB, **extra: str) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": app.client_id}
    if app.client_secret:
        form["client_secret"] = app.client_secret
    form.update(extra)
    return client.post("/oauth2/token", data=form)


def assert_error(answer: Any, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error, body
    return body


# --- the authorization endpoint ---


def test_authorize_redirects_with_a_code_and_the_state(client: TestClient) -> None:
    got = authorize(client, **auth_params())
    assert set(got) == {"code", "state"}
    assert got["state"] == "st-1"
    head, dot, tail = got["code"].partition(".")
    assert dot and head and tail and "=" not in got["code"]


def test_authorize_keeps_the_redirect_uris_own_query() -> None:
    config = parse_config(
        EXTRA_TOML.replace(
            '"http://localhost:3000/callback"]', '"http://a.test/cb?x=1"]', 1
        ).encode(),
        source="t.toml",
    )
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    answer = client.get(
        "/oauth2/auth",
        params={**auth_params(), "redirect_uri": "http://a.test/cb?x=1"},
        follow_redirects=False,
    )
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "a.test"
    query = parse_qs(location.query)
    assert query["x"] == ["1"] and query["state"] == ["st-1"] and "code" in query


def test_fragment_mode_puts_the_code_in_the_fragment(client: TestClient) -> None:
    answer = client.get(
        "/oauth2/auth", params=auth_params(response_mode="fragment"), follow_redirects=False
    )
    location = urlsplit(answer.headers["location"])
    assert location.query == ""
    assert "code" in parse_qs(location.fragment)


def test_form_post_mode_answers_a_page_posting_to_the_redirect_uri(client: TestClient) -> None:
    answer = client.get("/oauth2/auth", params=auth_params(response_mode="form_post", state='"<x>'))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert f'action="{CALLBACK}"' in page
    assert 'name="code"' in page
    assert 'value="&quot;&lt;x&gt;"' in page  # the state, escaped
    assert "<x>" not in page


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_id": "-"}, 400, "invalid_request"),
        ({"client_id": "ffffffffffffffffffffffffffffffff"}, 401, "invalid_client"),
        ({"redirect_uri": "-"}, 400, "invalid_request"),
        ({"redirect_uri": "http://evil.example/callback"}, 400, "invalid_request"),
        ({"redirect_uri": CALLBACK + "/"}, 400, "invalid_request"),
    ],
)
def test_untrusted_client_or_redirect_uri_is_answered_not_redirected(
    client: TestClient, change: dict[str, str], status: int, error: str
) -> None:
    # RFC 6749 4.1.2.1: never send the browser to a redirect_uri that is not registered.
    answer = client.get("/oauth2/auth", params=auth_params(**change), follow_redirects=False)
    assert "location" not in answer.headers
    assert_error(answer, status, error)


def test_a_repeated_client_id_is_answered_not_redirected(client: TestClient) -> None:
    query = "client_id=" + WEB.client_id + "&client_id=" + SPA.client_id
    answer = client.get(f"/oauth2/auth?{query}&redirect_uri={CALLBACK}", follow_redirects=False)
    assert "location" not in answer.headers
    assert_error(answer, 400, "invalid_request")


@pytest.mark.parametrize(
    ("app", "change", "error"),
    [
        (WEB, {"response_type": "token"}, "unsupported_response_type"),
        (WEB, {"response_type": "-"}, "unsupported_response_type"),
        (WEB, {"code_challenge_method": "plain"}, "invalid_request"),
        (WEB, {"code_challenge": "short"}, "invalid_request"),
        (WEB, {"code_challenge": "-"}, "invalid_request"),  # a method without a challenge
        (SPA, {"code_challenge": "-", "code_challenge_method": "-"}, "invalid_request"),
        (WEB, {"audience": "https://unknown.example.com"}, "unauthorized_client"),
        (WEB, {"login_hint": "kp_nobody"}, "access_denied"),
        (WEB, {"org_code": "org_notmine"}, "access_denied"),
        (WEB, {"response_mode": "web_message"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_redirect_with_an_error_and_the_state(
    client: TestClient, app: Any, change: dict[str, str], error: str
) -> None:
    got = authorize(client, **auth_params(app, **change))
    assert set(got) == {"error", "error_description", "state"}
    assert got["error"] == error
    assert got["state"] == "st-1"


def test_an_m2m_app_has_no_callback_so_signs_no_one_in(client: TestClient) -> None:
    # The config refuses redirect_uris on m2m apps (test_config), so nothing is redirected.
    params = auth_params(client_id=M2M.client_id)
    answer = client.get("/oauth2/auth", params=params, follow_redirects=False)
    assert "location" not in answer.headers
    assert "redirect_uri" in assert_error(answer, 400, "invalid_request")["error_description"]


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_repeated_client_or_callback_is_never_redirected_to(
    client: TestClient, name: str
) -> None:
    # Even when another parameter is repeated first.
    pairs = [("state", "1"), ("state", "2"), *auth_params().items()]
    pairs.append((name, "http://evil.example/" if name == "redirect_uri" else OTHER_ID))
    answer = client.get("/oauth2/auth", params=pairs, follow_redirects=False)
    assert "location" not in answer.headers
    assert name in assert_error(answer, 400, "invalid_request")["error_description"]


def test_a_redirected_error_description_is_clean_and_short(client: TestClient) -> None:
    for change in ({"login_hint": '\xff"\\'}, {"org_code": "x" * 25_000}):
        got = authorize(client, **auth_params(**change))
        assert got["error"] == "access_denied"
        assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]+", got["error_description"])
        assert len(got["error_description"]) < 300


def test_a_nonce_is_capped_so_every_code_can_be_redeemed(client: TestClient) -> None:
    got = authorize(client, **auth_params(nonce="n" * 1025))
    assert got["error"] == "invalid_request" and "nonce" in got["error_description"]
    body = login(client, nonce="n" * 1024)
    assert verified(body["id_token"], audience=WEB.client_id)["nonce"] == "n" * 1024


def test_a_bare_origin_callback_matches_with_or_without_its_slash(client: TestClient) -> None:
    # openid-client 6 sends http://localhost:5173/ for a registered http://localhost:5173.
    origin = SPA.redirect_uris[0]
    assert "/" not in origin.split("://")[1]
    code = code_for(client, SPA, redirect_uri=origin + "/")
    assert redeem(client, code, SPA, redirect_uri=origin).status_code == 200
    code = code_for(client, SPA)
    assert redeem(client, code, SPA, redirect_uri=origin + "/").status_code == 200
    for other in (origin + "//", origin + "/x", origin + "?"):
        answer = client.get("/oauth2/auth", params=auth_params(SPA, redirect_uri=other))
        assert_error(answer, 400, "invalid_request")


def test_a_repeated_parameter_is_refused_through_the_redirect(client: TestClient) -> None:
    query = "&".join(f"{k}={v}" for k, v in auth_params().items())
    answer = client.get(f"/oauth2/auth?{query}&scope=openid", follow_redirects=False)
    got = parse_qs(urlsplit(answer.headers["location"]).query)
    assert got["error"] == ["invalid_request"]
    assert "scope" in got["error_description"][0]


def test_no_users_means_access_denied() -> None:
    config = parse_config(EXTRA_TOML.split("[[orgs]]")[0].encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    got = authorize(client, **auth_params())
    assert got["error"] == "access_denied"
    assert "[[users]]" in got["error_description"]


def test_unknown_scopes_are_dropped_and_the_rest_granted(client: TestClient) -> None:
    body = login(client, scope="openid offline_access email")
    assert body["scope"] == "openid email"
    assert "refresh_token" not in body  # only 'offline' gives one
    assert verified(body["access_token"])["scp"] == ["openid", "email"]


# --- the authorization_code grant ---


def test_the_code_buys_kinde_shaped_tokens(client: TestClient) -> None:
    body = login(client, audience=API)
    assert list(body) == [
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "scope",
        "token_type",
    ]
    assert body["token_type"] == "bearer"
    assert body["scope"] == ALL_SCOPES
    assert body["expires_in"] == CONFIG.lifetimes.access_token - 1
    access = verified(body["access_token"], audience=API)
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "JWT"
    assert access["aud"] == [API]
    assert access["azp"] == WEB.client_id
    assert access["sub"] == USER.id
    assert access["org_code"] == ORG.code
    assert access["org_name"] == ORG.name
    assert access["permissions"] == list(USER.permissions)
    assert access["scp"] == ALL_SCOPES.split()
    assert access["feature_flags"] == {}
    assert access["exp"] - access["iat"] == CONFIG.lifetimes.access_token
    assert "gty" not in access and "scope" not in access


def test_the_id_token_names_the_user_and_binds_the_access_token(client: TestClient) -> None:
    body = login(client)
    claims = verified(body["id_token"], audience=WEB.client_id)
    assert claims["aud"] == [ISSUER, WEB.client_id]
    assert claims["azp"] == WEB.client_id
    assert claims["nonce"] == "nonce-1"
    assert claims["sub"] == USER.id
    assert claims["email"] == USER.email
    assert claims["name"] == f"{USER.given_name} {USER.family_name}"
    assert claims["org_codes"] == [ORG.code]
    assert claims["exp"] - claims["iat"] == CONFIG.lifetimes.id_token
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_an_access_token_without_an_audience_has_an_empty_aud(client: TestClient) -> None:
    assert verified(login(client)["access_token"])["aud"] == []


def test_without_openid_there_is_no_id_token(client: TestClient) -> None:
    body = login(client, scope="offline")
    assert "id_token" not in body and "refresh_token" in body


def test_a_spa_redeems_without_a_secret(client: TestClient) -> None:
    body = login(client, SPA)
    assert verified(body["access_token"])["azp"] == SPA.client_id


def test_login_hint_and_org_code_choose_who_signs_in() -> None:
    config = parse_config(EXTRA_TOML.encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    first = verified(login(client)["access_token"])
    assert first["sub"] == config.users[0].id and first["org_code"] == "org_a"
    assert config.users[0].id.startswith("kp_") and len(config.users[0].id) == 35
    other_org = verified(login(client, org_code="org_b")["access_token"])
    assert other_org["org_code"] == "org_b" and "org_name" not in other_org
    second = verified(login(client, login_hint="second@EXAMPLE.com")["access_token"])
    assert second["sub"] == "kp_second"
    assert "org_code" not in second  # a user in no organisation
    assert second["roles"][0]["key"] == "admin" and second["tier"] == "gold"
    by_id = login(client, login_hint="kp_second")
    id_claims = verified(by_id["id_token"], audience=WEB.client_id)
    assert id_claims["preferred_username"] == "second"
    assert id_claims["picture"] == "https://example.com/p.png"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"code_verifier": "w" * 43}, 400, "invalid_grant"),
        ({"code_verifier": "-"}, 400, "invalid_grant"),
        ({"code_verifier": "short"}, 400, "invalid_grant"),
        ({"redirect_uri": WEB.redirect_uris[0]}, 400, "invalid_grant"),
        ({"redirect_uri": "-"}, 400, "invalid_grant"),
        ({"client_secret": "x" * 50}, 401, "invalid_client"),
        ({"client_secret": "-"}, 401, "invalid_client"),
        ({"code": "-"}, 400, "invalid_request"),
        ({"code": "not.ours"}, 400, "invalid_grant"),
    ],
)
def test_a_bad_code_redemption_is_refused(
    client: TestClient, change: dict[str, str], status: int, error: str
) -> None:
    assert_error(redeem(client, code_for(client), **change), status, error)


def test_a_verifier_without_a_challenge_is_refused(client: TestClient) -> None:
    code = code_for(client, code_challenge="-", code_challenge_method="-")
    assert_error(redeem(client, code), 400, "invalid_grant")
    assert redeem(client, code, code_verifier="-").status_code == 200


def test_a_code_works_once(client: TestClient) -> None:
    code = code_for(client)
    assert redeem(client, code).status_code == 200
    body = assert_error(redeem(client, code), 400, "invalid_grant")
    assert "already been used" in body["error_description"]


def test_a_code_is_bound_to_its_client() -> None:
    config = parse_config(EXTRA_TOML.encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    code = code_for(client)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": OTHER_ID,
        "client_secret": OTHER_SECRET,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    body = assert_error(client.post("/oauth2/token", data=form), 400, "invalid_grant")
    assert "another client" in body["error_description"]


def test_a_code_expires_after_ten_minutes(tenant: Tenant, client: TestClient) -> None:
    code = code_for(client)
    tenant.clock.advance(601)
    body = assert_error(redeem(client, code), 400, "invalid_grant")
    assert "expired" in body["error_description"]


def test_a_tampered_code_is_refused(client: TestClient) -> None:
    code = code_for(client)
    i = len(code) // 3
    tampered = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
    assert_error(redeem(client, tampered), 400, "invalid_grant")


def test_a_refresh_token_is_not_a_code(client: TestClient) -> None:
    token = login(client)["refresh_token"]
    assert_error(redeem(client, token), 400, "invalid_grant")


def test_another_servers_code_is_refused(client: TestClient) -> None:
    stranger = TestClient(create_app(Tenant(issuer=ISSUER, keys=KEYS)), base_url=ISSUER)
    assert_error(redeem(client, code_for(stranger)), 400, "invalid_grant")


# --- the refresh_token grant ---


def test_refresh_rotates_and_keeps_the_unexpired_access_token(
    tenant: Tenant, client: TestClient
) -> None:
    first = login(client)
    again = refresh(client, first["refresh_token"])
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["access_token"] == first["access_token"]  # as Kinde answers
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == ALL_SCOPES
    assert verified(body["id_token"], audience=WEB.client_id)["sub"] == USER.id
    # Past the grace period the old refresh token is spent; the new one works.
    tenant.clock.advance(CONFIG.lifetimes.refresh_grace + 1)
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_the_previous_refresh_token_works_for_the_grace_period(
    tenant: Tenant, client: TestClient
) -> None:
    first = login(client)["refresh_token"]
    tabs = [refresh(client, first) for _ in range(3)]  # three tabs, the same token
    assert [t.status_code for t in tabs] == [200, 200, 200]
    # Each got a refresh token of the next turn; any of them refreshes once more.
    newest = refresh(client, tabs[2].json()["refresh_token"])
    assert newest.status_code == 200
    assert refresh(client, tabs[0].json()["refresh_token"]).status_code == 200  # in grace


def test_reuse_past_the_grace_period_revokes_the_family(tenant: Tenant, client: TestClient) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    tenant.clock.advance(CONFIG.lifetimes.refresh_grace + 1)
    replay = refresh(client, first["refresh_token"])
    assert (
        "family of refresh tokens is revoked"
        in assert_error(replay, 400, "invalid_grant")["error_description"]
    )
    assert_error(refresh(client, second["refresh_token"]), 400, "invalid_grant")
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        answer = client.post("/oauth2/introspect", data={"token": token, **app_auth()})
        assert answer.json() == {"active": False}


def test_refresh_after_the_access_token_expired_gives_a_new_one(
    tenant: Tenant, client: TestClient
) -> None:
    first = login(client)
    tenant.clock.advance(CONFIG.lifetimes.access_token + 1)
    body = refresh(client, first["refresh_token"]).json()
    assert body["access_token"] != first["access_token"]
    new = verified(body["access_token"], now_is_real=False)
    old = verified(first["access_token"])
    assert new["iat"] > old["iat"] and new["jti"] != old["jti"]
    assert body["expires_in"] == CONFIG.lifetimes.access_token - 1


def test_a_refresh_may_narrow_the_scope_but_not_widen_it(client: TestClient) -> None:
    first = login(client, scope="openid email offline")
    token = first["refresh_token"]
    assert_error(refresh(client, token, scope="openid profile"), 400, "invalid_scope")
    narrowed = refresh(client, token, scope="email").json()
    assert narrowed["scope"] == "email" and "id_token" not in narrowed
    claims = verified(narrowed["access_token"])
    assert claims["scp"] == ["email"]
    assert claims["jti"] != verified(first["access_token"])["jti"]  # other claims: new jti
    # The new refresh token keeps the grant's scope (RFC 6749 section 6).
    full = refresh(client, narrowed["refresh_token"]).json()
    assert full["scope"] == "openid email offline" and "id_token" in full
    assert verified(full["access_token"])["jti"] != claims["jti"]


def test_a_refresh_token_expires(tenant: Tenant, client: TestClient) -> None:
    token = login(client)["refresh_token"]
    tenant.clock.advance(CONFIG.lifetimes.refresh_token + 1)
    assert (
        "expired" in assert_error(refresh(client, token), 400, "invalid_grant")["error_description"]
    )


def test_a_refresh_token_is_bound_to_its_client() -> None:
    config = parse_config(EXTRA_TOML.encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    token = login(client)["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": OTHER_ID,
        "client_secret": OTHER_SECRET,
    }
    assert_error(client.post("/oauth2/token", data=form), 400, "invalid_grant")


def test_refresh_tokens_and_codes_survive_a_restart(tmp_path: Path) -> None:
    first = Tenant(issuer=ISSUER, keys_dir=tmp_path)
    body = MockAuth(first, ISSUER).user_token_response()
    seal = tmp_path / SEAL_KEY_FILE
    assert stat.S_IMODE(seal.stat().st_mode) == 0o600
    second = TestClient(create_app(Tenant(issuer=ISSUER, keys_dir=tmp_path)), base_url=ISSUER)
    answer = refresh(second, body["refresh_token"])
    assert answer.status_code == 200, answer.text


def test_a_spent_code_or_refresh_token_stays_spent_after_a_restart(tmp_path: Path) -> None:
    first = TestClient(create_app(Tenant(issuer=ISSUER, keys_dir=tmp_path)), base_url=ISSUER)
    code = code_for(first)
    body = redeem(first, code).json()
    assert refresh(first, body["refresh_token"]).status_code == 200
    revoked = login(first)
    first.post("/oauth2/revoke", data={"token": revoked["refresh_token"], **app_auth()})
    second = TestClient(create_app(Tenant(issuer=ISSUER, keys_dir=tmp_path)), base_url=ISSUER)
    assert_error(redeem(second, code), 400, "invalid_grant")
    assert_error(refresh(second, body["refresh_token"]), 400, "invalid_grant")
    assert_error(refresh(second, revoked["refresh_token"]), 400, "invalid_grant")


def test_a_reset_revives_no_spent_code(tenant: Tenant, client: TestClient) -> None:
    code = code_for(client)
    assert redeem(client, code).status_code == 200
    tenant.reset()
    assert_error(redeem(client, code), 400, "invalid_grant")


def test_a_damaged_seal_key_stops_start_up(tmp_path: Path) -> None:
    Tenant(issuer=ISSUER, keys_dir=tmp_path)
    (tmp_path / SEAL_KEY_FILE).write_bytes(b"short")
    with pytest.raises(Exception, match=SEAL_KEY_FILE):
        Tenant(issuer=ISSUER, keys_dir=tmp_path)


# --- user profile ---


def test_user_profile_v2_and_v1(client: TestClient) -> None:
    token = login(client)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    v2 = client.get("/oauth2/v2/user_profile", headers=auth)
    assert v2.status_code == 200 and v2.headers["cache-control"] == "no-store"
    assert v2.json() == {
        "sub": USER.id,
        "id": USER.id,
        "provided_id": None,
        "name": "Jane Doe",
        "given_name": "Jane",
        "family_name": "Doe",
        "updated_at": v2.json()["updated_at"],
        "email": USER.email,
        "email_verified": True,
        "picture": None,
        "preferred_username": None,
    }
    assert isinstance(v2.json()["updated_at"], int)
    v1 = client.get("/oauth2/user_profile", headers=auth).json()
    assert v1 == {
        "id": USER.id,
        "preferred_email": USER.email,
        "username": None,
        "provided_id": None,
        "last_name": "Doe",
        "first_name": "Jane",
        "picture": None,
    }


def test_user_profile_refuses_what_is_not_a_live_user_access_token(
    tenant: Tenant, client: TestClient
) -> None:
    mock = MockAuth(tenant, ISSUER)
    body = login(client)
    cases = {
        "no header": {},
        "basic": {"Authorization": "Basic eDp5"},
        "garbage": {"Authorization": "Bearer abc"},
        "an M2M token": {"Authorization": f"Bearer {mock.token()}"},
        "an ID token": {"Authorization": f"Bearer {body['id_token']}"},
        "another key's token": {
            "Authorization": "Bearer " + MockAuth(Tenant(issuer=ISSUER), ISSUER).user_token()
        },
    }
    for name, headers in cases.items():
        answer = client.get("/oauth2/v2/user_profile", headers=headers)
        assert_error(answer, 401, "invalid_token")
        assert answer.headers["www-authenticate"].startswith("Bearer"), name
    tenant.clock.advance(CONFIG.lifetimes.access_token + 1)
    expired = client.get(
        "/oauth2/v2/user_profile", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert_error(expired, 401, "invalid_token")


# --- introspection and revocation ---


def app_auth(app: Any = WEB) -> dict[str, str]:
    return {"client_id": app.client_id, "client_secret": app.client_secret or ""}


def test_introspection_describes_live_tokens(tenant: Tenant, client: TestClient) -> None:
    body = login(client, audience=API)
    access = client.post("/oauth2/introspect", data={"token": body["access_token"], **app_auth()})
    claims = verified(body["access_token"], audience=API)
    assert access.json() == {
        "active": True,
        "aud": [API],
        "client_id": WEB.client_id,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "scope": ALL_SCOPES,
        "sub": USER.id,
    }
    refresh_answer = client.post(
        "/oauth2/introspect", data={"token": body["refresh_token"], **app_auth()}
    ).json()
    assert refresh_answer["active"] is True and refresh_answer["sub"] == USER.id
    mock = MockAuth(tenant, ISSUER)
    m2m = mock.token()
    by_bearer = client.post(
        "/oauth2/introspect", data={"token": m2m}, headers={"Authorization": f"Bearer {m2m}"}
    ).json()
    assert by_bearer["active"] is True and by_bearer["client_id"] == M2M.client_id
    assert "sub" not in by_bearer
    early = mock.bad_token("not_yet_valid")
    for dead in ("garbage", body["id_token"], early):
        answer = client.post("/oauth2/introspect", data={"token": dead, **app_auth()})
        assert answer.json() == {"active": False}


def test_introspection_needs_a_caller(client: TestClient) -> None:
    assert_error(client.post("/oauth2/introspect", data={"token": "x"}), 400, "invalid_request")
    bad = {"token": "x", "client_id": WEB.client_id, "client_secret": "y" * 50}
    assert_error(client.post("/oauth2/introspect", data=bad), 401, "invalid_client")
    spa = {"token": "x", "client_id": SPA.client_id}  # a public client cannot introspect
    assert_error(client.post("/oauth2/introspect", data=spa), 401, "invalid_client")
    bearer = {"Authorization": "Bearer nope"}
    answer = client.post("/oauth2/introspect", data={"token": "x"}, headers=bearer)
    assert_error(answer, 401, "invalid_token")
    user = {"Authorization": "Bearer " + login(client)["access_token"]}  # a browser's token
    answer = client.post("/oauth2/introspect", data={"token": "x"}, headers=user)
    assert_error(answer, 401, "invalid_token")


def test_revoking_a_refresh_token_ends_it(client: TestClient) -> None:
    token = login(client)["refresh_token"]
    answer = client.post("/oauth2/revoke", data={"token": token, **app_auth()})
    assert answer.status_code == 200 and answer.content == b""
    assert_error(refresh(client, token), 400, "invalid_grant")
    introspected = client.post("/oauth2/introspect", data={"token": token, **app_auth()})
    assert introspected.json() == {"active": False}


def test_revoking_an_access_token_ends_it_and_refresh_gives_a_new_one(
    client: TestClient,
) -> None:
    body = login(client)
    client.post("/oauth2/revoke", data={"token": body["access_token"], **app_auth()})
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert_error(client.get("/oauth2/v2/user_profile", headers=auth), 401, "invalid_token")
    again = refresh(client, body["refresh_token"]).json()
    assert again["access_token"] != body["access_token"]
    auth = {"Authorization": f"Bearer {again['access_token']}"}
    assert client.get("/oauth2/v2/user_profile", headers=auth).status_code == 200


def test_another_clients_token_cannot_be_revoked() -> None:
    config = parse_config(EXTRA_TOML.encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    body = login(client)
    for token in (body["refresh_token"], body["access_token"]):
        other = {"token": token, "client_id": OTHER_ID, "client_secret": OTHER_SECRET}
        answer = client.post("/oauth2/revoke", data=other)
        assert_error(answer, 400, "unauthorized_client")  # RFC 7009 2.1
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_revokes_its_access_token(client: TestClient) -> None:
    body = login(client)
    client.post("/oauth2/revoke", data={"token": body["refresh_token"], **app_auth()})
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert_error(client.get("/oauth2/v2/user_profile", headers=auth), 401, "invalid_token")


def test_revocation_checks_the_caller(client: TestClient) -> None:
    assert client.post("/oauth2/revoke", data={"token": "junk", **app_auth()}).status_code == 200
    bad = {"token": "junk", "client_id": WEB.client_id, "client_secret": "z" * 50}
    assert_error(client.post("/oauth2/revoke", data=bad), 401, "invalid_client")
    assert_error(client.post("/oauth2/revoke", data=app_auth()), 400, "invalid_request")


# --- logout ---


def test_logout_without_a_redirect_shows_a_page(client: TestClient) -> None:
    answer = client.get("/logout")
    assert answer.status_code == 200 and "signed out" in answer.text


@pytest.mark.parametrize("name", ["redirect", "post_logout_redirect_uri", "redirect_uri"])
def test_logout_redirects_to_an_allowed_url(client: TestClient, name: str) -> None:
    answer = client.get(
        "/logout", params={name: "http://localhost:3000", "state": "s1"}, follow_redirects=False
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == "http://localhost:3000?state=s1"


def test_logout_refuses_urls_no_app_allows() -> None:
    config = parse_config(EXTRA_TOML.encode(), source="t.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    for params in (
        {"redirect": "http://evil.example"},
        {"redirect": "http://localhost:4000", "client_id": WEB.client_id},
    ):
        answer = client.get("/logout", params=params, follow_redirects=False)
        assert "location" not in answer.headers
        assert_error(answer, 400, "invalid_request")
    ok = client.get("/logout", params={"redirect": "http://localhost:4000"}, follow_redirects=False)
    assert ok.status_code == 302
    unknown = {"redirect": "http://localhost:4000", "client_id": "f" * 32}
    assert_error(client.get("/logout", params=unknown), 401, "invalid_client")


# --- the testing helper and the spent-id store ---


def test_the_helper_mints_user_tokens(tenant: Tenant) -> None:
    mock = MockAuth(tenant, ISSUER)
    claims = verified(mock.user_token(audience=API), audience=API)
    assert claims["sub"] == USER.id and claims["azp"] == WEB.client_id
    spa = verified(mock.user_token(client_id=SPA.client_id, scopes=["openid"]))
    assert spa["azp"] == SPA.client_id and spa["scp"] == ["openid"]
    with pytest.raises(Exception) as info:
        mock.user_token("nobody@example.com")
    assert getattr(info.value, "error", None) == "access_denied"
    with pytest.raises(ValueError, match="M2M"):
        mock.user_token(client_id=M2M.client_id)


@pytest.mark.parametrize("keys_dir", [False, True])
def test_moving_the_clock_back_and_forth_revives_no_spent_code(
    tmp_path: Path, keys_dir: bool
) -> None:
    tenant = Tenant(issuer=ISSUER, **({"keys_dir": tmp_path} if keys_dir else {"keys": KEYS}))
    client = TestClient(create_app(tenant), base_url=ISSUER)
    tenant.clock.freeze(time.time() - 30 * 86_400)  # a month ago
    code = code_for(client)
    assert redeem(client, code).status_code == 200
    tenant.clock.reset()  # now the code is long expired on the tenant's clock...
    tenant.store.prune()  # ...and what has expired is pruned
    tenant.clock.freeze(time.time() - 30 * 86_400)
    assert_error(redeem(client, code), 400, "invalid_grant")


# --- faults and arbitrary input ---


def test_faults_reach_the_login_endpoints(tenant: Tenant, client: TestClient) -> None:
    tenant.faults.add({"endpoint": "userinfo", "effect": "error", "status": 503})
    tenant.faults.add({"endpoint": "authorize", "effect": "throttle", "retry_after": 7})
    body = MockAuth(tenant, ISSUER).user_token_response()  # the token endpoint is untouched
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert_error(client.get("/oauth2/user_profile", headers=auth), 503, "temporarily_unavailable")
    throttled = client.get("/oauth2/auth", params=auth_params(), follow_redirects=False)
    assert throttled.status_code == 429 and "location" not in throttled.headers
    tenant.faults.clear()
    assert client.get("/oauth2/user_profile", headers=auth).status_code == 200


PARAM_NAMES = [*auth_params(), "response_mode", "login_hint", "org_code", "audience", "prompt"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(PARAM_NAMES) | TEXT,
            TEXT | st.sampled_from(list(auth_params().values())),
        ),
        max_size=12,
    ),
    keep=st.booleans(),
)
def test_any_authorization_request_redirects_home_or_gets_an_oauth_4xx(
    client: TestClient, pairs: list[tuple[str, str]], keep: bool
) -> None:
    if keep:  # mostly valid requests with noise, so the redirect branch is explored too
        pairs = [*auth_params().items(), *pairs]
    answer = client.get("/oauth2/auth", params=pairs, follow_redirects=False)
    if answer.status_code == 302:
        location = answer.headers["location"]
        assert any(location.startswith(uri + "?") for uri in WEB.redirect_uris + SPA.redirect_uris)
        got = parse_qs(urlsplit(location).query)
        assert ("code" in got) != ("error" in got)
    elif answer.status_code == 200:
        assert "form" in answer.text  # form_post
    else:
        assert 400 <= answer.status_code < 500
        assert set(answer.json()) == {"error", "error_description"}


# --- the login page ---

PAGE_TOML = EXTRA_TOML.replace('given_name = "Sec"', 'given_name = "<Sec & Co>"').replace(
    "[[apis]]", "login_page = true\n\n[[apis]]", 1
)


def page_client() -> TestClient:
    config = parse_config(PAGE_TOML.encode(), source="t.toml")
    return TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)), base_url=ISSUER)


def page_links(answer: Any) -> list[str]:
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    found = re.findall(r'<a class="choice" href="([^"]+)"', answer.text)
    return [html.unescape(href) for href in found]


def test_the_login_page_lists_users_and_each_link_signs_one_in() -> None:
    client = page_client()
    answer = client.get("/oauth2/auth", params=auth_params())
    links = page_links(answer)
    assert len(links) == 2
    assert "&lt;Sec &amp; Co&gt;" in answer.text and "<Sec" not in answer.text
    got = authorize(client, **{k: v[0] for k, v in parse_qs(urlsplit(links[1]).query).items()})
    assert got["state"] == "st-1"
    body = redeem(client, got["code"]).json()
    assert verified(body["access_token"])["sub"] == "kp_second"
    # login_hint skips the page; a bad request is redirected with its error, not shown a page.
    assert "code" in authorize(client, **auth_params(login_hint="kp_second"))
    assert authorize(client, **auth_params(response_type="token"))["error"] == (
        "unsupported_response_type"
    )


def test_the_login_page_lists_only_the_orgs_members() -> None:
    client = page_client()
    links = page_links(client.get("/oauth2/auth", params=auth_params(org_code="org_b")))
    assert len(links) == 1 and "login_hint=" in links[0]
    got = authorize(client, **auth_params(org_code="org_nobody"))
    assert got["error"] == "access_denied"


# --- second review: what must hold as config and clock change ---


def test_a_revoked_access_token_stays_revoked_when_the_lifetime_changes(tmp_path: Path) -> None:
    tenant = Tenant(issuer=ISSUER, keys_dir=tmp_path)
    client = TestClient(create_app(tenant), base_url=ISSUER)
    body = login(client)
    client.post("/oauth2/revoke", data={"token": body["refresh_token"], **app_auth()})
    tenant.put_app(replace(WEB, lifetimes=Lifetimes(access_token=3600)))
    answer = client.post("/oauth2/introspect", data={"token": body["access_token"], **app_auth()})
    assert answer.json() == {"active": False}
    # Revoked, then the lifetime changes, then a refresh: never the revoked token again.
    second = login(client)
    client.post("/oauth2/revoke", data={"token": second["access_token"], **app_auth()})
    tenant.put_app(replace(WEB, lifetimes=Lifetimes(access_token=7200)))
    again = refresh(client, second["refresh_token"]).json()
    jtis = [
        jwt.decode(t, options={"verify_signature": False})["jti"]
        for t in (again["access_token"], second["access_token"])
    ]
    assert jtis[0] != jtis[1]


def test_a_refresh_reissues_the_access_token_only_while_its_claims_stand(
    tenant: Tenant, client: TestClient
) -> None:
    first = login(client)
    tenant.put_user(replace(USER, permissions=("delete:event",)))
    body = refresh(client, first["refresh_token"]).json()
    claims = verified(body["access_token"])
    assert claims["permissions"] == ["delete:event"]
    assert claims["jti"] != verified(first["access_token"])["jti"]


def test_a_user_who_left_the_org_or_was_removed_gets_no_more_tokens(
    tenant: Tenant, client: TestClient
) -> None:
    body = login(client)
    tenant.put_user(replace(USER, orgs=()))
    answer = refresh(client, body["refresh_token"])
    assert "organization" in assert_error(answer, 400, "invalid_grant")["error_description"]
    body = login(client)  # signs in with no org now
    tenant.remove_user(USER.id)
    for token in (body["access_token"], body["refresh_token"]):
        answer = client.post("/oauth2/introspect", data={"token": token, **app_auth()})
        assert answer.json() == {"active": False}


def test_a_payload_of_another_shape_is_invalid_grant_not_a_500(
    tenant: Tenant, client: TestClient
) -> None:
    # A refresh token sealed by an older build had no "ah": refused cleanly.
    sealer = tenant.sealer
    old = sealer.seal("refresh", {"id": "x", "c": WEB.client_id, "u": USER.id, "exp": 2**40})
    assert_error(refresh(client, old), 400, "invalid_grant")


def test_replacing_a_user_keeps_the_default_user(tenant: Tenant, client: TestClient) -> None:
    tenant.put_user({"email": "bob@example.com"})
    tenant.put_user(replace(USER, given_name="Janet"))
    assert [u.email for u in tenant.config.users] == [USER.email, "bob@example.com"]
    assert verified(login(client)["access_token"])["sub"] == USER.id


def test_replacing_apps_apis_and_orgs_keeps_their_places(tenant: Tenant) -> None:
    before = tenant.config
    tenant.put_org({"code": "org_zzz"})
    tenant.put_app(replace(M2M, name="Renamed"))
    tenant.put_api(replace(before.apis[0], name="Renamed"))
    tenant.put_org(replace(ORG, name="Renamed"))
    assert [a.client_id for a in tenant.config.apps] == [a.client_id for a in before.apps]
    assert tenant.config.apps[0].name == "Renamed"
    assert [a.audience for a in tenant.config.apis] == [a.audience for a in before.apis]
    assert [o.code for o in tenant.config.orgs] == [ORG.code, "org_zzz"]


def test_objects_are_checked_as_their_tables_are(tenant: Tenant) -> None:
    with pytest.raises(ConfigError, match=r"user\.id"):
        tenant.put_user(User(id="../../etc", email="x@y.z"))
    with pytest.raises(ConfigError, match=r"user\.orgs"):
        tenant.put_user(User(id="kp_x", email="x@y.z", orgs=("org_missing",)))
    with pytest.raises(ConfigError, match=r"org\.code"):
        tenant.put_org(Org(code="acme"))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_yet_valid_by_either_claim_is_inactive(
    tenant: Tenant, client: TestClient, claim: str
) -> None:
    claims = verified(MockAuth(tenant, ISSUER).token(audience=API), audience=API)
    token = tenant.tokens.sign({**claims, claim: int(time.time()) + 600})
    answer = client.post("/oauth2/introspect", data={"token": token, **app_auth()})
    assert answer.json() == {"active": False}


def test_the_login_page_ignores_an_empty_login_hint() -> None:
    client = page_client()
    links = page_links(client.get("/oauth2/auth", params=auth_params(login_hint="")))
    query = parse_qs(urlsplit(links[0]).query, keep_blank_values=True)
    assert len(query["login_hint"]) == 1 and query["login_hint"][0]
    got = authorize(client, **{k: v[0] for k, v in query.items()})
    assert "code" in got


def test_prompt_none_never_shows_the_login_page() -> None:
    got = authorize(page_client(), **auth_params(prompt="none"))
    assert got["error"] == "login_required" and got["state"] == "st-1"


def test_a_sealed_value_longer_than_any_we_make_is_not_opened() -> None:
    sealer = Sealer(bytes(32))
    token = sealer.seal("code", {"x": "y" * 10})
    assert sealer.open("code", token) == {"x": "y" * 10}
    assert sealer.open("code", token + "A" * MAX_SEALED) is None


@pytest.mark.parametrize("keys_dir", [False, True])
def test_a_code_used_twice_revokes_what_its_first_use_gave(tmp_path: Path, keys_dir: bool) -> None:
    tenant = Tenant(issuer=ISSUER, **({"keys_dir": tmp_path} if keys_dir else {"keys": KEYS}))
    client = TestClient(create_app(tenant), base_url=ISSUER)
    code = code_for(client)
    first = redeem(client, code).json()
    rotated = refresh(client, first["refresh_token"]).json()  # a descendant
    replay = assert_error(redeem(client, code), 400, "invalid_grant")
    assert "revoked" in replay["error_description"]
    auth = {"Authorization": f"Bearer {first['access_token']}"}
    assert_error(client.get("/oauth2/v2/user_profile", headers=auth), 401, "invalid_token")
    assert_error(refresh(client, rotated["refresh_token"]), 400, "invalid_grant")
    answer = client.post(
        "/oauth2/introspect", data={"token": rotated["refresh_token"], **app_auth()}
    )
    assert answer.json() == {"active": False}
    # Other logins are untouched.
    other = login(client)
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_a_replay_during_the_first_use_still_revokes_what_it_gave(
    tenant: Tenant, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = code_for(client)
    replays: list[Any] = []
    real_note = tenant.store.note

    def replay_first(ident: str, text: str, until: float) -> None:
        if not replays:  # the stolen code arrives while the first use is issuing
            replays.append(redeem(client, code))
        real_note(ident, text, until)

    monkeypatch.setattr(tenant.store, "note", replay_first)
    first = redeem(client, code)
    assert error_of(replays[0]) == "invalid_grant"
    assert "revoked" in assert_error(first, 400, "invalid_grant")["error_description"]


def error_of(answer: Any) -> str:
    return str(assert_error(answer, 400, "invalid_grant")["error"])


@pytest.mark.parametrize("note", ["garbage", "x 1", "", "a b c d", " 99999999999999999999999"])
def test_a_damaged_note_is_no_500(tenant: Tenant, client: TestClient, note: str) -> None:
    code = code_for(client)
    first = redeem(client, code).json()
    code_id = tenant.sealer.open("code", code)["id"]  # type: ignore[index]
    tenant.store.note(code_id, note, time.time() + 60)
    assert_error(redeem(client, code), 400, "invalid_grant")
    answer = refresh(client, first["refresh_token"])  # the family is revoked all the same
    assert_error(answer, 400, "invalid_grant")


def test_a_refresh_token_sealed_before_families_still_refreshes(
    tenant: Tenant, client: TestClient
) -> None:
    token = login(client)["refresh_token"]
    payload = tenant.sealer.open("refresh", token)
    assert payload is not None
    del payload["f"]
    older = tenant.sealer.seal("refresh", payload)
    assert refresh(client, older).status_code == 200
