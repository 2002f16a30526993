"""Connections (how users sign in): one fixed connection, email and password, which every
app and organisation has. Enabling it succeeds with nothing to do; turning it off is a
400, as mockauth signs every user in through it; any other connection id is a 404."""

from __future__ import annotations

from typing import Any

from mockauth.management import lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success

CONNECTIONS = (
    {
        "id": "conn_mockauthemailpassword",
        "name": "Email",
        "display_name": "Email + password",
        "strategy": "email:password",
    },
)


def _connections() -> list[dict[str, Any]]:
    return [{"code": "OK", "message": "Success", "connection": dict(c)} for c in CONNECTIONS]


def _connection(call: Call) -> dict[str, str]:
    ident = call.params["connection_id"]
    found = next((c for c in CONNECTIONS if c["id"] == ident), None)
    if found is None:
        raise lookup.not_found("connection", ident)
    return found


def _required(call: Call) -> ManagementBadRequest:
    name = _connection(call)["display_name"]
    return ManagementBadRequest(
        f"mockauth signs every user in with {name}: it cannot be turned off.",
        code="CONNECTION_REQUIRED",
    )


@op("GET", "/connections", "read:connections", "GetConnections")
def get_connections(call: Call) -> Reply:
    call.page_size()
    return success(connections=_connections(), has_more=False)


def _holder(call: Call) -> None:
    """The app or organisation the path names, else 404."""
    if "application_id" in call.params:
        lookup.app(call.config, call.params["application_id"])
    else:
        lookup.org(call.config, call.params["organization_code"])


def _listed(call: Call) -> Reply:
    _holder(call)
    return success(connections=_connections(), has_more=False)


def _enable(call: Call) -> Reply:
    _holder(call)
    _connection(call)
    return success()


def _remove(call: Call) -> Reply:
    _holder(call)
    raise _required(call)


APP = "/applications/{application_id}/connections"
ORG = "/organizations/{organization_code}/connections"
ONE = "/{connection_id}"
OPERATIONS = [
    get_connections,
    op("GET", APP, "read:application_connections", "GetApplicationConnections")(_listed),
    op("POST", APP + ONE, "create:application_connections", "EnableConnection")(_enable),
    op("DELETE", APP + ONE, "delete:application_connections", "RemoveConnection")(_remove),
    op("GET", ORG, "read:organization_connections", "GetOrganizationConnections")(_listed),
    op("POST", ORG + ONE, "create:organization_connections", "EnableOrgConnection")(_enable),
    op("DELETE", ORG + ONE, "delete:organization_connections", "RemoveOrgConnection")(_remove),
]
