"""Client authentication: client_secret_post, client_secret_basic, or public clients."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.datastructures import Headers

from mockauth.errors import InvalidClientError, InvalidRequestError
from mockauth.oauth.params import Form, parse_basic
from mockauth.tenant.apps import App

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mockauth"'}
# Compared against when the client is unknown, so timing does not reveal which ids exist.
_DUMMY_SECRET = b"0" * 50


def authenticate(tenant: Tenant, headers: Headers, form: Form, *, require_secret: bool) -> App:
    """Return the authenticated app, or raise invalid_client / invalid_request."""
    basic = _basic_credentials(headers)
    body_id, body_secret = form.one("client_id"), form.one("client_secret")
    challenge = BASIC_CHALLENGE if basic else None
    client_id: str | None
    secret: str | None
    if basic is not None:
        if body_id is not None and body_id != basic[0]:
            raise InvalidRequestError("The client_id in the body differs from the HTTP Basic one.")
        if body_secret is not None and body_secret != basic[1]:
            raise InvalidRequestError(
                "Client credentials were sent both as HTTP Basic and in the body."
            )
        client_id, secret = basic[0], basic[1]
    else:
        client_id, secret = body_id, body_secret
    if not client_id:
        if basic is None:  # Fosite (Kinde's OAuth layer): no credentials is invalid_request
            raise InvalidRequestError(
                "Client credentials missing or malformed in both HTTP Authorization header "
                "and HTTP POST body."
            )
        raise InvalidClientError(headers=challenge)
    app = tenant.app(client_id)
    expected = app.client_secret.encode() if app and app.client_secret else _DUMMY_SECRET
    given = (secret or "").encode("utf-8", "surrogatepass")
    matches = hmac.compare_digest(given, expected)
    if app is None:
        raise InvalidClientError(headers=challenge)
    if app.client_secret is None:
        if secret or require_secret:
            raise InvalidClientError(headers=challenge)
        return app
    if not matches:
        raise InvalidClientError(headers=challenge)
    return app


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    try:
        return parse_basic(headers.get("authorization", ""))
    except ValueError as exc:
        raise InvalidClientError(headers=BASIC_CHALLENGE) from exc
