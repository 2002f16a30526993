"""Connections (how users sign in): one fixed connection, email and password, which every
app has."""

from __future__ import annotations

from typing import Any

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


def _connections() -> list[dict[str, Any]]:
    return [{"code": "OK", "message": "Success", "connection": dict(c)} for c in CONNECTIONS]


@op("GET", "/connections", "read:connections", "GetConnections")
def get_connections(call: Call) -> Reply:
    call.page_size()
    return success(connections=_connections(), has_more=False)


@op("GET", APP_PATH, "read:application_connections", "GetApplicationConnections")
def get_application_connections(call: Call) -> Reply:
    lookup.app(call.config, call.params["application_id"])
    return success(connections=_connections(), has_more=False)


OPERATIONS = [get_connections, get_application_connections]
