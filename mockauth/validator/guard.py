"""Starlette / FastAPI integration: guard an endpoint with a TokenValidator and scopes.

Failures become starlette HTTPExceptions carrying RFC 6750 ``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mockauth.errors import (
    InsufficientPermissionError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    KeySetUnavailableError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
)
from mockauth.validator.validator import TokenClaims, TokenValidator

_DESCRIPTIONS: Mapping[type[TokenValidationError], str] = {
    TokenExpiredError: "The access token expired",
    TokenNotYetValidError: "The access token is not valid yet",
    InvalidAudienceError: "The access token is not meant for this API",
    InvalidIssuerError: "The access token comes from another issuer",
}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class ScopeGuard:
    """An endpoint guard from ``requires_scopes``: a dependency and a decorator.

    As a dependency (Starlette or FastAPI): ``claims = await guard(request)``, or in
    FastAPI ``claims: TokenClaims = Depends(guard)``. As a decorator of a Starlette
    endpoint: ``@guard.protect`` on ``async def endpoint(request, claims)``.
    Failures raise starlette's HTTPException, which both frameworks render with its headers:
    401 ``WWW-Authenticate: Bearer`` without a token, 401 ``error="invalid_token"`` for a bad
    one, 403 ``error="insufficient_scope" scope="..."`` for missing scopes (RFC 6750), and
    503 while the key set cannot be fetched and the token's kid is not held.
    """

    def __init__(
        self,
        validator: TokenValidator,
        scopes: tuple[str, ...],
        permissions: tuple[str, ...] = (),
    ) -> None:
        self.validator = validator
        self.scopes = scopes
        self.permissions = permissions

    async def __call__(self, request: Request) -> TokenClaims:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise HTTPException(401, "Bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            return await self.validator.validate_async(
                token, self.scopes, required_permissions=self.permissions
            )
        except InsufficientPermissionError as exc:
            # RFC 6750 has one 403 code; Kinde puts a user's rights in permissions.
            challenge = (
                'Bearer error="insufficient_scope", '
                'error_description="The access token lacks a required permission"'
            )
            raise HTTPException(403, str(exc), {"WWW-Authenticate": challenge}) from exc
        except InsufficientScopeError as exc:
            challenge = (
                'Bearer error="insufficient_scope", '
                'error_description="The access token lacks a required scope", '
                f'scope="{" ".join(self.scopes)}"'
            )
            raise HTTPException(403, str(exc), {"WWW-Authenticate": challenge}) from exc
        except KeySetUnavailableError as exc:
            raise HTTPException(503, "Token keys are unavailable; try again later") from exc
        except TokenValidationError as exc:
            text = _DESCRIPTIONS.get(type(exc), "The access token is invalid")
            challenge = f'Bearer error="invalid_token", error_description="{text}"'
            raise HTTPException(401, text, {"WWW-Authenticate": challenge}) from exc

    def protect(
        self, endpoint: Callable[[Request, TokenClaims], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Decorate ``endpoint(request, claims)`` into a Starlette endpoint ``(request)``."""
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{endpoint!r} must be an async def endpoint")

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            return await endpoint(request, await self(request))

        return guarded


def requires_scopes(
    validator: TokenValidator,
    *scopes: str | Iterable[str],
    permissions: str | Iterable[str] = (),
) -> ScopeGuard:
    """Guard an endpoint: a valid bearer token granting every one of ``scopes`` and, for
    a user's token, every one of ``permissions`` (Kinde's ``permissions`` claim).

    Scopes may be given as arguments, space-separated strings or lists, as ``validate``
    takes them: ``requires_scopes(v, "read:calendar update:event")`` needs both;
    ``requires_scopes(v, permissions="read:calendar")`` needs a user allowed to read.

    >>> read_calendar = requires_scopes(validator, "read:calendar")
    >>> @read_calendar.protect
    ... async def events(request: Request, claims: TokenClaims) -> Response: ...
    """
    flat: list[str] = []
    for item in scopes:
        parts = item.split() if isinstance(item, str) else list(item)
        if not all(isinstance(p, str) for p in parts):
            raise TypeError(f"scopes must be strings: {item!r}")
        flat.extend(p for p in parts if p not in flat)
    wanted = permissions.split() if isinstance(permissions, str) else list(permissions)
    if not all(isinstance(p, str) for p in wanted):
        raise TypeError(f"permissions must be strings: {permissions!r}")
    return ScopeGuard(validator, tuple(flat), tuple(dict.fromkeys(wanted)))
