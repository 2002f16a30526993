"""The admin API under /_mockauth/: faults, keys, clock, journal, apps, APIs, users, orgs, reset.

JSON in and out. Every handler runs behind one guard that checks the bearer secret (when
the tenant has one), reads the tenant store afresh, and turns a ConfigError (input outside
the OpenAPI document, naming the field) into a 400, a ConfigConflictError (well-formed, at
odds with the tenant) into a 409, before anything is applied. What a handler changes is in
the store, so every worker of the server sees it on its next request.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockauth import paths
from mockauth.admin.io import (
    CLOCK_CHANGES,
    JOURNAL_FILTERS,
    JOURNAL_NUMBER_DIGITS,
    JOURNAL_NUMBERS,
    OVERLAP,
    RETIRE_KEYS,
    ROTATE_KEYS,
    SOURCE,
    json_response,
    read_json,
)
from mockauth.admin.openapi import openapi_bytes
from mockauth.admin.tenant import (
    delete_app,
    delete_user,
    list_apis,
    list_apps,
    list_orgs,
    list_users,
    put_api,
    put_app,
    put_org,
    put_user,
)
from mockauth.errors import (
    AccessDeniedError,
    ConfigConflictError,
    ConfigError,
    ConflictError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    shown,
)
from mockauth.faults.rules import parse_rule, parse_rules
from mockauth.http.net import is_loopback
from mockauth.tenant.tenant import Tenant
from mockauth.tenant.validate import Reader, Table

Handler = Callable[[Request, Tenant], Awaitable[Response]]


def routes() -> list[Route]:
    """The admin route table: one Route per path, so a 405's Allow lists every method the
    path serves (Starlette answers a wrong method with the first matching Route's alone)."""
    by_path: dict[str, dict[str, Handler]] = {}
    for path, method, handler in _operations():
        by_path.setdefault(path, {})[method] = handler
    return [_route(path, handlers) for path, handlers in by_path.items()]


def _operations() -> list[tuple[str, str, Handler]]:
    return [
        (paths.ADMIN_OPENAPI, "GET", openapi),
        (paths.ADMIN_FAULTS, "GET", list_faults),
        (paths.ADMIN_FAULTS, "POST", add_faults),
        (paths.ADMIN_FAULTS, "DELETE", clear_faults),
        (paths.ADMIN_FAULTS + "/{id}", "GET", get_fault),
        (paths.ADMIN_FAULTS + "/{id}", "DELETE", delete_fault),
        (paths.ADMIN_KEYS, "GET", list_keys),
        (paths.ADMIN_KEYS + "/rotate", "POST", rotate_keys),
        (paths.ADMIN_KEYS + "/retire", "POST", retire_keys),
        (paths.ADMIN_CLOCK, "GET", get_clock),
        (paths.ADMIN_CLOCK, "PUT", set_clock),
        (paths.ADMIN_CLOCK, "DELETE", reset_clock),
        (paths.ADMIN_JOURNAL, "GET", query_journal),
        (paths.ADMIN_JOURNAL, "DELETE", clear_journal),
        (paths.ADMIN_APPS, "GET", list_apps),
        (paths.ADMIN_APPS, "POST", put_app),
        (paths.ADMIN_APPS + "/{client_id}", "DELETE", delete_app),
        (paths.ADMIN_APIS, "GET", list_apis),
        (paths.ADMIN_APIS, "POST", put_api),
        (paths.ADMIN_USERS, "GET", list_users),
        (paths.ADMIN_USERS, "POST", put_user),
        (paths.ADMIN_USERS + "/{id}", "DELETE", delete_user),
        (paths.ADMIN_ORGS, "GET", list_orgs),
        (paths.ADMIN_ORGS, "POST", put_org),
        (paths.ADMIN_RESET, "POST", reset),
    ]


# Open to anyone who can reach the server: the document says nothing about the tenant.
_OPEN_ACCESS = frozenset({paths.ADMIN_OPENAPI})


def _route(path: str, handlers: dict[str, Handler]) -> Route:
    open_access = path in _OPEN_ACCESS

    async def guarded(request: Request) -> Response:
        tenant: Tenant = request.app.state.tenant
        if not open_access:
            _same_machine(tenant, request)
            _authorize(tenant, request)
        tenant.refresh()
        # Starlette answers HEAD on a GET route, and a method not listed with 405 + Allow.
        handler = handlers["GET" if request.method == "HEAD" else request.method]
        try:
            return await handler(request, tenant)
        except ConfigConflictError as exc:  # well-formed, but at odds with the tenant
            raise ConflictError(str(exc)) from exc
        except ConfigError as exc:  # outside what the OpenAPI document admits
            raise InvalidRequestError(str(exc)) from exc
        except RecursionError as exc:  # absurdly nested JSON: bad input, not a server error
            raise InvalidRequestError("The request body is nested too deeply.") from exc

    return Route(path, guarded, methods=list(handlers), name=path)


def _same_machine(tenant: Tenant, request: Request) -> None:
    """Without a secret, answer only what a page in a browser cannot send.

    A cross-site page's request carries its Origin; a DNS-rebinding page's carries its own
    Host. Tools (curl, SDKs, the CLI) send neither a foreign Origin nor a foreign Host.
    """
    if tenant.admin_secret is not None:
        return
    allowed = {_hostname(tenant.issuer)}
    host = request.headers.get("host", "")
    if not _local(_hostname("//" + host), allowed):
        raise AccessDeniedError(f"The admin API does not answer for the host {shown(host)!r}.")
    origin = request.headers.get("origin")
    if origin is not None and not _local(_hostname(origin), allowed):
        raise AccessDeniedError(f"The admin API does not answer requests from {shown(origin)!r}.")


def _hostname(url: str) -> str | None:
    """The host of ``url``; None when there is none, or it cannot be read (``http://[``):
    a value no browser on this machine sends is foreign, never a server error."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _local(host: str | None, allowed: set[str | None]) -> bool:
    return host is not None and (host in allowed or is_loopback(host))


def _authorize(tenant: Tenant, request: Request) -> None:
    secret = tenant.admin_secret
    if secret is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        _refuse(
            "The admin API needs the header 'Authorization: Bearer <admin secret>' (the "
            "secret the server was started with, or the one it printed when it generated one)."
        )
    # Constant time: how much of a wrong secret matched must not show in the timing.
    if not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), secret.encode()):
        _refuse("The admin secret in the 'Authorization: Bearer' header is wrong.", wrong=True)


def _refuse(description: str, *, wrong: bool = False) -> NoReturn:
    # RFC 6750 3.1: no error code when no credentials came, invalid_token when they were wrong.
    challenge = 'Bearer realm="mockauth-admin"' + (', error="invalid_token"' if wrong else "")
    raise InvalidTokenError(description, headers={"WWW-Authenticate": challenge})


def _object(body: object) -> Mapping[str, Any]:
    return Table(Reader(SOURCE), body, what="body").data


# --- faults --------------------------------------------------------------------------------


async def openapi(request: Request, tenant: Tenant) -> Response:
    return Response(openapi_bytes(), media_type="application/json")


async def list_faults(request: Request, tenant: Tenant) -> Response:
    return json_response({"faults": tenant.faults.describe()})


async def add_faults(request: Request, tenant: Tenant) -> Response:
    """One rule object, or an array of them: all are added, or none."""
    body = await read_json(request)
    if isinstance(body, list):
        rules = parse_rules(body, source=SOURCE)
    else:
        rules = [parse_rule(body, source=SOURCE)]
    added = tenant.faults.add(*rules)
    described = {d["id"]: d for d in tenant.faults.describe()}
    return json_response({"faults": [described[rule.id] for rule in added]}, 201)


async def clear_faults(request: Request, tenant: Tenant) -> Response:
    return json_response({"deleted": tenant.faults.clear()})


async def get_fault(request: Request, tenant: Tenant) -> Response:
    rule_id = request.path_params["id"]
    try:
        return json_response(tenant.faults.describe(rule_id)[0])
    except KeyError:
        raise NotFoundError(f"No fault rule has the id {rule_id!r}.") from None


async def delete_fault(request: Request, tenant: Tenant) -> Response:
    rule_id = request.path_params["id"]
    try:
        rule = tenant.faults.remove(rule_id)
    except KeyError:
        raise NotFoundError(f"No fault rule has the id {rule_id!r}.") from None
    return json_response({"deleted": rule.to_dict()})


# --- keys ----------------------------------------------------------------------------------


def _keys_state(tenant: Tenant) -> dict[str, Any]:
    keys = tenant.keys
    return {
        "active": keys.active_kid,
        "published": list(keys.published_kids),
        "retire_at": keys.retire_at,
        "overlap": tenant.config.key_overlap,
    }


async def list_keys(request: Request, tenant: Tenant) -> Response:
    tenant.keys.refresh()
    return json_response(_keys_state(tenant))


async def rotate_keys(request: Request, tenant: Tenant) -> Response:
    """Body (optional): {"overlap": seconds} before the previous keys leave the JWKS."""
    body = _object(await read_json(request, optional=True))
    _only(body, ROTATE_KEYS)
    overlap = Reader(SOURCE).bounded(body, "overlap", "overlap", OVERLAP)
    previous = tenant.keys.active_kid
    tenant.rotate_keys(overlap=overlap)
    return json_response({**_keys_state(tenant), "previous": previous})


async def retire_keys(request: Request, tenant: Tenant) -> Response:
    """Body: {"kid": ...} retires one key; {} retires every key but the active one."""
    body = _object(await read_json(request, optional=True))
    _only(body, RETIRE_KEYS)
    reader = Reader(SOURCE)
    kid = reader.typed(body, "kid", "kid", str, None)
    try:  # one locked step, so servers sharing the keys dir cannot trip each other
        kids = tenant.keys.retire(kid)
    except KeyError as exc:
        raise reader.conflict("kid", kid, "no published key has this kid") from exc
    except ValueError as exc:
        raise reader.conflict("kid", kid, "is the active signing key; rotate first") from exc
    return json_response({**_keys_state(tenant), "retired": kids})


# --- clock ---------------------------------------------------------------------------------


def _clock_state(tenant: Tenant) -> dict[str, Any]:
    clock = tenant.clock
    return {"now": clock.now(), "offset": clock.offset, "frozen_at": clock.frozen_at}


async def get_clock(request: Request, tenant: Tenant) -> Response:
    return json_response(_clock_state(tenant))


async def set_clock(request: Request, tenant: Tenant) -> Response:
    """Exactly one of: offset (s), advance (s), frozen_at (epoch s), freeze (true: now)."""
    body = _object(await read_json(request))
    _only(body, CLOCK_CHANGES)
    if len(body) != 1:
        raise ConfigError(
            SOURCE, "(body)", body, "give exactly one of offset, advance, frozen_at, freeze"
        )
    clock = tenant.clock
    (name,) = body
    bounds = CLOCK_CHANGES[name]
    if bounds is None:  # freeze
        if body[name] is not True:
            raise ConfigError(SOURCE, name, body[name], "must be true")
        clock.freeze()
        return json_response(_clock_state(tenant))
    seconds = float(Reader(SOURCE).bounded(body, name, name, bounds))
    if name == "frozen_at":
        clock.freeze(seconds)
    elif name == "advance":
        clock.advance(seconds)
    else:
        clock.set_offset(seconds)
    return json_response(_clock_state(tenant))


async def reset_clock(request: Request, tenant: Tenant) -> Response:
    tenant.clock.reset()
    return json_response(_clock_state(tenant))


# --- journal -------------------------------------------------------------------------------


async def query_journal(request: Request, tenant: Tenant) -> Response:
    """Filters as query parameters: path, client_id, status, fault, since, limit."""
    params = request.query_params
    for name in params:
        if name not in JOURNAL_FILTERS:
            raise InvalidRequestError(
                f"Unknown journal filter {name!r} (allowed: {', '.join(JOURNAL_FILTERS)})."
            )
    ints = {name: _int_param(params.get(name), name) for name in JOURNAL_NUMBERS}
    if tenant.journal.settle:  # let the other workers end the turn they answered in
        await asyncio.sleep(tenant.journal.settle)
    entries = tenant.journal.entries(
        path=params.get("path"),
        client_id=params.get("client_id"),
        fault=params.get("fault"),
        status=ints["status"],
        since=ints["since"],
        limit=ints["limit"],
    )
    return json_response({"entries": [e.to_dict() for e in entries]})


async def clear_journal(request: Request, tenant: Tenant) -> Response:
    return json_response({"deleted": tenant.journal.clear()})


def _int_param(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > JOURNAL_NUMBER_DIGITS:
        raise InvalidRequestError(f"The journal filter {name!r} must be a non-negative integer.")
    return int(value)


async def reset(request: Request, tenant: Tenant) -> Response:
    """Back to the start-up state: config apps, APIs and faults; real time; empty journal."""
    tenant.reset()
    return json_response({"status": "reset"})


# --- body checks ---------------------------------------------------------------------------


def _only(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    Reader(SOURCE).only(body, "", allowed)
