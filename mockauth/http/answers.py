"""Answers as bytes: the hot routes (token, JWKS, discovery) and every error.

The ASGI app sends them and the fast transport (fast.py) writes them, built by the same
functions here, so the two paths cannot drift apart: ``error_answer`` is the one place an
OAuthError becomes a response, ``HotAnswers`` the one place the hot routes are answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from mockauth import paths
from mockauth.errors import NO_STORE, KeyStoreError, OAuthError, ServerError
from mockauth.management.errors import ManagementError
from mockauth.oauth.endpoints import token_body
from mockauth.oauth.grants import GRANTS
from mockauth.oauth.params import Form, parse_form, summarize
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.tenant import Tenant

log = logging.getLogger("mockauth")
RawHeaders = list[tuple[bytes, bytes]]
_JSON = b"application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, headers (length and type included) and body."""

    status: int
    headers: RawHeaders
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send it as an ASGI app would."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def json_answer(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
    """A JSON answer with the headers Starlette's ``Response(body, media_type=
    "application/json", headers=headers)`` sends: the given ones lowercased, then length
    and type."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    raw.append((b"content-length", str(len(body)).encode()))
    raw.append((b"content-type", _JSON))
    return Answer(status, raw, body)


def error_answer(exc: OAuthError) -> Answer:
    """An OAuthError as Kinde answers one: ``{"error", "error_description"}``, no-store."""
    return json_answer(exc.status_code, exc.body(), exc.response_headers())


def management_answer(exc: ManagementError) -> Answer:
    """A Management or Account API error as Kinde answers one: ``{"errors": [{"code",
    "message"}]}`` (an object for 404s, as Kinde's not_found_response)."""
    return json_answer(exc.status_code, exc.body(), {**NO_STORE, **exc.headers})


def unexpected_answer(method: str, path: str, exc: Exception) -> Answer:
    """The last resort: a 500 without detail, and the error in the server's log. A state
    dir that cannot be written is named, with what to do about it."""
    if isinstance(exc, KeyStoreError):
        log.error("mockauth: %s %s: %s", method, path, exc)
        return error_answer(ServerError(f"The server cannot use its state dir: {exc}"))
    log.error("unhandled error on %s %s: %r", method, path, exc)
    return error_answer(ServerError())


class HotAnswers:
    """The answers of one tenant's hot routes; JWKS and discovery bodies are built once
    (per key change, per issuer)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._discovery = json_answer(200, _discovery_bytes(tenant.issuer))
        self._jwks_body = b""
        self._jwks = json_answer(200, b"")

    def token(
        self, headers: RawHeaders, body: bytes, refresh_cookie: str | None = None
    ) -> tuple[Answer, RequestSummary | None]:
        """The token endpoint's answer to a whole request, and what the journal keeps of it.

        ``refresh_cookie``: a browser's refresh token cookie, used when a refresh sends none
        (Kinde's JS SDKs in cookie mode)."""
        fields = None
        try:
            form = parse_form(body, _header(headers, b"content-type"))
            refreshing = form.one("grant_type") == "refresh_token"
            if refresh_cookie and refreshing and form.one("refresh_token") is None:
                form = Form((*form.fields, ("refresh_token", refresh_cookie)))
            fields = summarize(paths.TOKEN, form.fields, headers)
            payload = token_body(self.tenant, form, Headers(raw=headers))
        except OAuthError as exc:
            return error_answer(exc), fields
        except Exception as exc:  # what the app's last-resort handler does
            return unexpected_answer("POST", paths.TOKEN, exc), fields
        return json_answer(200, payload, NO_STORE), fields

    def jwks(self) -> Answer:
        """The JWKS of the keys as they are now."""
        keys = self.tenant.keys
        keys.refresh()  # another worker may have rotated the keys (one stat when not)
        body = keys.jwks_bytes()
        if body is not self._jwks_body:
            self._jwks = json_answer(200, body)
            self._jwks_body = body
        return self._jwks

    def discovery(self) -> Answer:
        return self._discovery


def _discovery_bytes(issuer: str) -> bytes:
    return json.dumps(paths.discovery_document(issuer, GRANTS)).encode()


def _header(headers: RawHeaders, name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""
