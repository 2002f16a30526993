"""The client_credentials grant (Kinde M2M), exactly as Kinde answers it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.errors import (
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    shown,
)
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form
from mockauth.tenant.config import App

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the M2M app, resolve audiences and scopes, and mint the access token."""
    app = authenticate(tenant, headers, form, require_secret=True)
    if app.type != "m2m":
        raise UnauthorizedClientError(
            f"The client is a {app.type} app and is not authorized to use client_credentials."
        )
    audiences = requested_audiences(form.all("audience"))
    return issue_token(tenant, app, audiences, requested_scope(form.one("scope")))


def issue_token(
    tenant: Tenant, app: App, audiences: list[str], scope: str | None
) -> dict[str, Any]:
    """Mint an M2M access token for an authenticated app; the token endpoint's success body."""
    scopes = granted_scopes(app, audiences, scope)
    lifetime = tenant.config.lifetimes_for(app).access_token
    claims = tenant.tokens.m2m_claims(app, audiences, scopes, lifetime=lifetime)
    return {
        "access_token": tenant.tokens.sign(claims),
        # Kinde answers one second short of the lifetime (86399 for 86400).
        "expires_in": lifetime - 1,
        "scope": claims["scope"],
        "token_type": "bearer",
    }


def requested_audiences(values: list[str]) -> list[str]:
    """Every audience, whether repeated or space-separated, in order and without repeats."""
    audiences = list(dict.fromkeys(a for value in values for a in value.split()))
    if not audiences:
        raise InvalidRequestError("The request is missing the required 'audience' parameter.")
    return audiences


def requested_scope(value: str | None) -> str | None:
    """The ``scope`` parameter as Kinde reads it: empty or blank is the same as absent.

    Kinde's OAuth layer (Ory Fosite) splits ``scope`` and drops empty items, so it cannot
    tell ``scope=`` from no scope; ``@kinde/management-api-js`` always sends ``scope=``.
    """
    return value if value is not None and value.split() else None


def granted_scopes(app: App, audiences: list[str], requested: str | None) -> list[str]:
    """All scopes granted on the audiences, or the requested subset; else an OAuthError."""
    granted: list[str] = []
    for audience in audiences:
        scopes = app.apis.get(audience)
        if scopes is None:
            raise UnauthorizedClientError(
                "The client is not authorized to request a token for the audience "
                f"'{shown(audience)}'."
            )
        granted.extend(s for s in scopes if s not in granted)
    if requested is None:
        return granted
    wanted = list(dict.fromkeys(requested.split()))
    missing = [s for s in wanted if s not in granted]
    if missing:
        raise InvalidScopeError(
            f"The requested scope is invalid, unknown, or malformed: {shown(' '.join(missing))} "
            "is not granted to the client on the requested audience."
        )
    return wanted
