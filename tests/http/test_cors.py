"""CORS as Kinde's browser SDKs need it: preflights, allowed and refused origins, credentials,
per endpoint; the journal says why an origin was refused."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.errors import ConfigError
from mockauth.http.app import create_app
from mockauth.tenant.config import default_config, parse_config
from mockauth.tenant.tenant import Tenant
from mockauth.testing.helpers import MockAuth

ISSUER = "http://127.0.0.1:8400"
CONFIG = default_config()
WEB, SPA = CONFIG.apps[1], CONFIG.apps[2]
SPA_ORIGIN = "http://localhost:5173"  # a SPA callback's origin, not the web app's
WEB_ONLY = "http://localhost:8000"  # the web app's callback origin, not the SPA's
STRANGER = "https://evil.example"
# Every path a page calls, with a request that reaches its endpoint.
ENDPOINTS = [
    ("GET", paths.DISCOVERY),
    ("GET", paths.JWKS),
    ("GET", paths.JWKS_JSON),
    ("POST", paths.TOKEN),
    ("GET", paths.USERINFO),
    ("GET", paths.USERINFO_V1),
    ("POST", paths.REVOKE),
    ("POST", paths.INTROSPECT),
    ("GET", paths.LOGOUT),
    ("POST", paths.DEVICE_AUTH),
]


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(CONFIG, issuer=ISSUER)


@pytest.fixture
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), base_url=ISSUER)


def preflight(client: TestClient, path: str, origin: str, headers: str = "kinde-sdk") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_an_app_origin_passes_the_preflight_of_every_browser_endpoint(
    client: TestClient, method: str, path: str
) -> None:
    answer = preflight(client, path, SPA_ORIGIN, "kinde-sdk, authorization, content-type")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    allowed = answer.headers["access-control-allow-headers"].split(", ")
    assert {"kinde-sdk", "authorization", "content-type"} <= set(allowed)
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert int(answer.headers["access-control-max-age"]) > 0
    assert answer.headers["vary"] == "Origin"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_stranger_fails_the_preflight_except_for_public_documents(
    client: TestClient, tenant: Tenant, method: str, path: str
) -> None:
    answer = preflight(client, path, STRANGER)
    if path in (paths.DISCOVERY, paths.JWKS, paths.JWKS_JSON):
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        return
    assert answer.status_code == 403 and answer.json()["error"] == "access_denied"
    assert "access-control-allow-origin" not in answer.headers
    (entry,) = tenant.journal.entries(path=path)
    assert entry.note == f"cors: origin {STRANGER} is not an origin of any app"


def test_a_header_no_sdk_sends_fails_the_preflight(client: TestClient) -> None:
    answer = preflight(client, paths.TOKEN, SPA_ORIGIN, "x-forwarded-host")
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers


def exchange_form(app: Any = SPA) -> dict[str, str]:
    return {"grant_type": "authorization_code", "client_id": app.client_id, "code": "nope"}


def test_answers_of_the_token_endpoint_carry_cors_for_the_apps_origin(client: TestClient) -> None:
    answer = client.post(paths.TOKEN, data=exchange_form(), headers={"Origin": SPA_ORIGIN})
    assert answer.status_code == 400  # an error a page must be able to read
    assert answer.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["vary"] == "Origin"


def test_another_apps_origin_gets_no_cors_and_the_journal_says_why(
    client: TestClient, tenant: Tenant
) -> None:
    answer = client.post(paths.TOKEN, data=exchange_form(), headers={"Origin": WEB_ONLY})
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    assert answer.headers["vary"] == "Origin"
    (entry,) = tenant.journal.entries(path=paths.TOKEN)
    assert entry.note is not None and f"origin {WEB_ONLY}" in entry.note
    assert SPA.client_id in entry.note


def test_without_an_origin_nothing_changes(client: TestClient) -> None:
    answer = client.post(paths.TOKEN, data=exchange_form())
    assert not any(h.startswith("access-control-") for h in answer.headers)
    assert "vary" not in answer.headers


@pytest.mark.parametrize("path", [paths.DISCOVERY, paths.JWKS])
def test_public_documents_answer_any_origin_without_credentials(
    client: TestClient, path: str
) -> None:
    stranger = client.get(path, headers={"Origin": STRANGER})
    assert stranger.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in stranger.headers
    app = client.get(path, headers={"Origin": SPA_ORIGIN})
    assert app.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert app.headers["access-control-allow-credentials"] == "true"


def test_the_user_profile_answers_the_origin_of_the_tokens_app(
    client: TestClient, tenant: Tenant
) -> None:
    token = MockAuth(tenant, ISSUER).user_token(client_id=SPA.client_id)
    bearer = {"Authorization": f"Bearer {token}"}
    mine = client.get(paths.USERINFO, headers={**bearer, "Origin": SPA_ORIGIN})
    assert mine.status_code == 200
    assert mine.headers["access-control-allow-origin"] == SPA_ORIGIN
    other = client.get(paths.USERINFO, headers={**bearer, "Origin": WEB_ONLY})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_paths_a_page_does_not_call_get_no_cors(client: TestClient) -> None:
    answer = client.get(paths.ADMIN_KEYS, headers={"Origin": SPA_ORIGIN})
    assert "access-control-allow-origin" not in answer.headers


def test_an_injected_fault_is_readable_by_the_page(client: TestClient, tenant: Tenant) -> None:
    tenant.faults.add({"endpoint": "token", "effect": "throttle", "retry_after": 3})
    answer = client.post(paths.TOKEN, data=exchange_form(), headers={"Origin": SPA_ORIGIN})
    assert answer.status_code == 429
    assert answer.headers["access-control-allow-origin"] == SPA_ORIGIN


def test_allowed_origins_add_origins_to_an_app(tenant: Tenant, client: TestClient) -> None:
    table = {
        "name": "Widget",
        "type": "spa",
        "client_id": "a" * 32,
        "allowed_origins": ["https://widget.example:8443"],
    }
    tenant.put_app(table)
    form = exchange_form(tenant.app("a" * 32))
    answer = client.post(paths.TOKEN, data=form, headers={"Origin": "https://widget.example:8443"})
    assert answer.headers["access-control-allow-origin"] == "https://widget.example:8443"


@pytest.mark.parametrize(
    "origin",
    ["https://widget.example/", "https://widget.example/path", "HTTPS://Widget.example", "*", ""],
)
def test_an_allowed_origin_must_be_an_origin(origin: str) -> None:
    toml = f"""
[[apps]]
name = "Widget"
type = "spa"
client_id = "{"a" * 32}"
allowed_origins = ["{origin}"]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(toml.encode(), source="cors.toml")
    assert caught.value.key == "apps[0].allowed_origins[0]"
    assert caught.value.source == "cors.toml"


def test_the_account_api_answers_the_origin_of_the_tokens_app(
    client: TestClient, tenant: Tenant
) -> None:
    token = MockAuth(tenant, ISSUER).user_token(client_id=SPA.client_id)
    bearer = {"Authorization": f"Bearer {token}"}
    path = paths.ACCOUNT_API + "/roles"
    assert preflight(client, path, SPA_ORIGIN, "authorization").status_code == 204
    mine = client.get(path, headers={**bearer, "Origin": SPA_ORIGIN})
    assert mine.status_code == 200
    assert mine.headers["access-control-allow-origin"] == SPA_ORIGIN
    other = client.get(path, headers={**bearer, "Origin": WEB_ONLY})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
