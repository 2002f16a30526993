"""The client_credentials grant (Kinde M2M), exactly as Kinde answers it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.errors import UnauthorizedClientError
from mockauth.issuance import m2m_token
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form, requested_audiences, requested_scope

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "client_credentials"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the M2M app, resolve audiences and scopes, and mint the access token."""
    app = authenticate(tenant, headers, form, require_secret=True)
    if app.type != "m2m":
        raise UnauthorizedClientError(
            f"The client is a {app.type} app and is not authorized to use client_credentials."
        )
    audiences = requested_audiences(form.all("audience"))
    return m2m_token(tenant, app, audiences, requested_scope(form.one("scope")))
