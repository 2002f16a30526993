"""The admin API under /_mockauth/, in process: JSON in and out, 400 naming the field,
never half-applied, bearer secret, changes shared by several workers, the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.admin import api as admin
from mockauth.admin.openapi import openapi_document
from mockauth.http import server
from mockauth.http.app import create_app
from mockauth.http.server import admin_secret_for
from mockauth.tenant.config import default_config
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.tenant import Tenant

APP = default_config().apps[0]
DEFAULT_IDS = [a.client_id for a in default_config().apps]
DEFAULT_NAMES = [a.name for a in default_config().apps]
AUDIENCE = "https://api.example.com"
NEW_ID = "0123456789abcdef0123456789abcdef"
NEW_SECRET = "A" * 20 + "b" * 20 + "9" * 5


def make_client(**tenant_options: Any) -> TestClient:
    return TestClient(create_app(Tenant(issuer="http://testserver", **tenant_options)))


@pytest.fixture
def client() -> TestClient:
    return make_client()


def tenant_of(client: TestClient) -> Tenant:
    tenant: Tenant = client.app.state.tenant  # type: ignore[attr-defined]
    return tenant


def token_response(client: TestClient, client_id: str = APP.client_id, **extra: str) -> Any:
    data = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": extra.pop("client_secret", APP.client_secret or ""),
        "audience": extra.pop("audience", AUDIENCE),
        **extra,
    }
    return client.post(paths.TOKEN, data=data)


def assert_oauth_error(response: Any, status: int, error: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    for word in words:
        assert word in body["error_description"]


# --- faults --------------------------------------------------------------------------------


def test_fault_lifecycle(client: TestClient) -> None:
    added = client.post(paths.ADMIN_FAULTS, json={"effect": "error", "status": 503, "times": 1})
    assert added.status_code == 201
    rule = added.json()["faults"][0]
    assert rule | {"id": "fault-1", "state": "active", "fired": 0} == rule
    assert_oauth_error(token_response(client), 503, "temporarily_unavailable")
    assert token_response(client).status_code == 200
    one = client.get(f"{paths.ADMIN_FAULTS}/fault-1").json()
    assert (one["fired"], one["state"]) == (1, "exhausted")
    assert client.get(paths.ADMIN_FAULTS).json()["faults"] == [one]
    assert client.delete(f"{paths.ADMIN_FAULTS}/fault-1").json()["deleted"]["id"] == "fault-1"
    assert_oauth_error(client.delete(f"{paths.ADMIN_FAULTS}/fault-1"), 404, "not_found")
    assert_oauth_error(client.get(f"{paths.ADMIN_FAULTS}/fault-1"), 404, "not_found")


def test_clear_faults(client: TestClient) -> None:
    client.post(paths.ADMIN_FAULTS, json=[{"effect": "close"}, {"effect": "empty"}])
    assert client.delete(paths.ADMIN_FAULTS).json() == {"deleted": 2}
    assert client.get(paths.ADMIN_FAULTS).json() == {"faults": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"effect": "error", "status": 999}, "status"),
        ({"effect": "latency", "delay": "slow"}, "delay"),
        ({"effect": "close", "probability": 2}, "probability"),
        ({"effect": "bad_token", "token": "forged"}, "token"),
        ({"effect": "close", "when": "always"}, "when"),
        ({"endpoint": "token"}, "effect"),
        ([{"effect": "close"}, {"effect": "hang", "timeout": -1}], "[1].timeout"),
        ("close", "(rule)"),
    ],
)
def test_bad_rules_get_400_naming_the_field_and_nothing_is_added(
    client: TestClient, body: Any, field: str
) -> None:
    response = client.post(paths.ADMIN_FAULTS, json=body)
    assert_oauth_error(response, 400, "invalid_request", f"request body: {field} = ")
    assert tenant_of(client).faults.rules() == []


def test_duplicate_fault_id_is_refused(client: TestClient) -> None:
    assert client.post(paths.ADMIN_FAULTS, json={"id": "x", "effect": "close"}).status_code == 201
    response = client.post(paths.ADMIN_FAULTS, json={"id": "x", "effect": "empty"})
    assert_oauth_error(response, 409, "conflict", "id", "exists")
    both = [{"id": "y", "effect": "close"}, {"id": "y", "effect": "empty"}]
    assert_oauth_error(client.post(paths.ADMIN_FAULTS, json=both), 409, "conflict", "[1].id")
    assert [r.effect.kind for r in tenant_of(client).faults.rules()] == ["close"]


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "must be a JSON document"), (b"{nope", "not valid JSON"), (b"x" * 300_000, "at most")],
)
def test_unreadable_bodies_get_400(client: TestClient, content: bytes, words: str) -> None:
    response = client.post(paths.ADMIN_FAULTS, content=content)
    assert response.status_code in (400, 413)
    assert words in response.json()["error_description"]


def test_a_form_fault_matches_only_its_client(client: TestClient) -> None:
    tenant_of(client).put_app(
        {
            "name": "Other",
            "client_id": NEW_ID,
            "client_secret": NEW_SECRET,
            "apis": {AUDIENCE: ["read:calendar"]},
        }
    )
    client.post(paths.ADMIN_FAULTS, json={"client_id": NEW_ID, "effect": "error", "status": 500})
    assert token_response(client).status_code == 200
    assert_oauth_error(
        token_response(client, NEW_ID, client_secret=NEW_SECRET), 500, "server_error"
    )


def test_closing_in_process_raises_connection_dropped(client: TestClient) -> None:
    from mockauth.http.middleware import ConnectionDropped

    client.post(paths.ADMIN_FAULTS, json={"effect": "close", "endpoint": "jwks"})
    with pytest.raises(ConnectionDropped):
        client.get(paths.JWKS)
    assert tenant_of(client).journal.entries()[-1].status is None


# --- keys ----------------------------------------------------------------------------------


def test_rotate_and_retire(client: TestClient) -> None:
    first = client.get(paths.ADMIN_KEYS).json()
    assert first["published"] == [first["active"]]
    rotated = client.post(f"{paths.ADMIN_KEYS}/rotate").json()
    assert rotated["previous"] == first["active"]
    assert rotated["published"] == [rotated["active"], first["active"]]
    token = token_response(client).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == rotated["active"]
    retired = client.post(f"{paths.ADMIN_KEYS}/retire", json={"kid": first["active"]}).json()
    assert retired["published"] == [rotated["active"]]
    jwks = client.get(paths.JWKS).json()
    assert [k["kid"] for k in jwks["keys"]] == [rotated["active"]]


def test_retire_without_kid_retires_every_old_key(client: TestClient) -> None:
    client.post(f"{paths.ADMIN_KEYS}/rotate")
    client.post(f"{paths.ADMIN_KEYS}/rotate")
    assert len(client.get(paths.ADMIN_KEYS).json()["published"]) == 3
    answer = client.post(f"{paths.ADMIN_KEYS}/retire").json()
    assert len(answer["retired"]) == 2
    assert answer["published"] == [answer["active"]]


def test_rotate_with_overlap_schedules_retirement(client: TestClient) -> None:
    old = tenant_of(client).keys.active_kid
    answer = client.post(f"{paths.ADMIN_KEYS}/rotate", json={"overlap": 3600}).json()
    assert list(answer["retire_at"]) == [old]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/rotate", {"overlap": -5}, "overlap"),
        ("/rotate", {"overlap": "1h"}, "overlap"),
        ("/rotate", {"after": 5}, "after"),
        ("/retire", {"kid": 7}, "kid"),
        ("/retire", ["kid"], "(body)"),
    ],
)
def test_bad_key_requests_get_400(client: TestClient, path: str, body: Any, field: str) -> None:
    before = client.get(paths.ADMIN_KEYS).json()
    response = client.post(paths.ADMIN_KEYS + path, json=body)
    assert_oauth_error(response, 400, "invalid_request", f"{field} = ")
    assert client.get(paths.ADMIN_KEYS).json() == before


def test_the_active_key_cannot_be_retired(client: TestClient) -> None:
    kid = tenant_of(client).keys.active_kid
    response = client.post(f"{paths.ADMIN_KEYS}/retire", json={"kid": kid})
    assert_oauth_error(response, 409, "conflict", "active signing key")


def test_an_unknown_kid_is_a_conflict_not_bad_input(client: TestClient) -> None:
    response = client.post(f"{paths.ADMIN_KEYS}/retire", json={"kid": "00:11"})
    assert_oauth_error(response, 409, "conflict", "kid = '00:11'", "no published key")


# --- clock ---------------------------------------------------------------------------------


def claims_of(client: TestClient) -> dict[str, Any]:
    token = token_response(client).json()["access_token"]
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_clock_drives_issued_tokens(client: TestClient) -> None:
    frozen = client.put(paths.ADMIN_CLOCK, json={"frozen_at": 1_000_000}).json()
    assert frozen == {"now": 1_000_000, "offset": 0.0, "frozen_at": 1_000_000.0}
    assert claims_of(client)["iat"] == 1_000_000
    client.put(paths.ADMIN_CLOCK, json={"advance": 60})
    assert claims_of(client)["iat"] == 1_000_060
    real = client.delete(paths.ADMIN_CLOCK).json()
    client.put(paths.ADMIN_CLOCK, json={"offset": -86_400 * 2})
    claims = claims_of(client)
    assert claims["exp"] < real["now"]  # issued two days ago with a one-day lifetime
    client.put(paths.ADMIN_CLOCK, json={"freeze": True})
    assert client.get(paths.ADMIN_CLOCK).json()["frozen_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "(body)"),
        ({"offset": 1, "advance": 2}, "(body)"),
        ({"offset": "soon"}, "offset"),
        ({"offset": 1e300}, "offset"),
        ({"frozen_at": -1}, "frozen_at"),
        ({"freeze": "yes"}, "freeze"),
        ({"rewind": 5}, "rewind"),
    ],
)
def test_bad_clock_changes_get_400(client: TestClient, body: Any, field: str) -> None:
    response = client.put(paths.ADMIN_CLOCK, json=body)
    assert_oauth_error(response, 400, "invalid_request", f"{field} = ")
    assert client.get(paths.ADMIN_CLOCK).json()["offset"] == 0.0


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("POST", f"{paths.ADMIN_KEYS}/rotate", {"overlap": -5}, "overlap = -5: "),
        ("PUT", paths.ADMIN_CLOCK, {"frozen_at": -1}, "frozen_at = -1: "),
    ],
)
def test_a_negative_value_is_told_its_lower_bound_zero(
    client: TestClient, method: str, path: str, body: Any, words: str
) -> None:
    # A lower bound of 0 once read as "no bound", printing a range that held the value.
    response = client.request(method, path, json=body)
    assert_oauth_error(
        response, 400, "invalid_request", words, "must be a number from 0 to 3.1536e+09"
    )


# --- journal -------------------------------------------------------------------------------


def test_journal_query_and_clear(client: TestClient) -> None:
    token_response(client)
    token_response(client, client_secret="y" * 40)
    client.get(paths.JWKS)
    query = client.get(paths.ADMIN_JOURNAL, params={"path": paths.TOKEN, "status": 401}).json()
    assert [(e["path"], e["status"]) for e in query["entries"]] == [(paths.TOKEN, 401)]
    by_client = client.get(paths.ADMIN_JOURNAL, params={"client_id": APP.client_id}).json()
    assert len(by_client["entries"]) == 2
    last = client.get(paths.ADMIN_JOURNAL, params={"limit": 1}).json()["entries"]
    assert [e["path"] for e in last] == [paths.JWKS]
    assert client.delete(paths.ADMIN_JOURNAL).json() == {"deleted": 3}
    assert client.get(paths.ADMIN_JOURNAL).json() == {"entries": []}


@pytest.mark.parametrize(
    ("params", "words"),
    [({"status": "ok"}, "'status'"), ({"limit": "-1"}, "'limit'"), ({"user": "x"}, "'user'")],
)
def test_bad_journal_filters_get_400(
    client: TestClient, params: dict[str, str], words: str
) -> None:
    response = client.get(paths.ADMIN_JOURNAL, params=params)
    assert_oauth_error(response, 400, "invalid_request", words)


# --- apps and APIs -------------------------------------------------------------------------


def test_an_app_granted_one_audience_two_ways_is_refused(client: TestClient) -> None:
    app = {"name": "New", "client_id": NEW_ID, "client_secret": NEW_SECRET}
    app["apis"] = {  # type: ignore[assignment]
        "{issuer}/api": ["read:users"],
        "http://testserver/api": ["create:users"],
    }
    response = client.post(paths.ADMIN_APPS, json=app)
    assert_oauth_error(response, 409, "conflict", "granted twice")
    assert NEW_ID not in [a["client_id"] for a in client.get(paths.ADMIN_APPS).json()["apps"]]


def test_add_replace_and_remove_an_app(client: TestClient) -> None:
    app = {"name": "New", "client_id": NEW_ID, "client_secret": NEW_SECRET}
    app["apis"] = {"{issuer}/api": ["read:users"]}  # type: ignore[assignment]
    created = client.post(paths.ADMIN_APPS, json=app)
    assert created.status_code == 201
    assert created.json()["app"]["apis"] == {"http://testserver/api": ["read:users"]}
    issued = token_response(
        client, NEW_ID, client_secret=NEW_SECRET, audience="http://testserver/api"
    )
    assert issued.json()["scope"] == "read:users"
    replaced = client.post(paths.ADMIN_APPS, json={**app, "name": "Renamed"})
    assert replaced.status_code == 200
    assert replaced.json()["created"] is False
    names = [a["name"] for a in client.get(paths.ADMIN_APPS).json()["apps"]]
    assert names == [*DEFAULT_NAMES, "Renamed"]
    assert client.delete(f"{paths.ADMIN_APPS}/{NEW_ID}").status_code == 200
    assert token_response(client, NEW_ID, client_secret=NEW_SECRET).status_code == 401
    assert_oauth_error(client.delete(f"{paths.ADMIN_APPS}/{NEW_ID}"), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_id": "XYZ"}, "app.client_id"),
        ({"client_secret": "short"}, "app.client_secret"),
        ({"apis": {"has space": ["x"]}}, "app.apis.'has space' (the audience)"),
        ({"apis": {AUDIENCE: ["has space"]}}, "[0]"),
        ({"claims": {"iss": "me"}}, "app.claims.iss"),
        ({"colour": "red"}, "app.colour"),
        ({"name": "tab\there"}, "app.name"),
        ({"redirect_uris": ["http://["]}, "app.redirect_uris[0]"),
        ({"type": "regular", "logout_uris": ["http://[::1"]}, "app.logout_uris[0]"),
        ({"type": "m2m", "redirect_uris": ["http://localhost/cb"]}, "app.redirect_uris"),
    ],
)
def test_bad_apps_get_400_naming_the_key(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    app = {"name": "New", "client_id": NEW_ID, "client_secret": NEW_SECRET, **change}
    response = client.post(paths.ADMIN_APPS, json=app)
    assert_oauth_error(response, 400, "invalid_request", "request body: ", field)
    assert [a.client_id for a in tenant_of(client).config.apps] == DEFAULT_IDS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apis": {"https://unknown": ["x"]}}, "app.apis.'https://unknown' = ['x']: audience"),
        ({"apis": {AUDIENCE: ["fly"]}}, "[0] = 'fly': scope is not defined"),
    ],
)
def test_apps_at_odds_with_the_apis_defined_get_409(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    # Well-formed (the OpenAPI document admits them), but naming what the tenant lacks.
    app = {"name": "New", "client_id": NEW_ID, "client_secret": NEW_SECRET, **change}
    response = client.post(paths.ADMIN_APPS, json=app)
    assert_oauth_error(response, 409, "conflict", "request body: ", field)
    assert [a.client_id for a in tenant_of(client).config.apps] == DEFAULT_IDS


def test_apps_are_listed_with_their_callbacks(client: TestClient) -> None:
    web = next(a for a in client.get(paths.ADMIN_APPS).json()["apps"] if a["type"] == "regular")
    assert web["redirect_uris"] == list(default_config().apps[1].redirect_uris)
    assert web["logout_uris"] == list(default_config().apps[1].logout_uris)


def test_add_replace_and_remove_users_and_orgs(client: TestClient) -> None:
    created = client.post(paths.ADMIN_ORGS, json={"code": "org_new", "name": "New"})
    assert created.status_code == 201 and created.json()["org"] == {
        "code": "org_new",
        "name": "New",
    }
    user = {"email": "new@example.com", "orgs": ["org_new"], "permissions": ["read:calendar"]}
    answer = client.post(paths.ADMIN_USERS, json=user)
    assert answer.status_code == 201
    added = answer.json()["user"]
    assert added["id"].startswith("kp_") and added["orgs"] == ["org_new"]
    replaced = client.post(paths.ADMIN_USERS, json={**user, "id": added["id"], "roles": ["admin"]})
    assert replaced.status_code == 200 and replaced.json()["user"]["roles"] == ["admin"]
    emails = [u["email"] for u in client.get(paths.ADMIN_USERS).json()["users"]]
    assert emails == ["jane@example.com", "new@example.com"]
    # The new user signs in at once.
    params = {
        "client_id": default_config().apps[1].client_id,
        "redirect_uri": default_config().apps[1].redirect_uris[0],
        "response_type": "code",
        "login_hint": "new@example.com",
    }
    location = client.get("/oauth2/auth", params=params, follow_redirects=False).headers["location"]
    assert "code=" in location
    assert (
        client.delete(f"{paths.ADMIN_USERS}/{added['id']}").json()["deleted"]["id"] == added["id"]
    )
    gone = {**params, "login_hint": added["id"]}  # by email it would sign up anew
    location = client.get("/oauth2/auth", params=gone, follow_redirects=False).headers["location"]
    assert "error=access_denied" in location
    assert_oauth_error(client.delete(f"{paths.ADMIN_USERS}/{added['id']}"), 404, "not_found")
    assert [o["code"] for o in client.get(paths.ADMIN_ORGS).json()["orgs"]][-1] == "org_new"


def test_text_no_page_can_hold_is_refused(client: TestClient) -> None:
    # "\ud800" is valid JSON but no text: stored, it would break every page and profile.
    for raw in (
        b'{"email": "\\ud800@b.c"}',
        b'{"id": "kp_s", "email": "s@x.y", "given_name": "\\ud800"}',
    ):
        response = client.post(
            paths.ADMIN_USERS, content=raw, headers={"Content-Type": "application/json"}
        )
        assert_oauth_error(response, 400, "invalid_request", "surrogate")
    assert [u.email for u in tenant_of(client).config.users] == ["jane@example.com"]


def test_a_long_unknown_user_id_is_cut_in_the_404(client: TestClient) -> None:
    response = client.delete(f"{paths.ADMIN_USERS}/kp_{'x' * 5000}")
    assert_oauth_error(response, 404, "not_found")
    assert len(response.json()["error_description"]) < 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "user.email"),
        ({"email": "a@b.c", "orgs": ["missing"]}, "user.orgs[0]"),
        ({"email": "a@b.c", "colour": "red"}, "user.colour"),
        ({"email": "a@b.c", "id": ""}, "user.id"),
        ({"email": "a\u0000@b.c"}, "user.email"),
        ({"email": "a@b.c", "given_name": "\u0018y"}, "user.given_name"),
        ({"email": "a" * 251 + "@b.c"}, "user.email"),
        ({"email": "a@b.c", "claims": {"at_hash": "x"}}, "user.claims.at_hash"),
        ({"email": "a@b.c", "claims": {"permissions": ["x"]}}, "user.claims.permissions"),
        ([], "user"),
    ],
)
def test_bad_users_get_400_naming_the_key(client: TestClient, body: Any, field: str) -> None:
    response = client.post(paths.ADMIN_USERS, json=body)
    assert_oauth_error(response, 400, "invalid_request", "request body: ", field)
    assert [u.email for u in tenant_of(client).config.users] == ["jane@example.com"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.c", "orgs": ["org_missing"]}, "user.orgs[0] = 'org_missing'"),
        ({"email": "JANE@example.com"}, "email = 'JANE@example.com'"),
        ({"email": "a@b.c", "feature_flags": {"nope": True}}, "feature_flags.nope = True"),
        ({"email": "a@b.c", "properties": {"nope": "x"}}, "properties.nope = 'x'"),
        ({"email": "a@b.c", "org_roles": {"org_1": ["admin"]}}, "org_roles.org_1"),
    ],
)
def test_users_at_odds_with_the_tenant_get_409(client: TestClient, body: Any, field: str) -> None:
    response = client.post(paths.ADMIN_USERS, json=body)
    assert_oauth_error(response, 409, "conflict", "request body: ", field)
    assert [u.email for u in tenant_of(client).config.users] == ["jane@example.com"]


def test_add_and_replace_an_api(client: TestClient) -> None:
    api = {"name": "Billing", "audience": "https://billing", "scopes": ["pay"]}
    assert client.post(paths.ADMIN_APIS, json=api).status_code == 201
    app = {"name": "B", "client_id": NEW_ID, "client_secret": NEW_SECRET}
    app["apis"] = {"https://billing": ["pay"]}  # type: ignore[assignment]
    assert client.post(paths.ADMIN_APPS, json=app).status_code == 201
    dropping = client.post(paths.ADMIN_APIS, json={**api, "scopes": ["refund"]})
    assert_oauth_error(dropping, 409, "conflict", "'pay'", "would drop")
    widened = client.post(paths.ADMIN_APIS, json={**api, "scopes": ["pay", "refund"]})
    assert widened.status_code == 200
    audiences = [a["audience"] for a in client.get(paths.ADMIN_APIS).json()["apis"]]
    assert audiences == [AUDIENCE, "http://testserver/api", "https://billing"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"audience": "has space"}, "api.audience = "),
        ({"audience": "\u0018y"}, "api.audience = "),  # the issue's: a control character
        ({"audience": "https://x\u2028"}, "api.audience = "),
        ({"audience": "https://x", "name": "a\u007fb"}, "api.name = "),
        ({"audience": "https://x", "scopes": ["a b"]}, "api.scopes[0] = "),
    ],
)
def test_bad_api_gets_400(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post(paths.ADMIN_APIS, json=body)
    assert_oauth_error(response, 400, "invalid_request", field)
    assert len(tenant_of(client).config.apis) == 2


# --- reset ---------------------------------------------------------------------------------


def test_reset_restores_the_startup_state(client: TestClient) -> None:
    tenant = tenant_of(client)
    client.post(paths.ADMIN_FAULTS, json={"effect": "close", "endpoint": "discovery"})
    client.put(paths.ADMIN_CLOCK, json={"offset": 500})
    client.post(
        paths.ADMIN_APPS, json={"name": "N", "client_id": NEW_ID, "client_secret": NEW_SECRET}
    )
    client.post(paths.ADMIN_APIS, json={"audience": "https://extra"})
    client.post(paths.ADMIN_ORGS, json={"code": "org_extra"})
    client.post(paths.ADMIN_USERS, json={"email": "extra@example.com", "orgs": ["org_extra"]})
    token_response(client)
    kid = client.post(f"{paths.ADMIN_KEYS}/rotate").json()["active"]
    assert client.post(paths.ADMIN_RESET).json() == {"status": "reset"}
    assert tenant.faults.rules() == []
    assert tenant.clock.offset == 0.0
    assert len(tenant.journal) == 0
    assert [a.client_id for a in tenant.config.apps] == DEFAULT_IDS
    assert len(tenant.config.apis) == 2
    assert tenant.app(NEW_ID) is None
    assert [u.email for u in tenant.config.users] == ["jane@example.com"]
    assert [o.code for o in tenant.config.orgs] == [default_config().orgs[0].code]
    assert tenant.keys.active_kid == kid  # keys persist across a reset


# --- bearer secret -------------------------------------------------------------------------


def test_admin_secret_is_required_when_configured() -> None:
    client = make_client(admin_secret="s3cr3t")
    refused = client.get(paths.ADMIN_FAULTS)
    assert_oauth_error(refused, 401, "invalid_token", "Authorization: Bearer")
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get(paths.ADMIN_FAULTS, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.get(paths.ADMIN_FAULTS, headers={"Authorization": "Basic s3cr3t"})
    assert basic.status_code == 401
    ok = client.get(paths.ADMIN_FAULTS, headers={"Authorization": "Bearer s3cr3t"})
    assert ok.status_code == 200
    assert client.post(paths.ADMIN_RESET).status_code == 401
    assert client.get(paths.HEALTH).status_code == 200
    assert client.get(paths.ADMIN_OPENAPI).status_code == 200
    assert token_response(client).status_code == 200  # Kinde endpoints stay open


MISSING = "needs the header 'Authorization: Bearer <admin secret>'"
WRONG = "The admin secret in the 'Authorization: Bearer' header is wrong."


@pytest.mark.parametrize(
    ("authorization", "told"),
    [
        (None, MISSING),
        ("Basic s3cr3t", MISSING),
        ("Bearer ", MISSING),
        ("Bearer nope", WRONG),
        ("bearer s3cr3t-and-more", WRONG),
    ],
)
def test_a_missing_header_and_a_wrong_secret_are_told_apart(
    authorization: str | None, told: str
) -> None:
    client = make_client(admin_secret="s3cr3t")
    headers = {} if authorization is None else {"Authorization": authorization}
    refused = client.get(paths.ADMIN_FAULTS, headers=headers)
    assert_oauth_error(refused, 401, "invalid_token", told)
    other = WRONG if told == MISSING else MISSING
    assert other not in refused.json()["error_description"]
    challenge = 'Bearer realm="mockauth-admin"'
    if told == WRONG:  # RFC 6750 3.1: an error code only when credentials were sent
        challenge += ', error="invalid_token"'
    assert refused.headers["www-authenticate"] == challenge


# --- several workers -----------------------------------------------------------------------


CHANGES = [
    ("POST", paths.ADMIN_FAULTS, {"effect": "close", "times": 1}),
    ("PUT", paths.ADMIN_CLOCK, {"offset": 5}),
    ("POST", paths.ADMIN_APPS, {"name": "N", "client_id": NEW_ID, "client_secret": NEW_SECRET}),
    ("DELETE", paths.ADMIN_APPS + "/" + APP.client_id, None),
    ("POST", paths.ADMIN_APIS, {"audience": "https://x"}),
    ("POST", paths.ADMIN_USERS, {"email": "new@example.com"}),
    ("DELETE", paths.ADMIN_USERS + "/" + default_config().users[0].id, None),
    ("POST", paths.ADMIN_ORGS, {"code": "org_new"}),
]


def other_worker(tenant: Tenant, tmp_path: Path) -> Tenant:
    """A second tenant joined to the first's store, as a worker process joins it."""
    return Tenant(
        issuer=tenant.issuer,
        keys_dir=tmp_path,
        store=open_store(tmp_path, instance=tenant.store.instance),
        seed=False,
        workers=2,
    )


def state(tenant: Tenant) -> Any:
    tenant.refresh()
    return (
        [r.to_dict() for r in tenant.faults.rules()],
        tenant.clock.offset,
        tenant.config.apps,
        tenant.config.apis,
        tenant.config.users,
        tenant.config.orgs,
    )


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_a_change_at_one_worker_is_seen_by_the_other(
    tmp_path: Path, method: str, path: str, body: Any
) -> None:
    client = make_client(keys_dir=tmp_path, workers=2)
    tenant = tenant_of(client)
    other = other_worker(tenant, tmp_path)
    before = state(other)
    response = client.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text
    assert state(other) == state(tenant) != before


def test_journal_and_reset_are_shared_by_the_workers(tmp_path: Path) -> None:
    client = make_client(keys_dir=tmp_path, workers=2)
    other = other_worker(tenant_of(client), tmp_path)
    other_client = TestClient(create_app(other))
    assert token_response(other_client).status_code == 200
    assert client.get(paths.ADMIN_CLOCK).status_code == 200
    seen = client.get(paths.ADMIN_JOURNAL).json()["entries"]
    assert [e["path"] for e in seen] == [paths.TOKEN]  # answered by the other worker
    assert client.put(paths.ADMIN_CLOCK, json={"offset": 60}).status_code == 200
    assert other_client.post(paths.ADMIN_RESET).status_code == 200
    assert state(other) == state(tenant_of(client))
    assert tenant_of(client).clock.offset == 0.0
    assert client.get(paths.ADMIN_JOURNAL).json()["entries"] == []


def test_keys_and_reads_work_with_several_workers() -> None:
    client = make_client(workers=2)
    rotated = client.post(f"{paths.ADMIN_KEYS}/rotate")
    assert rotated.status_code == 200
    retired = client.post(f"{paths.ADMIN_KEYS}/retire", json={"kid": rotated.json()["previous"]})
    assert retired.status_code == 200
    for path in (paths.ADMIN_FAULTS, paths.ADMIN_CLOCK, paths.ADMIN_APPS, paths.ADMIN_APIS):
        assert client.get(path).status_code == 200
    assert tenant_of(client).journal.enabled


# --- the OpenAPI document ------------------------------------------------------------------


def admin_operations() -> set[tuple[str, str]]:
    out = set()
    for route in admin.routes():
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                out.add((route.path, method.lower()))
    return out | {(paths.HEALTH, "get")}


def test_openapi_describes_exactly_the_admin_routes(client: TestClient) -> None:
    served = client.get(paths.ADMIN_OPENAPI)
    assert served.status_code == 200
    document = served.json()
    assert document == json.loads(json.dumps(openapi_document()))
    assert document["openapi"].startswith("3.1")
    described = {(p, m) for p, ops in document["paths"].items() for m in ops}
    assert described == admin_operations()


def test_openapi_references_resolve() -> None:
    document = openapi_document()
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs and refs <= set(schemas)


def test_every_admin_path_is_under_the_admin_prefix() -> None:
    assert all(path.startswith(paths.ADMIN + "/") for path, _ in admin_operations())


@pytest.mark.parametrize("depth", [50, 900, 5000, 100_000])
def test_deeply_nested_bodies_get_400_not_500(client: TestClient, depth: int) -> None:
    claims = "[" * depth + "]" * depth
    body = (
        f'{{"name": "N", "client_id": "{NEW_ID}", "client_secret": "{NEW_SECRET}", '
        f'"claims": {{"deep": {claims}}}}}'
    )
    response = client.post(paths.ADMIN_APPS, content=body)
    assert response.status_code in (201, 400), response.text
    assert client.post(paths.ADMIN_FAULTS, content="[" * depth).status_code == 400


# --- the secret and the worker count reach the server --------------------------------------


@pytest.mark.parametrize(
    ("host", "configured", "required"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.5", None, True),
        ("127.0.0.1", "given", True),
    ],
)
def test_admin_secret_is_generated_beyond_loopback(
    host: str, configured: str | None, required: bool
) -> None:
    secret = admin_secret_for(host, configured)
    assert (secret is not None) is required
    if configured:
        assert secret == configured
    elif secret:
        assert len(secret) >= 32 and secret != admin_secret_for(host, configured)


def test_worker_processes_join_the_parents_tenant_from_the_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parent = Tenant(issuer="http://testserver", keys_dir=tmp_path, workers=3)
    parent.put_user({"email": "joined@example.com"})
    monkeypatch.setenv("MOCKAUTH_ISSUER", "http://testserver")
    monkeypatch.setenv("MOCKAUTH_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("MOCKAUTH_WORKERS", "3")
    monkeypatch.setenv("MOCKAUTH_ADMIN_SECRET", "w0rker")
    monkeypatch.setenv("MOCKAUTH_INSTANCE", parent.store.instance)
    client = TestClient(server._worker_app())
    assert client.get(paths.ADMIN_FAULTS).status_code == 401
    auth = {"Authorization": "Bearer w0rker"}
    users = client.get(paths.ADMIN_USERS, headers=auth).json()["users"]
    assert "joined@example.com" in [u["email"] for u in users]
    added = client.post(paths.ADMIN_FAULTS, json={"effect": "close"}, headers=auth)
    assert added.status_code == 201
    parent.refresh()
    assert [r.effect.kind for r in parent.faults.rules()] == ["close"]
    assert client.post(f"{paths.ADMIN_KEYS}/rotate", headers=auth).status_code == 200


def test_openapi_document_is_valid_and_describes_real_answers(client: TestClient) -> None:
    spec_validator = pytest.importorskip("openapi_spec_validator")
    jsonschema = pytest.importorskip("jsonschema")
    document = openapi_document()
    spec_validator.validate(document)

    def check(path: str, method: str, response: Any) -> None:
        answers = document["paths"][path][method]["responses"]
        schema = answers[str(response.status_code)]["content"]["application/json"]["schema"]
        root = {**schema, "components": document["components"]}
        jsonschema.Draft202012Validator(root).validate(response.json())

    faults = paths.ADMIN_FAULTS
    check(faults, "post", client.post(faults, json={"effect": "latency", "delay": [0, 0.01]}))
    check(faults, "get", client.get(faults))
    check(faults + "/{id}", "get", client.get(faults + "/fault-1"))
    check(faults, "post", client.post(faults, json={"effect": "nope"}))
    token_response(client)
    check(paths.ADMIN_JOURNAL, "get", client.get(paths.ADMIN_JOURNAL))
    check(paths.ADMIN_KEYS + "/rotate", "post", client.post(paths.ADMIN_KEYS + "/rotate"))
    check(paths.ADMIN_KEYS + "/retire", "post", client.post(paths.ADMIN_KEYS + "/retire"))
    check(paths.ADMIN_KEYS, "get", client.get(paths.ADMIN_KEYS))
    check(paths.ADMIN_CLOCK, "put", client.put(paths.ADMIN_CLOCK, json={"offset": 5}))
    check(paths.ADMIN_CLOCK, "delete", client.delete(paths.ADMIN_CLOCK))
    app = {"name": "N", "client_id": NEW_ID, "client_secret": NEW_SECRET}
    check(paths.ADMIN_APPS, "post", client.post(paths.ADMIN_APPS, json=app))
    check(paths.ADMIN_APPS, "get", client.get(paths.ADMIN_APPS))
    check(paths.ADMIN_APIS, "post", client.post(paths.ADMIN_APIS, json={"audience": "https://b"}))
    check(paths.ADMIN_APIS, "get", client.get(paths.ADMIN_APIS))
    check(paths.ADMIN_RESET, "post", client.post(paths.ADMIN_RESET))
    check(faults, "delete", client.delete(faults))


# --- what a browser page cannot do (no secret on loopback) ---------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "rebind.evil.example:8400"},  # DNS rebinding: the page's own name
        {"origin": "https://evil.example"},  # a cross-site form or fetch
        {"origin": "null"},  # a sandboxed page or a file:// one
        # Values no URL parser reads were a 500 (ValueError: Invalid IPv6 URL).
        {"origin": "http://["},
        {"origin": "http://[::1"},
        {"origin": "http://[zz]:1"},
        {"origin": "http://]x"},
        {"host": "["},
        {"host": "[::1:8400"},
        {"host": "127.0.0.1]"},
    ],
)
def test_a_page_in_a_browser_cannot_use_the_admin_api(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path in (("POST", paths.ADMIN_FAULTS), ("GET", paths.ADMIN + "/apps")):
        body = {"effect": "close"} if method == "POST" else None
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403
        assert answer.json()["error"] == "access_denied"
    assert client.get(paths.ADMIN_FAULTS).json()["faults"] == []  # nothing was added


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"host": "127.0.0.1:8400"},
        {"host": "localhost"},
        {"host": "[::1]:1"},
        {"origin": "http://127.0.0.1:3000"},
    ],
)
def test_tools_on_this_machine_still_can(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get(paths.ADMIN_FAULTS, headers=headers).status_code == 200


# --- 405: Allow lists every method the path serves -----------------------------------------


@pytest.mark.parametrize("path", sorted(openapi_document()["paths"]))
def test_a_405_allows_every_documented_method_of_the_path(client: TestClient, path: str) -> None:
    # Several Routes on one path once answered with the first one's methods alone: a PUT to
    # /_mockauth/apps was told "Allow: HEAD, GET" though POST is served there too.
    documented = {m.upper() for m in openapi_document()["paths"][path]}
    concrete = path.replace("{id}", "x").replace("{client_id}", "x")
    response = client.request("PATCH", concrete)
    assert_oauth_error(response, 405, "invalid_request")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == documented
    assert ("HEAD" in allowed) == ("GET" in documented)
