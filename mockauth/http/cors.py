"""CORS, as Kinde's browser SDKs need it.

A page calls the token endpoint, the user profile, revocation, the device endpoint and the
Account API from its own origin, and discovery and JWKS to find the keys. An app's origins
(those of its callbacks and logout URLs, and its ``allowed_origins``) may call what concerns
that app, with credentials; any origin may read the public documents. Another origin gets
no CORS headers, so the browser keeps the answer from the page, and the journal says why.

``preflight`` answers ``OPTIONS`` inside the stack (journaled, faults apply like anywhere);
``CorsHeaders`` sits outside everything and adds the headers to every other answer of a
browser path, fault answers included, so a page sees the error it is being tested with.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockauth import paths
from mockauth.errors import AccessDeniedError
from mockauth.http.answers import Answer, error_answer
from mockauth.tenant.journal import note, remembered
from mockauth.tenant.tenant import Tenant

# Paths a page may call; the public documents answer any origin.
PUBLIC = frozenset({paths.DISCOVERY, paths.JWKS, paths.JWKS_JSON})
BROWSER = PUBLIC | frozenset(
    {
        paths.TOKEN,
        paths.USERINFO,
        paths.USERINFO_V1,
        paths.REVOKE,
        paths.INTROSPECT,
        paths.LOGOUT,
        paths.DEVICE_AUTH,
    }
)
BROWSER_PREFIXES = (paths.ACCOUNT_API + "/",)
# What a page may send besides the CORS-safelisted headers; Kinde's SDKs send Kinde-SDK.
ALLOWED_HEADERS = ("authorization", "content-type", "kinde-sdk", "accept", "x-requested-with")
METHODS = b"GET, POST, OPTIONS"
MAX_AGE = b"600"  # seconds a browser keeps a preflight (Chromium caps it at 7200)


def is_browser_path(path: str) -> bool:
    return path in BROWSER or path.startswith(BROWSER_PREFIXES)


def origin_of_request(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return bytes(value).decode("latin-1")
    return None


def allows(tenant: Tenant, origin: str, client_id: str | None, path: str) -> tuple[bool, bool, str]:
    """Whether ``origin`` may read this answer, whether with credentials, and if not, why.

    ``client_id``: the app the request concerns, when it named one."""
    app = tenant.app(client_id) if client_id else None
    if app is not None:
        if origin in app.origins:
            return True, True, ""
        why = (
            f"cors: origin {origin} is not one of app {app.client_id}'s origins (its callbacks, "
            "logout URLs and allowed_origins)"
        )
        return path in PUBLIC, False, "" if path in PUBLIC else why
    if any(origin in a.origins for a in tenant.config.apps):
        return True, True, ""
    if path in PUBLIC:
        return True, False, ""
    return False, False, f"cors: origin {origin} is not an origin of any app"


def preflight(tenant: Tenant, scope: Scope) -> Answer | None:
    """The answer to a CORS preflight of a browser path, or None if this is not one."""
    headers = dict(scope.get("headers", ()))
    origin = headers.get(b"origin")
    if (
        scope["method"] != "OPTIONS"
        or origin is None
        or b"access-control-request-method" not in headers
        or not is_browser_path(scope["path"])
    ):
        return None
    ok, credentials, why = allows(tenant, origin.decode("latin-1"), None, scope["path"])
    requested = _requested_headers(headers.get(b"access-control-request-headers", b""))
    refused = [h for h in requested if h not in ALLOWED_HEADERS]
    if refused and ok:
        ok, why = False, f"cors: the header {refused[0]} may not be sent"
    if not ok:
        note(scope, why)
        return error_answer(AccessDeniedError(why.removeprefix("cors: ").capitalize() + "."))
    raw = _allow(origin, credentials)
    raw += [
        (b"vary", b"Origin"),
        (b"access-control-allow-methods", METHODS),
        (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
        (b"access-control-max-age", MAX_AGE),
        (b"content-length", b"0"),
    ]
    return Answer(204, raw, b"")


class CorsHeaders:
    """Adds CORS headers to the answers of browser paths for origins that may read them."""

    def __init__(self, app: ASGIApp, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = origin_of_request(scope) if scope["type"] == "http" else None
        if origin is None or scope["method"] == "OPTIONS" or not is_browser_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                summary = remembered(scope)
                client_id = summary.client_id if summary is not None else None
                ok, credentials, why = allows(self.tenant, origin, client_id, scope["path"])
                headers = list(message.get("headers", []))
                headers.append((b"vary", b"Origin"))
                if ok:
                    headers += _allow(origin.encode("latin-1"), credentials)
                else:
                    note(scope, why)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _allow(origin: bytes, credentials: bool) -> list[tuple[bytes, bytes]]:
    raw = [(b"access-control-allow-origin", origin if credentials else b"*")]
    if credentials:
        raw.append((b"access-control-allow-credentials", b"true"))
    return raw


def _requested_headers(value: bytes) -> Iterable[str]:
    return [h.strip().lower() for h in value.decode("latin-1").split(",") if h.strip()]
