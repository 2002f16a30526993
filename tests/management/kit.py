"""A tenant (the default config) behind Starlette's TestClient, and Management API tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.testclient import TestClient

from mockauth.http.app import create_app
from mockauth.issuance import m2m_token
from mockauth.management.operations import Operation
from mockauth.tenant.config import default_config
from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES
from mockauth.tenant.tenant import Tenant

ISSUER = "http://testserver"
MGMT = ISSUER + "/api"
USER_ID = "kp_0f6c1b8e2d7a4c3b9e5f1a2d8c7b6e4a"  # Jane, in the default config
ORG = "org_e5f28e1676d"


def make() -> tuple[Tenant, TestClient]:
    tenant = Tenant(default_config(), issuer=ISSUER)
    return tenant, TestClient(create_app(tenant), raise_server_exceptions=False)


def token(tenant: Tenant, scopes: Iterable[str] = MANAGEMENT_SCOPES) -> str:
    app = tenant.config.apps[0]
    wanted = " ".join(scopes) or None
    body = m2m_token(tenant, app, [MGMT], wanted if wanted else "")
    access: str = body["access_token"]
    return access


def bearer(tenant: Tenant, scopes: Iterable[str] = MANAGEMENT_SCOPES) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(tenant, scopes)}


def concrete(operation: Operation, **values: str) -> str:
    """The operation's path with its parameters filled in (``x`` unless given)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), operation.full_path)


def call(
    client: TestClient,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any = None,
    **params: Any,
) -> Any:
    response = client.request(
        method, "/api/v1" + path, json=body, params=params or None, headers=headers
    )
    return response
