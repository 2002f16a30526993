"""The device authorization flow (RFC 8628), as Kinde serves it for "Device and IoT" apps.

A device asks ``/oauth2/device/auth`` for a device code and a user code, and polls the
token endpoint; the user opens ``/device?user_code=...`` in a browser, which signs them in
(``login_hint``, else the first user; ``deny=1`` refuses instead) and approves the device,
once: a decision cannot be changed.
The device code is sealed; the approval is a note in the spent store, so any worker sees it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mockauth.errors import (
    AuthorizationPendingError,
    DeviceDeniedError,
    ExpiredTokenError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
    shown,
)
from mockauth.oauth.authorize import OIDC_SCOPES
from mockauth.oauth.params import Form
from mockauth.tenant.config import App

if TYPE_CHECKING:
    from mockauth.oauth.userflow import UserLogin

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
        # What the /device page needs to find it; not the device code, which is a credential.
        found = {k: payload[k] for k in ("id", "c", "exp", "rx")}
        self._login.spent.note(_user_code_key(user_code), json.dumps(found), payload["rx"])
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
            "expires_in": DEVICE_CODE_LIFETIME,
            "interval": POLL_INTERVAL,
        }

    def waiting(self, user_code: str) -> dict[str, Any]:
        """The device waiting for ``user_code`` (typed as a person types it), or a 400."""
        code = user_code.strip().upper().replace("-", "")
        found = self._login.spent.note_of(_user_code_key(code)) if _ok(code) else None
        try:
            device = json.loads(found) if found else None
        except ValueError:
            device = None
        if not isinstance(device, dict) or not all(k in device for k in ("id", "exp", "rx")):
            raise InvalidRequestError("No device is waiting for this user code.")
        if device["exp"] <= self._login.tenant.clock() or device["rx"] <= time.time():
            raise InvalidRequestError("This user code has expired: start again on the device.")
        return device

    def decide(self, device: Mapping[str, Any], login_hint: str | None, *, deny: bool) -> str:
        """Sign a user in for the device and connect it, or refuse it: once only. Returns
        the name of who signed in."""
        user = None if deny else self._login.signed_in_user(login_hint)
        if not self._login.spent.spend(_decided_key(device), device["rx"]):
            raise InvalidRequestError("This device was already approved or refused.")
        if user is None:
            self._login.spent.note(_approval_key(device), _DENIED, device["rx"])
            return ""
        org = self._login.org_for(user, None)
        decision = f"{user.id} {org.code if org else '-'} {self._login.tenant.clock()}"
        self._login.spent.note(_approval_key(device), decision, device["rx"])
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


def _decided_key(grant: Mapping[str, Any]) -> str:
    return "decided_" + str(grant["id"])
