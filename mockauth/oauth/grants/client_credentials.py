"""The client_credentials grant (Kinde M2M), exactly as Kinde answers it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.errors import UnauthorizedClientError
from mockauth.issuance import m2m_token
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form, requested_audiences, requested_scope
from mockauth.tenant.mgmt_scopes import MANAGEMENT_AUDIENCE_PATH

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "client_credentials"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the M2M app, resolve audiences and scopes, and mint the access token."""
    app = authenticate(tenant, headers, form, require_secret=True)
    audiences = requested_audiences(form.all("audience"))
    # Kinde lets a back-end web app granted the Management API fetch a token for it alone
    # (the Next.js SDK's createKindeManagementAPIClient uses the app's own credentials).
    management = tenant.issuer + MANAGEMENT_AUDIENCE_PATH
    for_management = app.type == "regular" and audiences == [management]
    if app.type != "m2m" and not (for_management and management in app.apis):
        raise UnauthorizedClientError(
            f"The client is a {app.type} app and is not authorized to use client_credentials."
        )
    return m2m_token(tenant, app, audiences, requested_scope(form.one("scope")))
