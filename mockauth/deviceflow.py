"""The device authorization flow (RFC 8628), as Kinde serves it for "Device and IoT" apps.

A device asks ``/oauth2/device/auth`` for a device code and a user code, and polls the
token endpoint; the user opens ``/device?user_code=...`` in a browser, which signs them in
(``login_hint``, else the first user; ``deny=1`` refuses instead) and approves the device.
The device code is sealed; the approval is a note in the spent store, so any worker sees it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mockauth.authrequest import OIDC_SCOPES, shown
from mockauth.config import App
from mockauth.errors import (
    AuthorizationPendingError,
    DeviceDeniedError,
    ExpiredTokenError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from mockauth.forms import Form

if TYPE_CHECKING:
    from mockauth.userflow import UserLogin

DEVICE_CODE_LIFETIME = 600  # seconds, as Kinde's docs show
POLL_INTERVAL = 5
DEVICE_CODE_PREFIX = "kinde_dc_"
# RFC 8628 6.1: consonants only, so no word is spelled and none is mistaken for another.
_USER_CODE_CHARS = "BCDFGHJKLMNPQRSTVWXZ"
_DEVICE = "device"
_DENIED = "denied"


class DeviceFlow:
    """Device codes for one tenant, on top of its user login."""

    def __init__(self, login: UserLogin) -> None:
        self._login = login

    def start(self, app: App, form: Form, verification_uri: str) -> dict[str, Any]:
        """The device authorization response for an app of type ``device``."""
        if app.type != "device":
            raise UnauthorizedClientError(
                f"The client is a {app.type} app; the device flow is for device apps."
            )
        audiences = list(dict.fromkeys(a for v in form.all("audience") for a in v.split()))
        for audience in audiences:
            if audience not in app.apis:
                raise UnauthorizedClientError(
                    f"The client is not authorized for the audience {shown(audience)!r}."
                )
        scope = form.one("scope") or "openid profile email offline"
        scopes = [s for s in dict.fromkeys(scope.split()) if s in OIDC_SCOPES]
        user_code = "".join(secrets.choice(_USER_CODE_CHARS) for _ in range(8))
        now, real = self._login.tenant.clock(), int(time.time())
        payload: dict[str, Any] = {
            "id": secrets.token_urlsafe(16),
            "c": app.client_id,
            "s": scopes,
            "a": audiences,
            "exp": now + DEVICE_CODE_LIFETIME,
            "rx": real + DEVICE_CODE_LIFETIME,
        }
        device_code = DEVICE_CODE_PREFIX + self._login.sealer.seal(_DEVICE, payload)
        self._login.spent.note(_user_code_key(user_code), device_code, payload["rx"])
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
            "expires_in": DEVICE_CODE_LIFETIME,
            "interval": POLL_INTERVAL,
        }

    def approve(self, user_code: str, login_hint: str | None, *, deny: bool) -> str:
        """Sign a user in for the device behind ``user_code`` (or refuse it); their name."""
        code = user_code.strip().upper().replace("-", "")
        device_code = self._login.spent.note_of(_user_code_key(code)) if _ok(code) else None
        grant = self._open(device_code) if device_code else None
        if grant is None:
            raise InvalidRequestError("No device is waiting for this user code, or it expired.")
        if deny:
            self._login.spent.note(_approval_key(grant), _DENIED, grant["rx"])
            return ""
        user = self._login.signed_in_user(login_hint)
        org = self._login.org_for(user, None)
        decision = f"{user.id} {org.code if org else '-'} {self._login.tenant.clock()}"
        self._login.spent.note(_approval_key(grant), decision, grant["rx"])
        return user.name or user.email

    def redeem(self, app: App, form: Form) -> dict[str, Any]:
        """The device_code grant: pending, denied, expired, or the user's tokens (once)."""
        grant = self._open(form.required("device_code"))
        if grant is None:
            raise InvalidGrantError("The device code is not one this server issued.")
        if grant["c"] != app.client_id:
            raise InvalidGrantError("The device code was issued to another client.")
        if grant["exp"] <= self._login.tenant.clock() or grant["rx"] <= time.time():
            raise ExpiredTokenError()
        decision = self._login.spent.note_of(_approval_key(grant))
        if decision is None:
            raise AuthorizationPendingError()
        if decision == _DENIED:
            raise DeviceDeniedError()
        if not self._login.spent.spend(grant["id"], grant["rx"]):
            raise InvalidGrantError("The device code has already been used.")
        user_id, org, signed_in = decision.split(" ")
        session: Mapping[str, Any] = {
            **{k: grant[k] for k in ("c", "s", "a")},
            "u": user_id,
            "o": None if org == "-" else org,
            "n": None,
            "t": int(signed_in),
            "f": grant["id"],
        }
        return self._login.tokens_for(app, session, previous=None)

    def _open(self, device_code: str) -> dict[str, Any] | None:
        if not device_code.startswith(DEVICE_CODE_PREFIX):
            return None
        grant = self._login.sealer.open(_DEVICE, device_code.removeprefix(DEVICE_CODE_PREFIX))
        shape = {"id": str, "c": str, "s": list, "a": list, "exp": int, "rx": int}
        if grant is None or any(not isinstance(grant.get(k), t) for k, t in shape.items()):
            return None
        return grant


def _ok(user_code: str) -> bool:
    return len(user_code) == 8 and all(c in _USER_CODE_CHARS for c in user_code)


def _user_code_key(user_code: str) -> str:
    return "user_code_" + user_code


def _approval_key(grant: Mapping[str, Any]) -> str:
    return "device_" + str(grant["id"])
