"""The operation table's machinery: each operation is a method, a path under ``/api/v1``,
the scope it needs (Kinde's ``x-scope``) and a plain function from a ``Call`` to a status
and a JSON body. One wrapper does everything else: the token and scope checks, reading the
body (JSON, or a multipart upload for the logo operations), and turning bad input into
Kinde's 400."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockauth import paths
from mockauth.errors import _MISSING, ConfigError, OAuthError, RequestTooLargeError
from mockauth.management.auth import management_claims, require_scope
from mockauth.management.errors import ManagementBadRequest, ManagementNotFound, ManagementTooLarge
from mockauth.management.pagination import cursor_page, page_size
from mockauth.management.uploads import Upload, parse_uploads
from mockauth.oauth.params import read_body
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.tenant import Tenant
from mockauth.tenant.validate import Reader, Table

T = TypeVar("T")

MANAGEMENT_PREFIX = paths.MANAGEMENT
SOURCE = "request"
MAX_BODY = 64 * 1024
MAX_UPLOAD = 8 * MAX_BODY  # a logo
NO_STORE = {"Cache-Control": "no-store"}
Reply = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request, as an operation sees it."""

    tenant: Tenant
    params: Mapping[str, str]
    query: QueryParams
    body: Any

    @property
    def config(self) -> ServerConfig:
        return self.tenant.config

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def required(self, name: str) -> str:
        value = self.query.get(name)
        if value is None or value == "":
            raise ManagementBadRequest(f"The query parameter {name!r} is required.")
        return value

    def flag(self, name: str) -> bool | None:
        """A boolean query parameter (``true``/``false``), None when absent."""
        value = self.query.get(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise ManagementBadRequest(f"The query parameter {name!r} must be true or false.")
        return value == "true"

    def page_size(self, default: int = 10) -> int:
        return page_size(self.query.get("page_size"), default)

    def cursor_page(
        self, items: Sequence[T], key: Callable[[T], str], default_size: int = 10
    ) -> tuple[list[T], bool]:
        """The page the query asks for (``page_size``, ``starting_after``, ``ending_before``)
        and whether more follow."""
        return cursor_page(
            items,
            self.page_size(default_size),
            key,
            starting_after=self.q("starting_after"),
            ending_before=self.q("ending_before"),
        )

    def table(self, *, optional: bool = False) -> Table:
        """The JSON body as a table (an object)."""
        body = {} if optional and self.body is _MISSING else self.body
        if body is _MISSING:
            raise ManagementBadRequest("The request needs a JSON body.")
        return Table(Reader(SOURCE), body, what="body")

    def upload(self, name: str) -> Upload:
        """The file sent in the multipart field ``name``."""
        found = self.body.get(name) if isinstance(self.body, dict) else None
        if not isinstance(found, Upload):
            raise ManagementBadRequest(
                f"The request needs the file in the multipart/form-data field {name!r}."
            )
        return found


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Operation:
    """One Management API operation; ``scope`` is the one the token must hold."""

    method: str
    path: str  # under /api/v1
    scope: str
    handler: Handler
    name: str  # Kinde's operationId
    upload: bool = False  # the body is multipart/form-data (a file), not JSON

    @property
    def full_path(self) -> str:
        return MANAGEMENT_PREFIX + self.path

    @property
    def max_body(self) -> int:
        return MAX_UPLOAD if self.upload else MAX_BODY


def op(
    method: str, path: str, scope: str, name: str, *, upload: bool = False
) -> Callable[[Handler], Operation]:
    """Declare a function as an operation (the module lists them in OPERATIONS)."""

    def wrap(handler: Handler) -> Operation:
        return Operation(method, path, scope, handler, name, upload)

    return wrap


def success(status: int = 200, /, **extra: Any) -> Reply:
    """Kinde's success_response, with more fields where the operation adds them."""
    return status, {"code": "OK", "message": "Success", **extra}


def not_found(
    what: str, ident: str, code: str | None = None, *, by: str = "id"
) -> ManagementNotFound:
    return ManagementNotFound(
        f"No {what} has the {by} {ident[:100]!r}.",
        code=code or what.upper().replace(" ", "_") + "_NOT_FOUND",
    )


def json_response(status: int, body: object) -> Response:
    if status == 204:  # Kinde's "nothing to delete": no body
        return Response(status_code=204, headers=NO_STORE)
    return Response(json.dumps(body), status, media_type="application/json", headers=NO_STORE)


def route(operation: Operation) -> Route:
    """The Starlette route of an operation: token, scope, body, then the handler."""

    async def endpoint(request: Request) -> Response:
        tenant: Tenant = request.app.state.tenant
        tenant.refresh()
        claims = management_claims(tenant, request.headers)
        require_scope(claims, operation.scope)
        body: Any = _MISSING
        if operation.upload:
            raw = await _raw(request, MAX_UPLOAD)
            body = parse_uploads(raw, request.headers.get("content-type", ""))
        elif operation.method in ("POST", "PUT", "PATCH"):
            body = _json(await _raw(request, MAX_BODY))
        call = Call(tenant, request.path_params, request.query_params, body)
        try:
            status, payload = operation.handler(call)
        except ConfigError as exc:
            raise ManagementBadRequest(_message(exc), code="INVALID_REQUEST") from exc
        return json_response(status, payload)

    return Route(operation.full_path, endpoint, methods=[operation.method], name=operation.name)


def _message(exc: ConfigError) -> str:
    shown = "(missing)" if exc.value is _MISSING else repr(exc.value)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return f"{exc.key} = {shown}: {exc.reason}" if exc.key else exc.reason


async def _raw(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except RequestTooLargeError as exc:
        raise ManagementTooLarge(exc.description) from exc
    except OAuthError as exc:
        raise ManagementBadRequest(exc.description) from exc


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return _MISSING
    try:
        body = json.loads(raw)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    except (ValueError, UnicodeEncodeError) as exc:
        raise ManagementBadRequest("The request body is not valid JSON.") from exc
    except RecursionError as exc:
        raise ManagementBadRequest("The request body is nested too deeply.") from exc
    return body
