"""The authorization_code grant (user login, with PKCE for public clients)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the app (spa apps send only their client_id) and redeem the code."""
    app = authenticate(tenant, headers, form, require_secret=False)
    return tenant.login.redeem_code(app, form)
