"""Errors of Kinde's Management API and Account API: rendered by one handler
(``http/answers.management_answer``) as ``{"errors": [{"code", "message"}]}``, Kinde's
error_response."""

from __future__ import annotations

import json

from mockauth.errors import MockAuthError


class ManagementError(MockAuthError):
    """An error of Kinde's Management or Account API, with its wire code and HTTP status."""

    code = "INTERNAL_ERROR"
    status_code = 500
    default_message = "Something went wrong."
    # Kinde's not_found_response holds one error object, not an array.
    as_object = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> bytes:
        error = {"code": self.code, "message": self.message}
        return json.dumps({"errors": error if self.as_object else [error]}).encode()


class ManagementBadRequest(ManagementError):
    code = "INVALID_REQUEST"
    status_code = 400
    default_message = "Invalid request."


class ManagementUnauthorized(ManagementError):
    code = "UNAUTHORIZED"
    status_code = 401
    default_message = "Unauthorized - invalid credentials."


class ManagementForbidden(ManagementError):
    code = "FORBIDDEN"
    status_code = 403
    default_message = "Unauthorized - invalid credentials."


class ManagementNotFound(ManagementError):
    code = "NOT_FOUND"
    status_code = 404
    default_message = "The specified resource was not found"
    as_object = True


class ManagementConflict(ManagementError):
    code = "CONFLICT"
    status_code = 409
    default_message = "The resource already exists."


class ManagementTooLarge(ManagementError):
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413
    default_message = "The request body is too large."


class ManagementThrottled(ManagementError):
    code = "TOO_MANY_REQUESTS"
    status_code = 429
    default_message = "Too many requests. Request was throttled."
