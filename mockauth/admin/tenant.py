"""Admin handlers for the tenant's directory: apps, APIs, users and organisations.

Each is read back as the config table that would create it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockauth.admin.io import SOURCE, json_response, read_json
from mockauth.errors import NotFoundError
from mockauth.tenant.apis import api_table as api_dict
from mockauth.tenant.apps import app_table as app_dict
from mockauth.tenant.people import org_table, user_table
from mockauth.tenant.tenant import Tenant


async def list_apps(request: Request, tenant: Tenant) -> Response:
    return json_response({"apps": [app_dict(a) for a in tenant.config.apps]})


async def put_app(request: Request, tenant: Tenant) -> Response:
    """Add, or replace by client_id, one app given as its config table."""
    app, created = tenant.put_app(await read_json(request), source=SOURCE)
    return _saved("app", app_dict(app), created)


async def delete_app(request: Request, tenant: Tenant) -> Response:
    client_id = request.path_params["client_id"]
    try:
        app = tenant.remove_app(client_id)
    except KeyError:
        raise NotFoundError(f"No app has the client_id {client_id!r}.") from None
    return json_response({"deleted": app_dict(app)})


async def list_apis(request: Request, tenant: Tenant) -> Response:
    return json_response({"apis": [api_dict(a) for a in tenant.config.apis]})


async def put_api(request: Request, tenant: Tenant) -> Response:
    """Add, or replace by audience, one API given as its config table."""
    api, created = tenant.put_api(await read_json(request), source=SOURCE)
    return _saved("api", api_dict(api), created)


async def list_users(request: Request, tenant: Tenant) -> Response:
    return json_response({"users": [user_table(u) for u in tenant.config.users]})


async def put_user(request: Request, tenant: Tenant) -> Response:
    """Add, or replace by id, one user given as its config table."""
    user, created = tenant.put_user(await read_json(request), source=SOURCE)
    return _saved("user", user_table(user), created)


async def delete_user(request: Request, tenant: Tenant) -> Response:
    user_id = request.path_params["id"]
    try:
        user = tenant.remove_user(user_id)
    except KeyError:
        raise NotFoundError(f"No user has the id {user_id[:80]!r}.") from None
    return json_response({"deleted": user_table(user)})


async def list_orgs(request: Request, tenant: Tenant) -> Response:
    return json_response({"orgs": [org_table(o) for o in tenant.config.orgs]})


async def put_org(request: Request, tenant: Tenant) -> Response:
    """Add, or replace by code, one organisation given as its config table."""
    org, created = tenant.put_org(await read_json(request), source=SOURCE)
    return _saved("org", org_table(org), created)


def _saved(name: str, item: dict[str, Any], created: bool) -> Response:
    """A POST's answer: the item as stored, 201 when new, 200 when it replaced one."""
    return json_response({name: item, "created": created}, 201 if created else 200)
