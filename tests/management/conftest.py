"""The ``world`` fixture: a tenant with one of everything the Management API writes, and
the ids each path parameter may name (and names no entity has)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockauth.tenant.tenant import Tenant
from tests.management.kit import ORG, USER_ID, bearer, make

World = tuple[Tenant, TestClient, dict[str, str], dict[str, str]]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A tenant with one of everything, and the ids each path parameter may name."""
    tenant, client = make()
    headers = bearer(tenant)

    def post(path: str, body: dict[str, Any]) -> Any:
        response = client.post("/api/v1" + path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    permission = post("/permissions", {"key": "read:docs", "name": "Read docs"})["permission"]
    role = post("/roles", {"key": "admin", "name": "Admin"})["role"]
    post(
        "/feature_flags", {"key": "dark", "name": "Dark", "type": "bool", "default_value": "false"}
    )
    category = post("/property_categories", {"name": "Info", "context": "usr"})["category"]
    prop = post(
        "/properties",
        {
            "key": "team",
            "name": "Team",
            "type": "single_line_text",
            "context": "usr",
            "is_private": False,
            "category_id": category["id"],
        },
    )["property"]
    api = post("/apis", {"name": "Docs", "audience": "https://docs.example.com"})["api"]
    scope = post(f"/apis/{api['id']}/scopes", {"key": "read:docs"})["scope"]
    identities = client.get(f"/api/v1/users/{USER_ID}/identities", headers=headers).json()
    invite = post(f"/organization/{ORG}/invites", {"email": "sam@example.com", "roles": ["admin"]})
    web = tenant.config.apps[1].client_id
    ids = {
        "user_id": USER_ID,
        "org_code": ORG,
        "organization_code": ORG,
        "role_id": role["id"],
        "permission_id": permission["id"],
        "feature_flag_key": "dark",
        "property_key": "team",
        "property_id": prop["id"],
        "category_id": category["id"],
        "application_id": web,
        "app_id": web,
        "api_id": api["id"],
        "scope_id": scope["id"],
        "identity_id": identities["identities"][0]["id"],
        "invite_code": invite["invite"]["code"],
        "connection_id": "conn_mockauthemailpassword",
        "type": "light",
    }
    missing = {name: "missing_" + name for name in ids}
    yield tenant, client, ids, missing
    tenant.close()
