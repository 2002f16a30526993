"""OAuth endpoints: the token endpoint dispatches to the GRANTS table."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from mockauth.errors import InvalidRequestError, UnsupportedGrantTypeError
from mockauth.forms import read_form
from mockauth.grants import GRANTS
from mockauth.journal import remember_form
from mockauth.state import Tenant

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token(request: Request) -> Response:
    tenant: Tenant = request.app.state.tenant
    form = await read_form(request)
    remember_form(request.scope, form.fields)
    tenant.keys.refresh()  # another worker may have rotated the keys (one stat when not)
    grant_type = form.one("grant_type")
    if not grant_type:
        raise InvalidRequestError("The request is missing the required 'grant_type' parameter.")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError()
    body = handler(tenant, form, request.headers)
    return Response(json.dumps(body), media_type="application/json", headers=NO_STORE)
