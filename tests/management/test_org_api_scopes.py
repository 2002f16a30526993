"""A member's API scopes in an organisation: added, listed by searchUsers, and dropped with
the membership, the scope or the API (so the tenant stays valid)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockauth.tenant.tenant import Tenant
from tests.management.kit import ORG, USER_ID, bearer, call, make


@pytest.fixture
def served() -> Iterator[tuple[Tenant, TestClient, dict[str, str]]]:
    tenant, client = make()
    headers = bearer(tenant)
    api = call(client, headers, "POST", "/apis", {"name": "F", "audience": "https://f.example"})
    api_id = api.json()["api"]["id"]
    for key in ("read:f", "write:f"):
        call(client, headers, "POST", f"/apis/{api_id}/scopes", {"key": key})
    yield tenant, client, {"api_id": api_id}
    tenant.close()


def _scopes(client: TestClient, headers: dict[str, str], api_id: str) -> dict[str, str]:
    listed = call(client, headers, "GET", f"/apis/{api_id}/scopes").json()["scopes"]
    return {s["key"]: s["id"] for s in listed}


def _add(client: TestClient, headers: dict[str, str], api_id: str, scope_id: str) -> Any:
    path = f"/organizations/{ORG}/users/{USER_ID}/apis/{api_id}/scopes/{scope_id}"
    return call(client, headers, "POST", path)


def _held(tenant: Tenant) -> Any:
    user = tenant.user(USER_ID)
    assert user is not None
    return {c: dict(s) for c, s in user.org_api_scopes.items()}


def test_scopes_are_held_per_org_and_searched(served: Any) -> None:
    tenant, client, ids = served
    headers = bearer(tenant)
    scopes = _scopes(client, headers, ids["api_id"])
    assert _add(client, headers, ids["api_id"], scopes["read:f"]).status_code == 200
    assert _held(tenant) == {ORG: {"https://f.example": ("read:f",)}}
    found = call(client, headers, "GET", "/search/users", query="jane@").json()["results"]
    assert found[0]["api_scopes"] == [{"org_code": ORG, "scope": "read:f", "api_id": ids["api_id"]}]
    removed = call(client, headers, "DELETE", f"/organizations/{ORG}/users/{USER_ID}")
    assert removed.status_code == 200, removed.text
    assert _held(tenant) == {}


def test_the_api_dropping_a_scope_drops_it_from_members(served: Any) -> None:
    tenant, client, ids = served
    headers = bearer(tenant)
    scopes = _scopes(client, headers, ids["api_id"])
    for key in ("read:f", "write:f"):
        _add(client, headers, ids["api_id"], scopes[key])
    gone = call(client, headers, "DELETE", f"/apis/{ids['api_id']}/scopes/{scopes['read:f']}")
    assert gone.status_code == 200, gone.text
    assert _held(tenant) == {ORG: {"https://f.example": ("write:f",)}}
    assert call(client, headers, "DELETE", f"/apis/{ids['api_id']}").status_code == 200
    assert _held(tenant) == {}
