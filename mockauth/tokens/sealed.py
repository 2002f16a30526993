"""Sealed grants: authorization codes and refresh tokens that carry their own state.

A code or refresh token is its payload encrypted and authenticated with AES-GCM under a
secret kept in the keys dir (``seal.key``, mode 0600). Any worker process can redeem what
another issued, and refresh tokens survive a restart, as the signing keys do. What must be
remembered (a code or refresh token already used, a token revoked) is kept by ``SpentIds``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mockauth.errors import KeyStoreError
from mockauth.tokens.keys import atomic_write, b64url, dir_lock

SEAL_KEY_FILE = "seal.key"
SPENT_DIR = "spent"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Anything longer did not come from us: a token request's whole body is capped at 64 KiB.
MAX_SEALED = 64 * 1024
PRUNE_GRACE = 300  # seconds an entry is kept past its end
_IDENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


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


class SpentIds:
    """Ids of codes and refresh tokens used once, and of revoked tokens, until a real-time
    moment past which they are dead anyway (the tenant's clock can move; this one cannot).

    With a keys dir, one empty file per id in ``<keys dir>/spent/`` (its mtime: until when),
    so exactly one worker spends an id and a restart forgets none; in memory without one.
    A file appears whole, with its mtime already set (written aside, then linked or renamed
    into place), and is pruned only well past its mtime, so no worker prunes another's.
    """

    def __init__(self, directory: Path | None) -> None:
        self._dir = directory
        self._spent: dict[str, float] = {}
        self._notes: dict[str, tuple[str, float]] = {}
        self._mutex = threading.Lock()
        self._claims = 0
        if directory is not None:
            try:
                directory.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise KeyStoreError(f"cannot create {directory}: {exc.strerror}") from exc
            self._prune()  # what earlier runs left

    def spend(self, ident: str, until: float) -> bool:
        """Mark ``ident`` used until ``until`` (real time); False if it already was."""
        path = self._path(ident)
        with self._mutex:
            self._claims += 1
            if self._claims % 256 == 0:
                self._prune()
            if path is None:
                if ident in self._spent:
                    return False
                self._spent[ident] = until
                return True
        aside = self._aside(path, b"", until)
        try:
            os.link(aside, path)  # atomic: exactly one worker creates it
        except FileExistsError:
            return False
        except OSError as exc:
            raise KeyStoreError(f"cannot write in {self._dir}: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(aside)
        return True

    def note(self, ident: str, text: str, until: float) -> None:
        """Keep ``text`` about ``ident`` until ``until`` (what a used code gave, say)."""
        path = self._path(ident)
        if path is None:
            with self._mutex:
                self._notes[ident] = (text, until)
            return
        aside = self._aside(path, text.encode(), until)
        try:
            os.replace(aside, path + ".note")
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(aside)
            raise KeyStoreError(f"cannot write in {self._dir}: {exc.strerror}") from exc

    def note_of(self, ident: str) -> str | None:
        """The note kept about ``ident``, or None (none, or not readable as one)."""
        path = self._path(ident)
        if path is None:
            kept = self._notes.get(ident)
            return None if kept is None else kept[0]
        try:
            with open(path + ".note", "rb") as fh:
                return fh.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def is_spent(self, ident: str) -> bool:
        path = self._path(ident)
        return ident in self._spent if path is None else os.path.exists(path)

    def _path(self, ident: str) -> str | None:
        if not _IDENT_RE.match(ident):  # ids we issue: token_urlsafe or uuid4
            raise ValueError(f"not a token id: {ident[:80]!r}")
        return None if self._dir is None else str(self._dir / ident)

    def _aside(self, path: str, data: bytes, until: float) -> str:
        """A file beside ``path`` holding ``data``, its mtime already ``until``."""
        aside = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(aside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.utime(aside, (until, until))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(aside)
            raise KeyStoreError(f"cannot write in {self._dir}: {exc.strerror}") from exc
        return aside

    def _prune(self) -> None:
        # Well past their end only: a file being written aside still has its creation mtime.
        cutoff = time.time() - PRUNE_GRACE
        if self._dir is None:
            self._spent = {k: until for k, until in self._spent.items() if until >= cutoff}
            self._notes = {k: kept for k, kept in self._notes.items() if kept[1] >= cutoff}
            return
        with contextlib.suppress(OSError):
            for entry in os.scandir(self._dir):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
