"""Sealed grants: authorization codes and refresh tokens that carry their own state.

A code or refresh token is its payload encrypted and authenticated with AES-GCM under a
secret kept in the keys dir (``seal.key``, mode 0600). Any worker process can redeem what
another issued, and refresh tokens survive a restart, as the signing keys do. What must be
remembered (a code or refresh token already used, a token revoked) is kept in the tenant's store.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mockauth.errors import KeyStoreError
from mockauth.tokens.keys import atomic_write, b64url, dir_lock

SEAL_KEY_FILE = "seal.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Anything longer did not come from us: a token request's whole body is capped at 64 KiB.
MAX_SEALED = 64 * 1024


def load_seal_key(keys_dir: Path | None) -> bytes:
    """The keys dir's sealing secret, made on first use; a fresh one without a keys dir."""
    if keys_dir is None:
        return AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
    path = keys_dir / SEAL_KEY_FILE
    with dir_lock(keys_dir):
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            key = AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
            atomic_write(path, key, 0o600)
        except OSError as exc:
            raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    if len(key) != _KEY_BYTES:
        raise KeyStoreError(f"{path}: must hold {_KEY_BYTES} bytes; delete it to make a new one")
    return key


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
