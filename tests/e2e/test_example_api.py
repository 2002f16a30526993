"""The example API in examples/ against the real mock server: tokens fetched over HTTP from a
running ServerThread, the API's validator fetching the JWKS over HTTP, and the API fuzzed
with the shipped strategies the way examples/README.md shows users."""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth import TokenValidator
from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config
from mockauth.testing.strategies import (
    Target,
    TokenCase,
    bad_tokens,
    m2m_tokens,
    missing_permission_tokens,
    user_tokens,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calendar_api.py"
APP = default_config().apps[0]
API = "https://api.example.com"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calendar_api", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("calendar_api", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


@pytest.fixture(scope="module")
def api(server: ServerThread) -> Iterator[TestClient]:
    validator = TokenValidator(issuer=server.issuer, audience=API)  # JWKS over HTTP
    with TestClient(load_example().create_api(validator)) as client:
        yield client


def fetch_token(server: ServerThread, scope: str | None = None, audience: str = API) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": APP.client_id,
        "client_secret": APP.client_secret or "",
        "audience": audience,
    }
    if scope is not None:
        form["scope"] = scope
    body = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(server.url + "/oauth2/token", data=body, timeout=30) as answer:
        token: str = json.loads(answer.read())["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_needs_no_token(api: TestClient) -> None:
    assert api.get("/health").json() == {"status": "ok"}


def test_a_token_with_every_scope_reads_and_writes(api: TestClient, server: ServerThread) -> None:
    token = fetch_token(server)
    created = api.post("/events", json={"title": "standup"}, headers=bearer(token))
    assert created.status_code == 201
    assert created.json() == {"title": "standup", "created_by": APP.client_id}
    listed = api.get("/events", headers=bearer(token))
    assert listed.status_code == 200
    assert {"title": "standup", "created_by": APP.client_id} in listed.json()["events"]


@pytest.mark.parametrize("body", [b"notjson", b"\xff\xfe", b"[1, 2]", b'{"title": ""}'])
def test_a_body_without_a_title_is_a_422(
    api: TestClient, server: ServerThread, body: bytes
) -> None:
    answer = api.post("/events", content=body, headers=bearer(fetch_token(server)))
    assert answer.status_code == 422
    assert "title" in answer.json()["error"]


def test_whoami_reports_the_token_claims(api: TestClient, server: ServerThread) -> None:
    answer = api.get("/whoami", headers=bearer(fetch_token(server, "read:calendar")))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["client_id"], body["scopes"], body["org_code"]) == (
        APP.client_id,
        ["read:calendar"],
        None,
    )


def test_no_token_is_a_401_bare_challenge(api: TestClient) -> None:
    answer = api.get("/events")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_missing_scope_is_a_403_naming_the_scope(api: TestClient, server: ServerThread) -> None:
    answer = api.get("/events", headers=bearer(fetch_token(server, "update:event")))
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert challenge.endswith('scope="read:calendar"')
    denied = api.post(
        "/events", json={"title": "x"}, headers=bearer(fetch_token(server, "read:calendar"))
    )
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"].endswith('scope="update:event"')


def test_a_token_for_another_api_is_a_401(api: TestClient, server: ServerThread) -> None:
    token = fetch_token(server, audience=server.issuer + "/api")
    answer = api.get("/whoami", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        'Bearer error="invalid_token", '
        'error_description="The access token is not meant for this API"'
    )


def test_a_token_from_the_servers_past_is_expired(api: TestClient, server: ServerThread) -> None:
    server.tenant.clock.set_offset(-2 * 86_400)  # the mock issues a token two days ago
    try:
        token = fetch_token(server, "read:calendar")
    finally:
        server.tenant.clock.reset()
    answer = api.get("/events", headers=bearer(token))
    assert answer.status_code == 401
    assert 'error_description="The access token expired"' in answer.headers["www-authenticate"]


def test_a_server_with_another_issuer_is_refused(api: TestClient, server: ServerThread) -> None:
    # Same signing key, so only the issuer differs.
    with ServerThread(keys=server.tenant.keys) as other:
        answer = api.get("/whoami", headers=bearer(fetch_token(other)))
    assert answer.status_code == 401
    assert "another issuer" in answer.headers["www-authenticate"]


def test_app_from_env_reads_kinde_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDE_ISSUER_URL", "https://acme.kinde.com")
    monkeypatch.setenv("KINDE_AUDIENCE", "https://calendar.example")
    app = load_example().app_from_env()
    with TestClient(app) as client:
        assert client.get("/events").status_code == 401
    assert load_example().DEFAULT_ISSUER == "http://127.0.0.1:8400"


@given(data=st.data())
def test_the_example_answers_every_drawn_token_as_a_correct_api_must(
    server: ServerThread, api: TestClient, data: st.DataObject
) -> None:
    target = Target.for_tenant(server.tenant, audience=API, required_scopes=("read:calendar",))
    case: TokenCase = data.draw(m2m_tokens(target) | bad_tokens(target))
    answer = api.get("/events", headers=bearer(case.token))
    assert answer.status_code == case.http_status, (case.fault, answer.text)
    if case.http_status == 401:
        challenge = answer.headers["www-authenticate"]
        assert challenge == "Bearer" or challenge.startswith('Bearer error="invalid_token"')
    if case.http_status == 403:
        assert answer.headers["www-authenticate"].endswith('scope="read:calendar"')


# --- the users' route ---


def login_over_http(server: ServerThread, user: str) -> str:
    """A user's access token the way a web app gets one: authorize, then the code grant."""
    web = next(a for a in default_config().apps if a.type == "regular")
    query = urllib.parse.urlencode(
        {
            "client_id": web.client_id,
            "redirect_uri": web.redirect_uris[0],
            "response_type": "code",
            "audience": API,
            "login_hint": user,
        }
    )
    parts = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)  # the browser's part, by hand
    try:
        conn.request("GET", f"/oauth2/auth?{query}")
        redirect = conn.getresponse()
        assert redirect.status == 302
        location = redirect.headers["location"]
    finally:
        conn.close()
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": web.redirect_uris[0],
        "client_id": web.client_id,
        "client_secret": web.client_secret or "",
    }
    body = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(server.url + "/oauth2/token", data=body, timeout=30) as answer:
        token: str = json.loads(answer.read())["access_token"]
    return token


def test_me_answers_a_user_with_the_permission(api: TestClient, server: ServerThread) -> None:
    user = default_config().users[0]
    answer = api.get("/me", headers=bearer(login_over_http(server, user.email)))
    assert answer.status_code == 200
    assert answer.json()["user"] == user.id
    assert answer.json()["permissions"] == list(user.permissions)


def test_me_refuses_m2m_tokens_and_users_without_the_permission(
    api: TestClient, server: ServerThread
) -> None:
    server.tenant.put_user({"email": "guest@example.com", "permissions": ["update:event"]})
    try:
        guest = login_over_http(server, "guest@example.com")
    finally:
        server.tenant.reset()
    for token in (guest, fetch_token(server)):
        answer = api.get("/me", headers=bearer(token))
        assert answer.status_code == 403
        assert "permission" in answer.headers["www-authenticate"]


@given(data=st.data())
def test_me_answers_every_drawn_user_token_as_a_correct_api_must(
    server: ServerThread, api: TestClient, data: st.DataObject
) -> None:
    target = Target.for_tenant(server.tenant, audience=API, required_permissions=("read:calendar",))
    case: TokenCase = data.draw(
        user_tokens(target) | missing_permission_tokens(target) | bad_tokens(target)
    )
    answer = api.get("/me", headers=bearer(case.token))
    assert answer.status_code == case.http_status, (case.fault, answer.text)
