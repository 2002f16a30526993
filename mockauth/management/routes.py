"""The Management API's route table: every operation of every resource module, each with
the scope it needs. Tests walk ``OPERATIONS`` (not a hand list) to prove each refuses a
token without its scope."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from mockauth.management import (
    access_roles,
    apis,
    apps,
    business,
    connections,
    flags,
    identities,
    invites,
    logos,
    members,
    mfa,
    org_api_scopes,
    orgs,
    passkeys,
    properties,
    role_scopes,
    role_users,
    roles,
    sessions,
    users,
)
from mockauth.management.errors import ManagementNotFound
from mockauth.management.operations import MANAGEMENT_PREFIX, Operation, route

OPERATIONS: tuple[Operation, ...] = (
    *users.OPERATIONS,
    *identities.OPERATIONS,
    *sessions.OPERATIONS,
    *mfa.OPERATIONS,
    *orgs.OPERATIONS,
    *members.OPERATIONS,
    *org_api_scopes.OPERATIONS,
    *invites.OPERATIONS,
    *logos.OPERATIONS,
    *passkeys.OPERATIONS,
    *roles.OPERATIONS,
    *role_scopes.OPERATIONS,
    *role_users.OPERATIONS,
    *flags.OPERATIONS,
    *properties.OPERATIONS,
    *apps.OPERATIONS,
    *access_roles.OPERATIONS,
    *connections.OPERATIONS,
    *apis.OPERATIONS,
    *business.OPERATIONS,
)
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def routes() -> list[Route]:
    """One route per operation, then Kinde's 404 for any other path under /api/v1."""

    async def unknown(request: Request) -> None:
        raise ManagementNotFound("The requested API route does not exist", code="ROUTE_NOT_FOUND")

    return [
        *(route(operation) for operation in OPERATIONS),
        Route(MANAGEMENT_PREFIX + "/{rest:path}", unknown, methods=_METHODS),
    ]
