"""The route table: every operation needs a live Management API token holding its scope;
the tenant knows exactly the scopes the table names; unknown paths get Kinde's 404."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockauth.management.operations import Operation
from mockauth.management.routes import OPERATIONS
from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES
from mockauth.tenant.tenant import Tenant
from tests.management.kit import ISSUER, bearer, concrete, make, token

IDS = [f"{o.method} {o.path}" for o in OPERATIONS]
DOC = Path(__file__).parents[2] / "docs" / "management-api.md"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Tenant, TestClient]]:
    tenant, client = make()
    yield tenant, client
    tenant.close()


def test_the_tenant_knows_exactly_the_scopes_of_the_route_table() -> None:
    assert {o.scope for o in OPERATIONS} == set(MANAGEMENT_SCOPES)
    assert len({(o.method, o.path) for o in OPERATIONS}) == len(OPERATIONS)
    assert len({o.name for o in OPERATIONS}) == len(OPERATIONS)


def test_the_document_lists_every_operation_served_with_its_name_and_scope() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+) (\S+)` \| (\w+) \| `?([^|`]*?)`? \| ([^|]*) \|$", text, re.M)
    served = {(m, p): (name, scope) for m, p, name, scope, status in rows if "served" in status}
    assert served == {(o.method, o.path): (o.name, o.scope) for o in OPERATIONS}
    assert f"\n{len(OPERATIONS)} of {len(rows)} operations served.\n" in text


def test_the_default_m2m_app_is_granted_every_management_scope(
    served: tuple[Tenant, TestClient],
) -> None:
    tenant, _ = served
    assert set(tenant.config.apps[0].apis[ISSUER + "/api"]) == set(MANAGEMENT_SCOPES)


def _errors(text: str) -> list[dict[str, str]]:
    errors = json.loads(text)["errors"]
    return [errors] if isinstance(errors, dict) else errors


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
def test_every_operation_refuses_a_token_without_its_scope(
    served: tuple[Tenant, TestClient], operation: Operation
) -> None:
    tenant, client = served
    others = [s for s in MANAGEMENT_SCOPES if s != operation.scope]
    before = tenant.store.version()
    response = client.request(
        operation.method, concrete(operation), json={}, headers=bearer(tenant, others)
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = _errors(response.text)
    assert error["code"] == "FORBIDDEN" and operation.scope in error["message"]
    assert tenant.store.version() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
def test_every_operation_refuses_a_missing_or_foreign_token(
    served: tuple[Tenant, TestClient], operation: Operation
) -> None:
    tenant, client = served
    path = concrete(operation)
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic " + token(tenant)},
    ):
        response = client.request(operation.method, path, headers=headers)
        assert response.status_code == 401, response.text
        assert _errors(response.text)[0]["code"] in ("TOKEN_MISSING", "TOKEN_INVALID")


def test_a_token_for_another_audience_is_refused(served: tuple[Tenant, TestClient]) -> None:
    tenant, client = served
    from mockauth.issuance import m2m_token

    other = m2m_token(tenant, tenant.config.apps[0], ["https://api.example.com"], None)
    response = client.get(
        "/api/v1/users", headers={"Authorization": "Bearer " + other["access_token"]}
    )
    assert response.status_code == 401
    assert "Management API" in _errors(response.text)[0]["message"]


def test_an_expired_token_is_refused(served: tuple[Tenant, TestClient]) -> None:
    tenant, client = served
    headers = bearer(tenant)
    tenant.clock.advance(86_400 * 2)
    try:
        assert client.get("/api/v1/users", headers=headers).status_code == 401
    finally:
        tenant.clock.reset()


def test_an_unknown_path_is_kindes_route_not_found(served: tuple[Tenant, TestClient]) -> None:
    tenant, client = served
    response = client.get("/api/v1/no_such_thing", headers=bearer(tenant))
    assert response.status_code == 404
    assert json.loads(response.text) == {
        "errors": {"code": "ROUTE_NOT_FOUND", "message": "The requested API route does not exist"}
    }


def test_a_throttle_fault_on_the_management_endpoint_answers_kindes_429(
    served: tuple[Tenant, TestClient],
) -> None:
    tenant, client = served
    tenant.faults.add(
        {"endpoint": "management", "effect": "throttle", "retry_after": 3, "times": 1}
    )
    try:
        response = client.get("/api/v1/users", headers=bearer(tenant))
        assert response.status_code == 429
        assert response.headers["RateLimit-Reset"] == "3"
        assert _errors(response.text)[0]["code"] == "TOO_MANY_REQUESTS"
        assert client.get("/api/v1/users", headers=bearer(tenant)).status_code == 200
        # Rules on the management endpoint leave the rest alone, and the reverse.
        tenant.faults.add({"endpoint": "token", "effect": "error", "status": 503})
        assert client.get("/api/v1/users", headers=bearer(tenant)).status_code == 200
    finally:
        tenant.faults.clear()
