"""Connections (how users sign in): one fixed connection, email and password, which every
app and organisation has. Enabling it succeeds with nothing to do; turning it off is a
400, as mockauth signs every user in through it; any other connection id is a 404."""

from __future__ import annotations

from typing import Any

from mockauth.errors import ManagementBadRequest
from mockauth.management import lookup
from mockauth.management.operations import Call, Reply, op, success

CONNECTIONS = (
    {
        "id": "conn_mockauthemailpassword",
        "name": "Email",
        "display_name": "Email + password",
        "strategy": "email:password",
    },
)
APP_PATH = "/applications/{application_id}/connections"
ORG_PATH = "/organizations/{organization_code}/connections"


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


@op("GET", APP_PATH, "read:application_connections", "GetApplicationConnections")
def get_application_connections(call: Call) -> Reply:
    lookup.app(call.config, call.params["application_id"])
    return success(connections=_connections(), has_more=False)


@op("POST", APP_PATH + "/{connection_id}", "create:application_connections", "EnableConnection")
def enable_connection(call: Call) -> Reply:
    lookup.app(call.config, call.params["application_id"])
    _connection(call)
    return success()


@op("DELETE", APP_PATH + "/{connection_id}", "delete:application_connections", "RemoveConnection")
def remove_connection(call: Call) -> Reply:
    lookup.app(call.config, call.params["application_id"])
    raise _required(call)


@op("GET", ORG_PATH, "read:organization_connections", "GetOrganizationConnections")
def get_organization_connections(call: Call) -> Reply:
    lookup.org(call.config, call.params["organization_code"])
    return success(connections=_connections(), has_more=False)


@op(
    "POST",
    ORG_PATH + "/{connection_id}",
    "create:organization_connections",
    "EnableOrgConnection",
)
def enable_org_connection(call: Call) -> Reply:
    lookup.org(call.config, call.params["organization_code"])
    _connection(call)
    return success()


@op(
    "DELETE",
    ORG_PATH + "/{connection_id}",
    "delete:organization_connections",
    "RemoveOrgConnection",
)
def remove_org_connection(call: Call) -> Reply:
    lookup.org(call.config, call.params["organization_code"])
    raise _required(call)


OPERATIONS = [
    get_connections,
    get_application_connections,
    enable_connection,
    remove_connection,
    get_organization_connections,
    enable_org_connection,
    remove_org_connection,
]
