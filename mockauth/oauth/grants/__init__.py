"""Grant handlers behind one table: a new grant is one module and one entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.oauth.grants import authorization_code, client_credentials, device_code, refresh_token
from mockauth.oauth.params import Form

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

GrantHandler = Callable[["Tenant", Form, Headers], dict[str, Any]]

GRANTS: Mapping[str, GrantHandler] = {
    module.GRANT_TYPE: module.grant
    for module in (authorization_code, client_credentials, refresh_token, device_code)
}

__all__ = ["GRANTS", "GrantHandler"]
