"""A role's API scopes and the apps it may use, dropped when the API, the scope or the app
goes; system permissions: none."""

from __future__ import annotations

from typing import Any

from mockauth.tenant.tenant import Tenant
from tests.management.kit import bearer, call, make


def _role(tenant: Tenant) -> Any:
    role = tenant.config.catalog.role("reader")
    assert role is not None
    return role


def test_a_role_loses_what_its_api_and_apps_lose() -> None:
    tenant, client = make()
    headers = bearer(tenant)
    api_id = call(
        client, headers, "POST", "/apis", {"name": "F", "audience": "https://f.example"}
    ).json()["api"]["id"]
    scope_ids = [
        call(client, headers, "POST", f"/apis/{api_id}/scopes", {"key": k}).json()["scope"]["id"]
        for k in ("read:f", "write:f")
    ]
    role_id = call(client, headers, "POST", "/roles", {"key": "reader"}).json()["role"]["id"]
    for scope_id in scope_ids:
        added = call(client, headers, "POST", f"/roles/{role_id}/scopes", {"scope_id": scope_id})
        assert added.status_code == 201, added.text
    app = call(client, headers, "POST", "/applications", {"name": "A", "type": "spa"})
    app_id = app.json()["application"]["id"]
    call(client, headers, "POST", f"/applications/{app_id}/access_roles/{role_id}")
    assert _role(tenant).applications == (app_id,)
    call(client, headers, "DELETE", f"/apis/{api_id}/scopes/{scope_ids[0]}")
    listed = call(client, headers, "GET", f"/roles/{role_id}/scopes").json()["scopes"]
    assert [(s["key"], s["api_id"]) for s in listed] == [("write:f", api_id)]
    assert call(client, headers, "DELETE", f"/apis/{api_id}").status_code == 200
    assert dict(_role(tenant).api_scopes) == {}
    assert call(client, headers, "DELETE", f"/applications/{app_id}").status_code == 200
    assert _role(tenant).applications == ()
    tenant.close()


def test_there_are_no_system_permissions() -> None:
    tenant, client = make()
    headers = bearer(tenant)
    listed = call(client, headers, "GET", "/system_permissions", page_size="5")
    assert listed.json() == {
        "code": "OK",
        "message": "Success",
        "system_permissions": [],
        "next_token": None,
    }
    tenant.close()
