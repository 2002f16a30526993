"""The authorization_code grant (user login, with PKCE for public clients).

A code is used once: a second use revokes what the first gave (RFC 6749 4.1.2), its first
access token and the refresh tokens of its family.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.errors import InvalidGrantError
from mockauth.issuance import SignIn, revoke_code_family, user_tokens
from mockauth.oauth.authorize import check_verifier, same_redirect_uri
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form
from mockauth.tokens.sealed import Code

if TYPE_CHECKING:
    from mockauth.tenant.apps import App
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "authorization_code"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the app (spa apps send only their client_id) and redeem the code."""
    app = authenticate(tenant, headers, form, require_secret=False)
    return redeem(tenant, app, form)


def redeem(tenant: Tenant, app: App, form: Form) -> dict[str, Any]:
    """The token response for a code sent by an authenticated app."""
    code = Code.open(tenant.sealer, form.required("code"))
    if code is None:
        raise InvalidGrantError("The authorization code is not one this server issued.")
    if code.client_id != app.client_id:
        raise InvalidGrantError("The authorization code was issued to another client.")
    if code.exp <= tenant.clock() or code.real_exp <= time.time():
        raise InvalidGrantError("The authorization code has expired.")
    if not same_redirect_uri(form.one("redirect_uri") or "", code.redirect_uri):
        raise InvalidGrantError(
            "The redirect_uri does not match the one of the authorization request."
        )
    check_verifier(code.challenge, form.one("code_verifier"))
    if not tenant.store.spend(code.id, code.real_exp):
        revoke_code_family(tenant, code)
        raise InvalidGrantError(
            "The authorization code has already been used; the tokens issued for it are revoked."
        )
    return user_tokens(tenant, app, SignIn.of_code(code), code=code)
