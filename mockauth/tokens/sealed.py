"""Sealed grants: authorization codes, refresh tokens and device codes that carry their own
state, as frozen dataclasses.

A sealed value is its fields as compact JSON, encrypted and authenticated with AES-GCM under
a secret kept in the keys dir (``seal.key``, mode 0600), for one purpose (a code never
passes as a refresh token). Any worker process can redeem what another issued, and refresh
tokens survive a restart, as the signing keys do. What must be remembered (a code already
used, a refresh family's turn, a token revoked) is kept in the tenant's store.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mockauth.errors import KeyStoreError
from mockauth.statedir import read_state_file
from mockauth.tokens.encoding import b64url
from mockauth.tokens.keys import atomic_write, dir_lock

SEAL_KEY_FILE = "seal.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Anything longer did not come from us: a token request's whole body is capped at 64 KiB.
MAX_SEALED = 64 * 1024


def load_seal_key(keys_dir: Path | None) -> bytes:
    """The keys dir's sealing secret, made on first use; a fresh one without a keys dir.

    Reading an existing one needs no write access (it is written in one step, so no lock).
    """
    if keys_dir is None:
        return AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
    path = keys_dir / SEAL_KEY_FILE
    key = _read_seal_key(path)
    if key is None:
        with dir_lock(keys_dir):
            key = _read_seal_key(path)
            if key is None:
                key = AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
                atomic_write(path, key, 0o600)
    if len(key) != _KEY_BYTES:
        raise KeyStoreError(f"{path}: must hold {_KEY_BYTES} bytes; delete it to make a new one")
    return key


def _read_seal_key(path: Path) -> bytes | None:
    try:
        return read_state_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyStoreError(
            f"cannot read {path}: {exc.strerror}; it must be a file mockauth can read (delete "
            "it to make a new one: codes and refresh tokens issued so far stop working)"
        ) from exc


class Sealer:
    """Seals JSON payloads for one purpose each, so a code never passes as a refresh token.

    A sealed value looks like Kinde's opaque tokens: two base64url strings joined by a dot.
    """

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        data = json.dumps(payload, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, data, purpose.encode())
        return f"{b64url(nonce + sealed[:-_TAG_BYTES])}.{b64url(sealed[-_TAG_BYTES:])}"

    def open(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The payload, or None for anything this sealer did not seal for ``purpose``."""
        head, dot, tag = token.partition(".")
        if not dot or len(token) > MAX_SEALED:
            return None
        try:
            body, mac = _unb64(head), _unb64(tag)
            if len(body) < _NONCE_BYTES or len(mac) != _TAG_BYTES:
                return None
            data = self._aead.decrypt(
                body[:_NONCE_BYTES], body[_NONCE_BYTES:] + mac, purpose.encode()
            )
            payload = json.loads(data)
        except (ValueError, InvalidTag):
            return None
        return payload if isinstance(payload, dict) else None


def _unb64(text: str) -> bytes:
    if not text.isascii() or "=" in text:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


# --- the sealed grants ------------------------------------------------------------------------

G = TypeVar("G", bound="Sealed")
_OPTIONAL_STR = (str, type(None))


def _wire(key: str, kinds: type | tuple[type, ...], default: Any = MISSING) -> Any:
    """A field sealed under the JSON key ``key``, of one of ``kinds`` when opened."""
    return field(default=default, metadata={"wire": key, "kinds": kinds})


@dataclass(frozen=True, kw_only=True)
class Sealed:
    """Base of the sealed grants: ``exp`` on the tenant's clock, ``real_exp`` in real time
    (the tenant's clock can move; what was used is remembered until ``real_exp``)."""

    PURPOSE = ""
    id: str = _wire("id", str)
    client_id: str = _wire("c", str)
    exp: int = _wire("exp", int)
    real_exp: int = _wire("rx", int)

    def seal(self, sealer: Sealer) -> str:
        payload = {f.metadata["wire"]: getattr(self, f.name) for f in fields(self)}
        sealed: str = sealer.seal(self.PURPOSE, payload)
        return sealed

    @classmethod
    def open(cls: type[G], sealer: Sealer, token: str) -> G | None:
        """The grant sealed in ``token``, or None for anything this server did not seal as
        one (another purpose, another key, another shape)."""
        payload = sealer.open(cls.PURPOSE, token)
        if payload is None:
            return None
        values: dict[str, Any] = {}
        for f in fields(cls):
            key, kinds = f.metadata["wire"], f.metadata["kinds"]
            if key not in payload and f.default is not MISSING:
                continue
            value = payload.get(key, MISSING)
            if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is int):
                return None
            if isinstance(value, list):
                if not all(isinstance(item, str) for item in value):
                    return None
                value = tuple(value)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class Code(Sealed):
    """An authorization code: who signed in, for which app, callback, scopes and APIs."""

    PURPOSE = "code"
    user_id: str = _wire("u", str)
    org_code: str | None = _wire("o", _OPTIONAL_STR)
    redirect_uri: str = _wire("r", str)
    scopes: tuple[str, ...] = _wire("s", list)
    audiences: tuple[str, ...] = _wire("a", list)
    nonce: str | None = _wire("n", _OPTIONAL_STR)
    challenge: str | None = _wire("pc", _OPTIONAL_STR)  # PKCE S256
    auth_time: int = _wire("t", int)


@dataclass(frozen=True, kw_only=True)
class Refresh(Sealed):
    """A refresh token: the sign-in it continues, its family (the code or device code it
    descends from) and turn in that family, and the access token issued with it."""

    PURPOSE = "refresh"
    user_id: str = _wire("u", str)
    org_code: str | None = _wire("o", _OPTIONAL_STR)
    scopes: tuple[str, ...] = _wire("s", list)
    audiences: tuple[str, ...] = _wire("a", list)
    nonce: str | None = _wire("n", _OPTIONAL_STR)
    auth_time: int = _wire("t", int)
    family: str | None = _wire("f", _OPTIONAL_STR, None)  # None: sealed before families
    generation: int = _wire("g", int, 0)
    access_iat: int = _wire("ai", int)
    access_jti: str = _wire("aj", str)
    access_digest: str = _wire("ah", str)  # equal claims, equal digest: the token comes back
    access_until: int = _wire("ax", int)  # until when its jti is remembered if revoked

    @property
    def family_id(self) -> str:
        return self.family or self.id


@dataclass(frozen=True, kw_only=True)
class DeviceCode(Sealed):
    """A device code (RFC 8628): the device app and what it asked for."""

    PURPOSE = "device"
    scopes: tuple[str, ...] = _wire("s", list)
    audiences: tuple[str, ...] = _wire("a", list)


@dataclass(frozen=True, kw_only=True)
class Session(Sealed):
    """A sign-in session at the authorization server, kept in a cookie on its origin: who
    signed in and when (``client_id`` is the app they signed in to first)."""

    PURPOSE = "session"
    user_id: str = _wire("u", str)
    auth_time: int = _wire("t", int)
