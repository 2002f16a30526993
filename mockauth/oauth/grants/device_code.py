"""The device_code grant (RFC 8628): a device polls until its user has approved it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the device app (client_id alone) and redeem its device code."""
    app = authenticate(tenant, headers, form, require_secret=False)
    return tenant.device.redeem(app, form)
