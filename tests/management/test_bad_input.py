"""Bad input on every write: Kinde's error body (400, 404, 409; 413 for a body too large),
never a 500, and nothing half-applied (the store is as it was)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockauth.management.operations import Operation
from mockauth.management.routes import OPERATIONS
from mockauth.tenant.tenant import Tenant
from tests.management.kit import ORG, USER_ID, bearer, concrete

WRITES = [o for o in OPERATIONS if o.method != "GET"]
# Writes that read no body and need no query parameter: a junk body is no error for them.
BODYLESS = {
    "refreshUserClaims",
    "addAPIApplicationScope",
    "deleteUser",
    "deleteAPIApplicationScope",
    "addOrganizationUserAPIScope",
    "EnableConnection",
    "EnableOrgConnection",
    "addApplicationAccessRole",
}


def _unchanged(tenant: Tenant) -> Any:
    return tenant.store.entities()


def _error(response: Any) -> dict[str, str]:
    errors = json.loads(response.text)["errors"]
    error: dict[str, str] = errors if isinstance(errors, dict) else errors[0]
    assert set(error) == {"code", "message"}
    return error


IDS = [f"{o.method} {o.path}" for o in WRITES]


@pytest.mark.parametrize("operation", [o for o in WRITES if "{" in o.path], ids=lambda o: o.name)
def test_unknown_ids_are_404_and_change_nothing(world: Any, operation: Operation) -> None:
    tenant, client, ids, missing = world
    before = _unchanged(tenant)
    for name in ids:
        if "{" + name + "}" not in operation.path:
            continue
        path = concrete(operation, **{**ids, name: missing[name]})
        response = client.request(
            operation.method,
            path,
            params={"value": "true", "urls": "http://localhost:1/x"},
            json=_plausible(operation),
            headers=bearer(tenant),
        )
        assert response.status_code in (400, 404), (name, response.text)
        _error(response)
    assert _unchanged(tenant) == before


def _plausible(operation: Operation) -> dict[str, Any]:
    """A body that would be good if the ids were."""
    return {
        "CreateOrganizationUserRole": {"role_id": "x"},
        "CreateOrganizationUserPermission": {"permission_id": "x"},
        "UpdateRoles": {"key": "admin", "name": "Admin"},
        "UpdateEnvironementFeatureFlagOverride": {"value": "true"},
        "addRedirectCallbackURLs": {"urls": ["http://localhost:1/x"]},
        "UpdateProperty": {"name": "n", "category_id": "x", "is_private": False},
        "UpdateCategory": {"name": "n"},
        "addAPIScope": {"key": "k"},
        "updateAPIScope": {"description": "d"},
    }.get(operation.name, {})


@pytest.mark.parametrize("operation", WRITES, ids=IDS)
@pytest.mark.parametrize("body", [[], "text", 5, {"surprise": 1}], ids=repr)
def test_a_body_of_the_wrong_shape_is_400_and_changes_nothing(
    world: Any, operation: Operation, body: object
) -> None:
    tenant, client, ids, _ = world
    if operation.name in BODYLESS or operation.method == "DELETE":
        return
    before = _unchanged(tenant)
    response = client.request(
        operation.method, concrete(operation, **ids), json=body, headers=bearer(tenant)
    )
    assert response.status_code == 400, response.text
    _error(response)
    assert _unchanged(tenant) == before


@pytest.mark.parametrize(
    "operation", [o for o in WRITES if o.method != "DELETE"], ids=IDS[:0] or None
)
def test_a_body_too_large_is_413_with_kindes_error_body(world: Any, operation: Operation) -> None:
    tenant, client, ids, _ = world
    before = _unchanged(tenant)
    big = json.dumps({"name": "x" * operation.max_body})
    response = client.request(
        operation.method,
        concrete(operation, **ids),
        content=big,
        headers={**bearer(tenant), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert _error(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert _unchanged(tenant) == before


BAD = [
    ("POST", "/user", {"identities": [{"type": "email", "details": {"email": "nope"}}]}, 400),
    ("POST", "/user", {"profile": {"given_name": 5}}, 400),
    ("POST", "/user", {"profile": "x"}, 400),
    ("POST", "/user", {"identities": [{"type": "username", "details": {"username": "u"}}]}, 400),
    (
        "POST",
        "/user",
        {"identities": [{"type": "email", "details": {"email": "JANE@example.com"}}]},
        409,
    ),
    (
        "POST",
        "/user",
        {
            "identities": [{"type": "email", "details": {"email": "new@example.com"}}],
            "organization_code": "org_missing",
        },
        404,
    ),
    ("POST", "/organization", {}, 400),
    ("POST", "/organization", {"name": 5}, 400),
    ("POST", "/organization", {"name": "A", "handle": "h1"}, 200),
    ("POST", "/organization", {"name": "B", "handle": "h1"}, 409),
    ("POST", "/roles", {"name": "No key"}, 400),
    ("POST", "/roles", {"key": "has space", "name": "x"}, 400),
    ("POST", "/roles", {"key": "admin", "name": "Again"}, 409),
    ("POST", "/permissions", {"key": "read:docs"}, 409),
    ("POST", "/permissions", {"key": ["x"]}, 400),
    (
        "POST",
        "/feature_flags",
        {"key": "f", "name": "F", "type": "float", "default_value": "1"},
        400,
    ),
    (
        "POST",
        "/feature_flags",
        {"key": "f", "name": "F", "type": "bool", "default_value": "maybe"},
        400,
    ),
    (
        "POST",
        "/feature_flags",
        {"key": "f", "name": "F", "type": "int", "default_value": "1.5"},
        400,
    ),
    (
        "POST",
        "/feature_flags",
        {"key": "dark", "name": "D", "type": "bool", "default_value": "true"},
        409,
    ),
    (
        "POST",
        "/properties",
        {
            "key": "p",
            "name": "P",
            "type": "single_line_text",
            "context": "usr",
            "is_private": False,
            "category_id": "cat_missing",
        },
        404,
    ),
    (
        "POST",
        "/properties",
        {
            "key": "p",
            "name": "P",
            "type": "emoji",
            "context": "usr",
            "is_private": False,
            "category_id": "x",
        },
        400,
    ),
    ("POST", "/property_categories", {"name": "Info", "context": "usr"}, 409),
    ("POST", "/property_categories", {"name": "Info", "context": "everyone"}, 400),
    ("POST", "/apis", {"name": "Docs", "audience": "https://docs.example.com"}, 409),
    ("POST", "/apis", {"name": "Spaces", "audience": "has space"}, 400),
    ("POST", "/applications", {"name": "X", "type": "desktop"}, 400),
    ("POST", "/applications", {"type": "spa"}, 400),
    ("PATCH", f"/users/{USER_ID}/feature_flags/dark?value=maybe", None, 400),
    ("PATCH", f"/users/{USER_ID}/feature_flags/nope?value=true", None, 404),
    ("PATCH", f"/organizations/{ORG}/feature_flags/dark", None, 400),
    ("PUT", f"/users/{USER_ID}/properties/nope?value=x", None, 404),
    ("PATCH", f"/users/{USER_ID}/properties", {"properties": {"team": ["a"]}}, 400),
    ("PATCH", f"/users/{USER_ID}/properties", {"properties": {"team": "a", "nope": "b"}}, 404),
    ("PATCH", f"/organizations/{ORG}/properties", {"properties": {"team": "a"}}, 404),
    ("PATCH", "/user?id=" + USER_ID, {"is_suspended": "yes"}, 400),
    ("PATCH", "/user", {"given_name": "x"}, 400),
    ("DELETE", "/user?id=kp_missing", None, 404),
    ("GET", "/users?page_size=0", None, 400),
    ("GET", "/users?page_size=abc", None, 400),
    ("GET", "/users?next_token=forged", None, 400),
    ("GET", "/organizations?sort=random", None, 400),
    # {name}: the world's ids
    ("POST", "/organization/{org_code}/invites", {"roles": []}, 400),
    ("POST", "/organization/{org_code}/invites", {"email": "kim@example.com"}, 400),
    ("POST", "/organization/{org_code}/invites", {"email": "kim", "roles": []}, 400),
    ("POST", "/organization/{org_code}/invites", {"email": "x" * 250 + "@a.io", "roles": []}, 400),
    (
        "POST",
        "/organization/{org_code}/invites",
        {"email": "kim@example.com", "first_name": "K" * 65, "roles": []},
        400,
    ),
    ("POST", "/organization/{org_code}/invites", {"email": "kim@a.io", "roles": ["nope"]}, 404),
    ("POST", "/organization/{org_code}/invites", {"email": "SAM@example.com", "roles": []}, 409),
    ("POST", "/organization/{org_code}/invites", {"email": "jane@example.com", "roles": []}, 409),
    ("GET", "/organization/{org_code}/invites?sort=random", None, 400),
    ("GET", "/organization/{org_code}/invites?include_revoked=yes", None, 400),
    ("DELETE", "/organization/{org_code}/invites/{invite_code}", None, 200),
    ("DELETE", "/organization/{org_code}/invites/{invite_code}", None, 400),
    ("GET", "/organization/{org_code}/invites/inv_missing", None, 404),
    ("POST", "/roles/{role_id}/scopes", {}, 400),
    ("POST", "/roles/{role_id}/scopes", {"scope_id": 5}, 400),
    ("POST", "/roles/{role_id}/scopes", {"scope_id": "missing"}, 404),
    ("POST", "/roles/{role_id}/scopes", {"scope_id": "{scope_id}"}, 201),
    ("POST", "/roles/{role_id}/scopes", {"scope_id": "{scope_id}"}, 409),
    ("DELETE", "/roles/{role_id}/scopes/missing", None, 404),
    ("PATCH", "/roles/{role_id}/system_permissions", {"system_permissions": [{"id": "x"}]}, 404),
    ("PATCH", "/roles/{role_id}/system_permissions", {"system_permissions": [{"x": 1}]}, 400),
    ("PATCH", "/roles/{role_id}/system_permissions", {"system_permissions": "x"}, 400),
    ("GET", "/system_permissions?sort=random", None, 400),
    ("POST", "/applications/{application_id}/access_roles/{role_id}", None, 200),
    ("POST", "/applications/{application_id}/access_roles/{role_id}", None, 409),
    ("DELETE", "/applications/{application_id}/access_roles/missing", None, 404),
    ("POST", "/organizations/{org_code}/users/{user_id}/apis/{api_id}/scopes/missing", None, 404),
    (
        "POST",
        "/organizations/{org_code}/users/{user_id}/apis/{api_id}/scopes/{scope_id}",
        None,
        200,
    ),
    (
        "POST",
        "/organizations/{org_code}/users/{user_id}/apis/{api_id}/scopes/{scope_id}",
        None,
        409,
    ),
    ("DELETE", "/applications/{application_id}/connections/{connection_id}", None, 400),
    ("DELETE", "/organizations/{org_code}/connections/{connection_id}", None, 400),
    ("POST", "/applications/{application_id}/connections/conn_missing", None, 404),
    ("DELETE", "/users/{user_id}/mfa/mfa_missing", None, 404),
    ("DELETE", "/organizations/{org_code}/users/{user_id}/mfa/mfa_missing", None, 404),
    ("GET", "/organizations/{org_code}/users/kp_missing/mfa", None, 404),
    ("PUT", "/organizations/{org_code}/mfa", {}, 400),
    ("PUT", "/organizations/{org_code}/mfa", {"enabled_factors": "mfa:sms"}, 400),
    ("PUT", "/organizations/{org_code}/mfa", {"enabled_factors": ["mfa:fax"]}, 400),
    ("PATCH", "/organizations/{org_code}/sessions", {"authenticated_session_lifetime": 0}, 400),
    ("PATCH", "/organizations/{org_code}/sessions", {"sso_session_persistence_mode": "x"}, 400),
    ("PATCH", "/organizations/{org_code}/sessions", {"is_use_org_sso_session_policy": 1}, 400),
    ("PUT", "/passkey", {}, 400),
    ("PUT", "/passkey", {"policy": "always"}, 400),
    ("PUT", "/organizations/{org_code}/passkey", {"policy": "always"}, 400),
    (
        "PUT",
        "/organizations/{org_code}/passkey",
        {"policy": "optional", "is_override_environment_passkey_settings": False},
        400,
    ),
    ("PATCH", "/business", {"business_name": 5}, 400),
    ("PATCH", "/business", {"industry_key": "mining"}, 400),
    ("PATCH", "/business", {"is_click_wrap": "yes"}, 400),
    ("PATCH", "/business", {"privacy_url": "x" * 300}, 400),
    ("PATCH", "/identities/{identity_id}", {"is_primary": False}, 400),
    ("PATCH", "/identities/{identity_id}", {"is_primary": "yes"}, 400),
    ("DELETE", "/identities/{identity_id}", None, 400),
    ("PUT", "/environment/logos/light", {"logo": "x"}, 400),
    ("DELETE", "/environment/logos/sepia", None, 400),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), BAD, ids=[f"{m} {p} {b}"[:80] for m, p, b, _ in BAD]
)
def test_bad_writes_get_kindes_error_body_and_change_nothing(
    world: Any, method: str, path: str, body: Any, status: int
) -> None:
    tenant, client, ids, _ = world
    before = _unchanged(tenant)
    if body is not None:
        body = json.loads(json.dumps(body).replace("{scope_id}", ids["scope_id"]))
    url = "/api/v1" + path.format(**ids)
    response = client.request(method, url, json=body, headers=bearer(tenant))
    assert response.status_code == status, response.text
    if status >= 400:
        _error(response)
        assert _unchanged(tenant) == before


def test_a_write_that_fails_half_way_applies_nothing(world: Any) -> None:
    tenant, client, ids, _ = world
    before = _unchanged(tenant)
    # The first user and role are good; the second user is not: nobody joins.
    body = {"users": [{"id": USER_ID, "roles": ["admin"]}, {"id": "kp_missing"}]}
    response = client.post(f"/api/v1/organizations/{ORG}/users", json=body, headers=bearer(tenant))
    assert response.status_code == 404
    body = {"users": [{"id": USER_ID, "roles": ["admin", "no_such_role"]}]}
    response = client.post(f"/api/v1/organizations/{ORG}/users", json=body, headers=bearer(tenant))
    assert response.status_code == 404
    body = {"permissions": [{"id": ids["permission_id"]}, {"id": "missing"}]}
    response = client.patch(
        f"/api/v1/roles/{ids['role_id']}/permissions", json=body, headers=bearer(tenant)
    )
    assert response.status_code == 404
    assert _unchanged(tenant) == before


def test_redirect_urls_are_checked_as_the_config_file_checks_them(world: Any) -> None:
    tenant, client, ids, _ = world
    before = _unchanged(tenant)
    m2m = tenant.config.apps[0].client_id
    for app, urls in (
        (ids["app_id"], ["javascript:alert(1)"]),
        (ids["app_id"], ["http://a/#f"]),
        (m2m, ["http://localhost:1/cb"]),
    ):
        response = client.post(
            f"/api/v1/applications/{app}/auth_redirect_urls",
            json={"urls": urls},
            headers=bearer(tenant),
        )
        assert response.status_code == 400, response.text
        _error(response)
    assert _unchanged(tenant) == before
