"""The Postman collection and environment as data (newman runs them: e2e/test_postman.py)."""

from __future__ import annotations

import json
from typing import Any

from mockauth.setup.postman import (
    MANAGEMENT_REQUESTS,
    SCHEMA,
    M2MSetup,
    ManagementRequest,
    collection,
    environment,
)

SETUP = M2MSetup("http://127.0.0.1:8400", "a" * 32, "S" * 50, "https://api.example.com", "")


def settings(auth: dict[str, Any]) -> dict[str, Any]:
    return {field["key"]: field["value"] for field in auth[auth["type"]]}


def test_the_environment_holds_the_guides_values_the_secret_marked_secret() -> None:
    values = {v["key"]: (v["value"], v["type"]) for v in environment(SETUP)["values"]}
    assert values["KINDE_DOMAIN"] == ("http://127.0.0.1:8400", "default")
    assert values["M2M_CLIENT_ID"] == ("a" * 32, "default")
    assert values["M2M_CLIENT_SECRET"] == ("S" * 50, "secret")
    assert values["M2M_AUDIENCE"] == ("https://api.example.com", "default")
    assert values["M2M_SCOPE"] == ("", "default")


def test_the_collection_auth_is_the_guides_client_credentials_with_audience_in_the_body() -> None:
    found = collection()
    assert found["info"]["schema"] == SCHEMA
    auth = settings(found["auth"])
    assert found["auth"]["type"] == "oauth2"
    assert auth["grant_type"] == "client_credentials"
    assert auth["accessTokenUrl"] == "{{KINDE_DOMAIN}}/oauth2/token"
    assert (auth["clientId"], auth["clientSecret"]) == (
        "{{M2M_CLIENT_ID}}",
        "{{M2M_CLIENT_SECRET}}",
    )
    assert auth["tokenRequestParams"] == [
        {"key": "audience", "value": "{{M2M_AUDIENCE}}", "enabled": True, "send_as": "request_body"}
    ]
    assert auth["accessToken"] == "{{access_token}}"


def test_every_request_tests_its_status() -> None:
    names = []
    items = collection()["item"]
    (folder,) = [item for item in items if "item" in item]
    for item in [i for i in items if "item" not in i] + folder["item"]:
        names.append(item["name"])
        (event,) = item["event"]
        assert event["listen"] == "test"
        assert any("to.have.status(" in line for line in event["script"]["exec"])
    assert names[:3] == ["Discovery", "JWKS", "Get M2M token"]


def test_the_management_folder_asks_for_exactly_its_requests_scopes() -> None:
    (folder,) = [item for item in collection()["item"] if "item" in item]
    token, *calls = folder["item"]
    body = {f["key"]: f["value"] for f in token["request"]["body"]["urlencoded"]}
    assert body["scope"].split() == sorted({r.scope for r in MANAGEMENT_REQUESTS})
    assert [c["name"] for c in calls] == [r.name for r in MANAGEMENT_REQUESTS]
    posts = [c for c in calls if c["request"]["method"] == "POST"]
    assert posts and all(json.loads(c["request"]["body"]["raw"].replace("{{user_id}}", "kp_1"))
                         for c in posts)  # fmt: skip


def test_without_management_requests_there_is_no_management_folder() -> None:
    assert not any(item.get("item") for item in collection(())["item"])


def test_a_management_request_gets_a_folder_with_its_own_token() -> None:
    users = ManagementRequest(
        "List users",
        "GET",
        "/users",
        "read:users",
        ("pm.test('status 200', () => pm.response.to.have.status(200));",),
    )
    folder = collection([users])["item"][-1]
    assert folder["name"] == "Kinde Management API"
    assert settings(folder["auth"])["accessToken"] == "{{management_token}}"
    token, call = folder["item"]
    body = {f["key"]: f["value"] for f in token["request"]["body"]["urlencoded"]}
    assert (body["audience"], body["scope"]) == ("{{KINDE_DOMAIN}}/api", "read:users")
    assert call["request"]["url"] == "{{KINDE_DOMAIN}}/api/v1/users"
    assert "auth" not in call["request"]  # the folder's auth: the management token
