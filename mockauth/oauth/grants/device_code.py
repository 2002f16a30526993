"""The device authorization flow (RFC 8628), as Kinde serves it for "Device and IoT" apps.

A device asks ``/oauth2/device/auth`` for a device code and a user code (``start``), and
polls the token endpoint (``grant``); the user opens ``/device?user_code=...`` in a browser
(``waiting``), which signs them in (``login_hint``, else the first user; ``deny=1`` refuses
instead) and approves the device, once (``decide``): a decision cannot be changed. The
device code is sealed; the approval is a note in the store, so any worker sees it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import segno
from starlette.datastructures import Headers

from mockauth.errors import (
    AuthorizationPendingError,
    DeviceDeniedError,
    ExpiredTokenError,
    InvalidGrantError,
    InvalidRequestError,
    SlowDownError,
    UnauthorizedClientError,
    shown,
)
from mockauth.issuance import SignIn, user_tokens
from mockauth.oauth.authorize import OIDC_SCOPES
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form
from mockauth.oauth.signin import org_for, signed_in_user
from mockauth.tokens.sealed import DeviceCode

if TYPE_CHECKING:
    from mockauth.tenant.apps import App
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_CODE_LIFETIME = 600  # seconds, as Kinde's docs show
POLL_INTERVAL = 5
DEVICE_CODE_PREFIX = "kinde_dc_"
# RFC 8628 6.1: consonants only, so no word is spelled and none is mistaken for another.
_USER_CODE_CHARS = "BCDFGHJKLMNPQRSTVWXZ"
_DENIED = "denied"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the device app (client_id alone) and redeem its device code."""
    app = authenticate(tenant, headers, form, require_secret=False)
    return redeem(tenant, app, form)


def start(tenant: Tenant, app: App, form: Form, verification_uri: str) -> dict[str, Any]:
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
    now, real = tenant.clock(), int(time.time())
    device = DeviceCode(
        id=secrets.token_urlsafe(16),
        client_id=app.client_id,
        scopes=tuple(s for s in dict.fromkeys(scope.split()) if s in OIDC_SCOPES),
        audiences=tuple(audiences),
        exp=now + DEVICE_CODE_LIFETIME,
        real_exp=real + DEVICE_CODE_LIFETIME,
    )
    user_code = "".join(secrets.choice(_USER_CODE_CHARS) for _ in range(8))
    # What the /device page needs to find it; not the device code, which is a credential.
    found = {"id": device.id, "c": device.client_id, "exp": device.exp, "rx": device.real_exp}
    tenant.store.note(_user_code_key(user_code), json.dumps(found), device.real_exp)
    complete = f"{verification_uri}?user_code={user_code}"
    return {
        "device_code": DEVICE_CODE_PREFIX + device.seal(tenant.sealer),
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": DEVICE_CODE_LIFETIME,
        "interval": POLL_INTERVAL,
        # As Kinde's: a QR code of the complete URI, for a phone to open (a data URL).
        "qr_code": segno.make(complete, error="m").png_data_uri(scale=4, border=2),
    }


def waiting(tenant: Tenant, user_code: str) -> dict[str, Any]:
    """The device waiting for ``user_code`` (typed as a person types it), or a 400."""
    code = user_code.strip().upper().replace("-", "")
    found = tenant.store.note_of(_user_code_key(code)) if _well_formed(code) else None
    try:
        device = json.loads(found) if found else None
    except ValueError:
        device = None
    if not isinstance(device, dict) or not all(k in device for k in ("id", "exp", "rx")):
        raise InvalidRequestError("No device is waiting for this user code.")
    if device["exp"] <= tenant.clock() or device["rx"] <= time.time():
        raise InvalidRequestError("This user code has expired: start again on the device.")
    return device


def decide(tenant: Tenant, device: Mapping[str, Any], login_hint: str | None, *, deny: bool) -> str:
    """Sign a user in for the device and connect it, or refuse it: once only. Returns the
    name of who signed in."""
    user = None if deny else signed_in_user(tenant, login_hint)
    if not tenant.store.spend(_decided_key(device["id"]), device["rx"]):
        raise InvalidRequestError("This device was already approved or refused.")
    if user is None:
        tenant.store.note(_approval_key(device["id"]), _DENIED, device["rx"])
        return ""
    org = org_for(tenant, user, None)
    decision = f"{user.id} {org.code if org else '-'} {tenant.clock()}"
    tenant.store.note(_approval_key(device["id"]), decision, device["rx"])
    return user.name or user.email


def redeem(tenant: Tenant, app: App, form: Form) -> dict[str, Any]:
    """The device_code grant: pending, denied, expired, or the user's tokens (once)."""
    sent = form.required("device_code")
    device = None
    if sent.startswith(DEVICE_CODE_PREFIX):
        device = DeviceCode.open(tenant.sealer, sent.removeprefix(DEVICE_CODE_PREFIX))
    if device is None:
        raise InvalidGrantError("The device code is not one this server issued.")
    if device.client_id != app.client_id:
        raise InvalidGrantError("The device code was issued to another client.")
    if device.exp <= tenant.clock() or device.real_exp <= time.time():
        raise ExpiredTokenError()
    decision = tenant.store.note_of(_approval_key(device.id))
    if decision is None:
        _check_pace(tenant, device)
        raise AuthorizationPendingError()
    if decision == _DENIED:
        raise DeviceDeniedError()
    if not tenant.store.spend(device.id, device.real_exp):
        raise InvalidGrantError("The device code has already been used.")
    user_id, org, signed_in = decision.split(" ")
    sign_in = SignIn(
        client_id=device.client_id,
        user_id=user_id,
        org_code=None if org == "-" else org,
        scopes=device.scopes,
        audiences=device.audiences,
        nonce=None,
        auth_time=int(signed_in),
        family=device.id,
    )
    return user_tokens(tenant, app, sign_in)


def _check_pace(tenant: Tenant, device: DeviceCode) -> None:
    """RFC 8628 3.5: a device that polls faster than its interval gets slow_down, and its
    interval grows by 5 s for good. Timed on the tenant's clock, which tests can move."""
    key = "poll_" + device.id
    last, _, interval = (tenant.store.note_of(key) or "").partition(" ")
    now = tenant.clock()
    wait = int(interval) if interval.isdigit() else POLL_INTERVAL
    if last.isdigit() and now - int(last) < wait:
        tenant.store.note(key, f"{now} {wait + 5}", device.real_exp)
        raise SlowDownError(f"Poll at most every {wait + 5} seconds.")
    tenant.store.note(key, f"{now} {wait}", device.real_exp)


def _well_formed(user_code: str) -> bool:
    return len(user_code) == 8 and all(c in _USER_CODE_CHARS for c in user_code)


def _user_code_key(user_code: str) -> str:
    return "user_code_" + user_code


def _approval_key(device_id: str) -> str:
    return "device_" + device_id


def _decided_key(device_id: str) -> str:
    return "decided_" + device_id
