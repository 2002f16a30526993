"""The exception tree: one root, families below it, data in attributes.

Here: the root, config and store errors, the OAuth protocol errors and the validator's token
errors. The Management and Account APIs' errors (their own wire format) are in
management/errors.py."""

from __future__ import annotations

import json
import re

# RFC 6749 5.2: error_description holds only %x20-21 / %x23-5B / %x5D-7E; descriptions may
# quote what the client sent (an audience, a scope), so anything else becomes '?'.
_NOT_DESCRIPTION_CHAR = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def shown(value: str, limit: int = 200) -> str:
    """A client's value as an error description quotes it: long ones cut short."""
    return value if len(value) <= limit else value[:limit] + "..."


class MockAuthError(Exception):
    """Root of every error mockauth raises on purpose."""


FILE_KEY = "(file)"  # ConfigError's key when the problem is the whole file


class ConfigError(MockAuthError):
    """A config file or value is invalid; the message names the file, key and value."""

    def __init__(self, source: str, key: str, value: object, reason: str) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.reason = reason
        shown = "(missing)" if value is _MISSING else repr(value)
        if key == FILE_KEY:  # the file itself: it is already named
            super().__init__(f"{source}: {reason}")
        else:
            super().__init__(f"{source}: {key} = {shown}: {reason}")


class ConfigConflictError(ConfigError):
    """A well-formed value that clashes with what is already defined: an audience no API
    defines, a second user with one email, a fault id in use. The admin API answers 409 for
    it, keeping 400 for a body its OpenAPI document refuses."""


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


class KeyStoreError(MockAuthError):
    """The keys dir cannot be read or written."""


class StoreError(KeyStoreError):
    """The tenant store (SQLite files in the state dir) cannot be opened or written."""


# --- protocol errors: rendered by one handler as {"error", "error_description"} ---


class OAuthError(MockAuthError):
    """An OAuth 2.0 protocol error with its wire code and HTTP status."""

    error = "server_error"
    status_code = 500
    default_description = "The authorization server encountered an unexpected condition."

    def __init__(self, description: str | None = None, *, headers: dict[str, str] | None = None):
        self.description = description or self.default_description
        self.headers = dict(headers or {})
        super().__init__(f"{self.error}: {self.description}")

    def body(self) -> bytes:
        """The wire body: exactly ``{"error", "error_description"}``."""
        return json.dumps(self.wire_fields()).encode()

    def wire_fields(self) -> dict[str, str]:
        """``error`` and ``error_description``, the latter in RFC 6749's character set."""
        description = _NOT_DESCRIPTION_CHAR.sub("?", self.description)
        return {"error": self.error, "error_description": description}

    def response_headers(self) -> dict[str, str]:
        """Headers of the error answer besides its content type and length."""
        return {**NO_STORE, **self.headers}


class InvalidRequestError(OAuthError):
    error = "invalid_request"
    status_code = 400
    default_description = (
        "The request is missing a required parameter, includes an invalid parameter value, "
        "includes a parameter more than once, or is otherwise malformed."
    )


class InvalidClientError(OAuthError):
    error = "invalid_client"
    status_code = 401
    # Kinde's text, seen word for word on the wire.
    default_description = (
        "Client authentication failed (e.g., unknown client, no client authentication "
        "included, or unsupported authentication method)."
    )


class InvalidGrantError(OAuthError):
    error = "invalid_grant"
    status_code = 400
    default_description = (
        "The provided authorization grant (e.g., authorization code, resource owner "
        "credentials) or refresh token is invalid, expired, revoked, does not match the "
        "redirection URI used in the authorization request, or was issued to another client."
    )


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"
    status_code = 400
    default_description = "The client is not authorized to request a token using this method."


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"
    status_code = 400
    default_description = (
        "The authorization grant type is not supported by the authorization server."
    )


class UnsupportedResponseTypeError(OAuthError):
    error = "unsupported_response_type"
    status_code = 400
    default_description = (
        "The authorization server does not support obtaining an authorization code using "
        "this method: response_type must be code."
    )


class LoginRequiredError(OAuthError):
    """OIDC: the request said prompt=none, but signing in needs the user (a page)."""

    error = "login_required"
    status_code = 400
    default_description = "The authorization server requires end-user authentication."


class AuthorizationPendingError(OAuthError):
    """RFC 8628: the user has not approved the device yet; poll again."""

    error = "authorization_pending"
    status_code = 400
    default_description = "The user has not yet completed the authorization."


class SlowDownError(OAuthError):
    """RFC 8628: the device polls faster than its interval; it must wait 5 s longer."""

    error = "slow_down"
    status_code = 400
    default_description = "The device polls too fast: wait the interval (5 s longer now)."


class ExpiredTokenError(OAuthError):
    """RFC 8628: the device code expired; start again."""

    error = "expired_token"
    status_code = 400
    default_description = "The device code has expired: request a new one."


class DeviceDeniedError(OAuthError):
    """RFC 8628: the user refused the device."""

    error = "access_denied"
    status_code = 400
    default_description = "The user denied the authorization request."


class InvalidScopeError(OAuthError):
    error = "invalid_scope"
    status_code = 400
    default_description = "The requested scope is invalid, unknown, or malformed."


class RequestTooLargeError(OAuthError):
    error = "invalid_request"
    status_code = 413
    default_description = "The request body is too large."


class HeadersTooLargeError(OAuthError):
    error = "invalid_request"
    status_code = 431
    default_description = "The request headers are too large."


class RequestTimeoutError(OAuthError):
    """The client did not send its request in time (the server's head and idle timeouts)."""

    error = "invalid_request"
    status_code = 408
    default_description = "The request did not arrive in time."


class TemporarilyUnavailableError(OAuthError):
    """The server cannot take the request now (RFC 6749's code; its connection cap)."""

    error = "temporarily_unavailable"
    status_code = 503
    default_description = "The server is temporarily unable to handle the request."


class NotFoundError(OAuthError):
    error = "not_found"
    status_code = 404
    default_description = "No such endpoint."


class MethodNotAllowedError(OAuthError):
    error = "invalid_request"
    status_code = 405
    default_description = "The HTTP method is not allowed on this endpoint."


class ServerError(OAuthError):
    """Anything unexpected: rendered without detail, never with a stack trace."""


class InvalidTokenError(OAuthError):
    """Missing or wrong bearer credentials (RFC 6750); the admin API's secret check."""

    error = "invalid_token"
    status_code = 401
    default_description = "The bearer token is missing or wrong."


class AccessDeniedError(OAuthError):
    """The request came from where the admin API does not answer (a web page, a foreign Host),
    or a user cannot sign in as asked."""

    error = "access_denied"
    status_code = 403
    default_description = "The request is not allowed from here."


class ConflictError(OAuthError):
    """A well-formed admin request that clashes with the tenant as it is now (an app granted
    an audience no API defines, a fault id in use): the admin API's answer to a
    ConfigConflictError."""

    error = "conflict"
    status_code = 409
    default_description = "The request conflicts with the server's current state."


# The standard RFC 6749 errors by wire code (fault injection renders them with their texts).
OAUTH_ERRORS: dict[str, type[OAuthError]] = {
    cls.error: cls
    for cls in (
        InvalidRequestError,
        InvalidClientError,
        InvalidGrantError,
        UnauthorizedClientError,
        UnsupportedGrantTypeError,
        InvalidScopeError,
    )
}


# --- token validation errors (the validator raises these) ---


class TokenValidationError(MockAuthError):
    """A token was rejected by the validator."""


class MalformedTokenError(TokenValidationError):
    """Not a three-segment JWS with a JSON header and payload."""


class DisallowedAlgorithmError(TokenValidationError):
    """The header names an algorithm other than RS256 (``none``, HS256, ...)."""

    def __init__(self, message: str, *, algorithm: object) -> None:
        self.algorithm = algorithm
        super().__init__(message)


class UnknownKeyError(TokenValidationError):
    """The header's kid is missing or names no key in the JWKS."""

    def __init__(self, message: str, *, kid: str | None) -> None:
        self.kid = kid
        super().__init__(message)


class InvalidSignatureError(TokenValidationError):
    """The RS256 signature does not verify."""


class InvalidIssuerError(TokenValidationError):
    """``iss`` is not the expected issuer."""

    def __init__(self, message: str, *, expected: str, actual: object) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class InvalidAudienceError(TokenValidationError):
    """``aud`` does not contain the expected audience."""

    def __init__(self, message: str, *, expected: str, actual: object) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class TokenExpiredError(TokenValidationError):
    """``exp`` (plus leeway) has passed."""

    def __init__(self, message: str, *, expired_at: int) -> None:
        self.expired_at = expired_at
        super().__init__(message)


class TokenNotYetValidError(TokenValidationError):
    """``nbf`` or ``iat`` lies in the future (beyond the leeway)."""

    def __init__(self, message: str, *, valid_from: int) -> None:
        self.valid_from = valid_from
        super().__init__(message)


class _InsufficientError(TokenValidationError):
    """The token lacks some of what is required: ``.required``, ``.granted``, ``.missing``."""

    def __init__(
        self, message: str, *, required: tuple[str, ...], granted: tuple[str, ...]
    ) -> None:
        self.required = required
        self.granted = granted
        self.missing = tuple(s for s in required if s not in granted)
        super().__init__(message)


class InsufficientScopeError(_InsufficientError):
    """The token lacks required scopes."""


class InsufficientPermissionError(_InsufficientError):
    """The token lacks required permissions (the ``permissions`` claim of a user's token)."""


class KeySetUnavailableError(UnknownKeyError):
    """The kid is not among the keys held and the key set could not be fetched.

    A subclass of UnknownKeyError (the token cannot be checked either way), kept apart so
    an API can answer 503 while its JWKS host is down instead of blaming the client's token.
    """

    def __init__(self, message: str, *, kid: str | None, source: str) -> None:
        self.source = source
        super().__init__(message, kid=kid)
