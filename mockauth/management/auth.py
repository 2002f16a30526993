"""Who may call: a bearer access token this server signed, live, for ``<issuer>/api`` (the
Management API) or for a user (the Account API); and the scope each operation needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockauth.management.errors import ManagementForbidden, ManagementUnauthorized
from mockauth.tenant.mgmt_scopes import MANAGEMENT_AUDIENCE_PATH
from mockauth.tenant.tenant import Tenant

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kinde"'}


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ManagementUnauthorized(
            "The request needs the header 'Authorization: Bearer <access token>'.",
            code="TOKEN_MISSING",
            headers=_CHALLENGE,
        )
    return token.strip()


def management_claims(tenant: Tenant, headers: Mapping[str, str]) -> dict[str, Any]:
    """The claims of the request's M2M token for the Management API, or a 401."""
    claims = tenant.access_claims(bearer_token(headers))
    audience = tenant.issuer + MANAGEMENT_AUDIENCE_PATH
    if claims is None:
        raise ManagementUnauthorized(
            "The access token is invalid, expired or revoked.",
            code="TOKEN_INVALID",
            headers=_CHALLENGE,
        )
    aud = claims.get("aud")
    if not isinstance(aud, list) or audience not in aud:
        raise ManagementUnauthorized(
            f"The access token is not for the Management API (its aud must hold {audience}).",
            code="TOKEN_INVALID",
            headers=_CHALLENGE,
        )
    azp = claims.get("azp")
    if not isinstance(azp, str) or tenant.app(azp) is None:
        raise ManagementUnauthorized(
            "The access token's application no longer exists.",
            code="TOKEN_INVALID",
            headers=_CHALLENGE,
        )
    return claims


def require_scope(claims: Mapping[str, Any], scope: str) -> None:
    """A 403 unless the token holds ``scope``."""
    granted = claims.get("scp")
    if not isinstance(granted, list) or scope not in granted:
        raise ManagementForbidden(
            f"The access token lacks the scope {scope!r} this operation needs.",
            code="FORBIDDEN",
        )


def user_claims(tenant: Tenant, headers: Mapping[str, str]) -> dict[str, Any]:
    """The claims of the request's user access token (the Account API), or a 401."""
    claims = tenant.access_claims(bearer_token(headers))
    if claims is None or not isinstance(claims.get("sub"), str):
        raise ManagementUnauthorized(
            "The access token is invalid, expired, revoked, or not a user's.",
            code="TOKEN_INVALID",
            headers=_CHALLENGE,
        )
    return claims
