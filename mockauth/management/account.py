"""Kinde's Account API (``/account_api/v1/...``): what a signed-in user's access token may
read about that user in the token's organisation, as ``@kinde/js-utils`` and
``kinde-python-sdk`` call it: ``{"data": {...}, "metadata": {"has_more",
"next_page_starting_after"}}``, paged by ``page_size`` and ``starting_after``.

Browsers call these routes from the page: ``ACCOUNT_API_PREFIX`` names them all, for the
CORS layer to answer their preflights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockauth import paths
from mockauth.management.auth import user_claims
from mockauth.management.errors import (
    ManagementBadRequest,
    ManagementNotFound,
    ManagementUnauthorized,
)
from mockauth.management.operations import json_response
from mockauth.management.pagination import page_size
from mockauth.tenant import access
from mockauth.tenant.catalog import stable_id
from mockauth.tenant.journal import RequestSummary, remember
from mockauth.tenant.people import Org, User
from mockauth.tenant.tenant import Tenant

ACCOUNT_API_PREFIX = paths.ACCOUNT_API
# How the Account API names flag types (tokens say b, s, i).
FLAG_TYPES = {"b": "boolean", "s": "string", "i": "integer"}


class _Me:
    """The token's user and organisation, as they are in the tenant now."""

    def __init__(self, tenant: Tenant, request: Request) -> None:
        tenant.refresh()
        claims = user_claims(tenant, request.headers)
        azp = claims.get("azp")
        # CORS answers the origins of the token's app (http/cors.py).
        remember(
            request.scope, RequestSummary(request.url.path, azp if isinstance(azp, str) else None)
        )
        user = tenant.user(claims["sub"])
        if user is None:  # removed since the token was checked
            raise ManagementUnauthorized(
                "The token's user is no longer here.", code="TOKEN_INVALID"
            )
        self.user: User = user
        code = claims.get("org_code")
        self.org_code: str | None = code if isinstance(code, str) and code in user.orgs else None
        self.org: Org | None = tenant.org(self.org_code) if self.org_code else None
        self.tenant = tenant
        self.query = request.query_params


Reader = Callable[[_Me], tuple[str, list[dict[str, Any]], dict[str, Any]]]


def _listed(name: str, read: Reader) -> Route:
    """A paged list: ``read`` gives the list's key, its items (each with an ``id``) and the
    other fields of ``data``."""

    async def endpoint(request: Request) -> Response:
        me = _Me(request.app.state.tenant, request)
        key, items, extra = read(me)
        size = page_size(me.query.get("page_size"), 500)
        after = me.query.get("starting_after")
        start = 0
        if after:
            ids = [str(i["id"]) for i in items]
            if after not in ids:
                raise ManagementBadRequest("starting_after is not an id in this list.")
            start = ids.index(after) + 1
        page = items[start : start + size]
        more = start + size < len(items)
        metadata = {
            "has_more": more,
            "next_page_starting_after": str(page[-1]["id"]) if more and page else None,
        }
        return json_response(200, {"data": {**extra, key: page}, "metadata": metadata})

    return Route(f"{ACCOUNT_API_PREFIX}/{name}", endpoint, methods=["GET"], name=f"account_{name}")


def _roles(me: _Me) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    catalog = me.tenant.config.catalog
    return "roles", access.roles(catalog, me.user, me.org_code), {"org_code": me.org_code}


def _permissions(me: _Me) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    catalog = me.tenant.config.catalog
    items = []
    for key in access.permission_keys(catalog, me.user, me.org_code):
        found = catalog.permission(key)
        ident = found.id if found else stable_id("permission", key)
        items.append({"id": ident, "name": found.name if found else key, "key": key})
    return "permissions", items, {"org_code": me.org_code}


def _flags(me: _Me) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    catalog = me.tenant.config.catalog
    values = access.flag_values(catalog, me.org, me.user)
    items = [
        {
            "id": f.id,
            "name": f.name,
            "key": f.key,
            "type": FLAG_TYPES[f.type],
            "value": values[f.key],
        }
        for f in catalog.feature_flags
    ]
    return "feature_flags", items, {}


def _properties(me: _Me) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    catalog = me.tenant.config.catalog
    items = [
        {"id": p.id, "name": p.name, "key": p.key, "value": me.user.properties[p.key]}
        for p in catalog.properties
        if p.context == "usr" and p.key in me.user.properties
    ]
    return "properties", items, {}


def _entitlements(me: _Me) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    # mockauth has no billing: no plans, no entitlements.
    return "entitlements", [], {"org_code": me.org_code, "plans": []}


def routes() -> list[Route]:
    """The Account API's routes (all GET)."""

    async def permission(request: Request) -> Response:
        me = _Me(request.app.state.tenant, request)
        key = request.path_params["key"]
        held = key in access.permission_keys(me.tenant.config.catalog, me.user, me.org_code)
        # What js-utils' getPermission(key, {forceApi: true}) returns as it is.
        return json_response(200, {"permissionKey": key, "orgCode": me.org_code, "isGranted": held})

    async def flag(request: Request) -> Response:
        me = _Me(request.app.state.tenant, request)
        _, items, _ = _flags(me)
        found = next((i for i in items if i["key"] == request.path_params["key"]), None)
        if found is None:
            raise ManagementNotFound("No feature flag has this key.", code="FLAG_NOT_FOUND")
        return json_response(200, {"data": found})

    async def entitlement(request: Request) -> Response:
        _Me(request.app.state.tenant, request)
        raise ManagementNotFound("No entitlement has this key.", code="ENTITLEMENT_NOT_FOUND")

    async def profile(request: Request) -> Response:
        user = _Me(request.app.state.tenant, request).user
        data = {
            "id": user.id,
            "email": user.email,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "picture": user.picture,
        }
        return json_response(200, {"data": data})

    return [
        _listed("roles", _roles),
        _listed("permissions", _permissions),
        _listed("feature_flags", _flags),
        _listed("properties", _properties),
        _listed("entitlements", _entitlements),
        Route(f"{ACCOUNT_API_PREFIX}/permission/{{key}}", permission, methods=["GET"]),
        Route(f"{ACCOUNT_API_PREFIX}/feature_flags/{{key}}", flag, methods=["GET"]),
        Route(f"{ACCOUNT_API_PREFIX}/entitlement/{{key}}", entitlement, methods=["GET"]),
        Route(f"{ACCOUNT_API_PREFIX}/user_profile", profile, methods=["GET"]),
    ]
