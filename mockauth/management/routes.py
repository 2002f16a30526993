"""The Management API's route table: every operation of every resource module, each with
the scope it needs. Tests walk ``OPERATIONS`` (not a hand list) to prove each refuses a
token without its scope."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from mockauth.management import (
    apis,
    apps,
    business,
    flags,
    members,
    orgs,
    properties,
    roles,
    users,
)
from mockauth.management.errors import ManagementNotFound
from mockauth.management.operations import MANAGEMENT_PREFIX, Operation, route

OPERATIONS: tuple[Operation, ...] = (
    *users.OPERATIONS,
    *orgs.OPERATIONS,
    *members.OPERATIONS,
    *roles.OPERATIONS,
    *flags.OPERATIONS,
    *properties.OPERATIONS,
    *apps.OPERATIONS,
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
