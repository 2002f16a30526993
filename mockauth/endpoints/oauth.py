"""The token endpoint: it dispatches to the GRANTS table."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from mockauth.errors import (
    NO_STORE,
    InvalidRequestError,
    UnsupportedGrantTypeError,
)
from mockauth.forms import Form, read_form
from mockauth.grants import GRANTS
from mockauth.journal import remember_form
from mockauth.state import Tenant


async def token(request: Request) -> Response:
    form = await read_form(request)
    remember_form(request.scope, form.fields)
    body = token_body(request.app.state.tenant, form, request.headers)
    return Response(body, media_type="application/json", headers=NO_STORE)


def token_body(tenant: Tenant, form: Form, headers: Headers) -> bytes:
    """The token endpoint's 200 body for a parsed form, or an OAuthError.

    Shared by the ASGI endpoint and the protocol's fast path (fastpath.py).
    """
    tenant.keys.refresh()  # another worker may have rotated the keys (one stat when not)
    grant_type = form.one("grant_type")
    if not grant_type:
        raise InvalidRequestError("The request is missing the required 'grant_type' parameter.")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError()
    return json.dumps(handler(tenant, form, headers)).encode()
