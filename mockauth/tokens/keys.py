"""KeyStore: RSA signing keys that persist in a keys dir; the only holder of private keys."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mockauth.errors import KeyStoreError
from mockauth.statedir import make_state_dir, read_state_file
from mockauth.tokens.jwks import jwks_bytes

KEY_SIZE = 2048
KEYSET_FILE = "keyset.json"
LOCK_FILE = ".lock"
_PADDING = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
log = logging.getLogger("mockauth")
# How to recover, as seal.key's message says: the files are the mock's own, made again freely.
_KEYSET_FIX = f"; delete {KEYSET_FILE} to rebuild it from the .pem key files beside it"
_KEY_FIX = (
    f"; delete it and {KEYSET_FILE} to start over with a new signing key (tokens signed with "
    "the old one then fail to verify)"
)


def kid_for(public_key: rsa.RSAPublicKey) -> str:
    """Kinde-style kid: 16 bytes of the public key's SHA-256, lowercase hex joined by colons."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest()[:16])


@dataclass(frozen=True)
class _Key:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()


def _generate() -> _Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    return _Key(kid_for(private.public_key()), private)


@contextlib.contextmanager
def dir_lock(directory: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the keys dir's lock: serialises key and certificate changes between processes.

    ``shared=True`` is for reading: it needs no write access (a read-only mount, a dir of
    another user's), opens the lock file read-only and, if there is none or it cannot be
    opened, reads without it (every file is replaced in one step, so a read sees a whole one).
    """
    try:
        # Imported here: without it (Windows) the validator, the strategies and
        # in-memory stores still work; only a shared keys dir needs the lock.
        import fcntl
    except ImportError as exc:
        raise KeyStoreError(
            f"keys dir {directory}: needs POSIX file locks (Linux, macOS; on Windows, WSL)"
        ) from exc
    try:
        if shared:
            fd = os.open(directory / LOCK_FILE, os.O_RDONLY)
        else:
            fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if shared:
            yield
            return
        raise KeyStoreError(
            f"cannot lock keys dir {directory}: {exc.strerror} (creating or rotating keys "
            "needs write access; choose another with --keys-dir or MOCKAUTH_KEYS_DIR)"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` in one step, created with ``mode`` (never wider)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a stale temp file would keep its old, maybe wider, mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise KeyStoreError(f"cannot write {path}: {exc.strerror}") from exc


class KeyStore:
    """Signing keys: one active signer plus keys still published in the JWKS.

    With a ``keys_dir`` every change is written there (atomically, mode 0600, under a
    lock), so restarts and sibling worker processes see the same keys. Without one the
    store lives in memory (tests, strategies).
    """

    def __init__(self, keys_dir: str | Path | None = None) -> None:
        self._dir = Path(keys_dir) if keys_dir is not None else None
        # A str, not a Path: refresh() stats it on every token and JWKS request.
        self._keyset_path = str(self._dir / KEYSET_FILE) if self._dir is not None else ""
        self._mutex = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._published: list[str] = []
        self._active = ""
        self._stamp: tuple[int, int] | None = None
        self._jwks_bytes = b""
        # Keys rotated out with an overlap: kid -> wall-clock time they leave the JWKS.
        self._retire_at: dict[str, float] = {}
        self._next_retire: float | None = None
        if self._dir is None:
            self._install([_generate()], None)
        else:
            self._open_dir()

    # --- public surface ---

    @property
    def keys_dir(self) -> Path | None:
        return self._dir

    @property
    def active_kid(self) -> str:
        return self._active

    @property
    def published_kids(self) -> tuple[str, ...]:
        return tuple(self._published)

    @property
    def retire_at(self) -> dict[str, float]:
        """Scheduled retirements (``rotate(overlap=...)``): kid -> wall-clock time."""
        return dict(self._retire_at)

    def sign(self, signing_input: bytes) -> tuple[str, bytes]:
        """Sign with the active key (RS256); return (kid, signature)."""
        key = self._keys[self._active]
        return key.kid, key.private.sign(signing_input, _PADDING, _SHA256)

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key with this kid, if it is published."""
        key = self._keys.get(kid)
        return key.public if key is not None and kid in self._published else None

    def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        """Every published public key, by kid."""
        return {kid: self._keys[kid].public for kid in self._published}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS document as a dict."""
        result: dict[str, list[dict[str, str]]] = json.loads(self._jwks_bytes)
        return result

    def jwks_bytes(self) -> bytes:
        """The public JWKS document, serialised once per key change."""
        return self._jwks_bytes

    def rotate(self, *, overlap: float | None = None) -> str:
        """Make a new key the signer; return its kid.

        The previous keys stay published until retired, or, with ``overlap``, until that
        many seconds have passed (the next ``refresh()`` after that retires them).
        """
        with self._mutex, self._locked():
            self._reload_locked()
            new = _generate()
            keys = [new, *(self._keys[k] for k in self._published)]
            if self._dir is not None:
                self._write_key(new)
            if overlap is not None:
                due = time.time() + overlap
                for kid in self._published:
                    self._retire_at[kid] = min(due, self._retire_at.get(kid, due))
            self._install(keys, new.kid)
            self._save_keyset()
            return new.kid

    def retire(self, kid: str | None = None) -> list[str]:
        """Remove a published key (``None``: every key but the active one) from the JWKS
        and delete its private key file; return the kids retired.

        KeyError if ``kid`` is not published; ValueError if it is the active key. Runs under
        the dir lock after a reload, so processes retiring at once do not trip each other.
        """
        with self._mutex, self._locked():
            self._reload_locked()
            if kid is None:
                gone = [k for k in self._published if k != self._active]
            elif kid not in self._published:
                raise KeyError(kid)
            elif kid == self._active:
                raise ValueError("the active signing key cannot be retired; rotate first")
            else:
                gone = [kid]
            self._drop(gone)
            return gone

    def refresh(self) -> bool:
        """Pick up changes another process made to the keys dir and retire keys whose
        overlap has passed; cheap (one stat, one comparison) when nothing changed."""
        due = self._next_retire is not None and time.time() >= self._next_retire
        stamp = self._keyset_stamp() if self._dir is not None else None
        if not due and (self._dir is None or self._stamp == stamp):
            return False
        try:
            # Only retiring writes: a reload alone takes the shared lock (read-only dirs).
            with self._mutex, self._locked(shared=not due):
                self._reload_locked()
                if due:
                    self._retire_due()
        except KeyStoreError as exc:
            # Key files deleted or damaged under a running server: answering 500 to every
            # request helps nobody, so keep signing with the keys held until restart.
            with self._mutex:
                self._stamp = stamp  # tried again only when the files change again
                if due:
                    self._forget(self._due())
            log.warning("%s; serving the keys held (kid %s) until restart", exc, self._active)
            return due
        return True

    def _due(self) -> list[str]:
        now = time.time()
        return [k for k, at in self._retire_at.items() if at <= now and k != self._active]

    def _retire_due(self) -> None:
        self._drop(self._due())

    def _forget(self, kids: list[str]) -> None:
        self._install([self._keys[k] for k in self._published if k not in kids], self._active)

    def _drop(self, kids: list[str]) -> None:
        """Unpublish ``kids`` and delete their key files (a retired key must not come back)."""
        if not kids:
            return
        self._forget(kids)
        self._save_keyset()
        if self._dir is not None:
            for kid in kids:
                with contextlib.suppress(FileNotFoundError):
                    self._key_path(kid).unlink()

    # --- internals ---

    def _install(self, keys: list[_Key], active: str | None) -> None:
        self._keys = {k.kid: k for k in keys}
        self._published = [k.kid for k in keys]
        self._active = active or keys[0].kid
        self._retire_at = {k: at for k, at in self._retire_at.items() if k in self._keys}
        self._next_retire = min(self._retire_at.values(), default=None)
        self._jwks_bytes = jwks_bytes([(k.kid, k.public) for k in keys])

    def _locked(self, *, shared: bool = False) -> contextlib.AbstractContextManager[None]:
        if self._dir is None:
            return contextlib.nullcontext()
        return dir_lock(self._dir, shared=shared)

    def _open_dir(self) -> None:
        assert self._dir is not None
        if (self._dir / KEYSET_FILE).exists():
            # Reading keys needs no write access; only making or rotating them does.
            with self._mutex, self._locked(shared=True):
                self._reload_locked()
            return
        try:
            make_state_dir(self._dir)
        except OSError as exc:
            raise KeyStoreError(f"cannot create keys dir {self._dir}: {exc.strerror}") from exc
        with self._mutex, self._locked():
            if not (self._dir / KEYSET_FILE).exists():
                found = [self._read_key(p) for p in sorted(self._dir.glob("*.pem"))]
                key = found[0] if found else _generate()
                if not found:
                    self._write_key(key)
                self._install([key, *found[1:]], key.kid)
                self._save_keyset()
            else:
                self._reload_locked()

    def _reload_locked(self) -> None:
        if self._dir is None:
            return
        path = self._dir / KEYSET_FILE
        try:
            doc = json.loads(read_state_file(path))
            active, published = doc["active"], list(doc["published"])
            retire_at = {str(k): float(at) for k, at in doc.get("retire_at", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyStoreError(f"{path}: unreadable key set: {exc}{_KEYSET_FIX}") from exc
        if not published or not all(isinstance(k, str) for k in published):
            raise KeyStoreError(
                f"{path}: 'published' must list the kids of one or more keys{_KEYSET_FIX}"
            )
        if len(set(published)) != len(published):
            raise KeyStoreError(f"{path}: 'published' lists a kid twice{_KEYSET_FIX}")
        if active not in published:
            raise KeyStoreError(
                f"{path}: 'active' = {active!r} is not one of the published kids{_KEYSET_FIX}"
            )
        keys = [self._keys.get(kid) or self._read_key(self._key_path(kid)) for kid in published]
        for kid, key in zip(published, keys, strict=True):
            if key.kid != kid:
                raise KeyStoreError(
                    f"{self._key_path(kid)}: holds the key {key.kid}, not {kid}{_KEY_FIX}"
                )
        self._retire_at = retire_at
        self._install(keys, active)
        self._stamp = self._keyset_stamp()

    def _save_keyset(self) -> None:
        if self._dir is None:
            return
        doc = {"active": self._active, "published": self._published, "retire_at": self._retire_at}
        atomic_write(self._dir / KEYSET_FILE, json.dumps(doc, indent=2).encode(), 0o644)
        self._stamp = self._keyset_stamp()

    def _keyset_stamp(self) -> tuple[int, int] | None:
        assert self._dir is not None
        try:
            st = os.stat(self._keyset_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _key_path(self, kid: str) -> Path:
        assert self._dir is not None
        return self._dir / (kid.replace(":", "") + ".pem")

    def _read_key(self, path: Path) -> _Key:
        try:
            private = serialization.load_pem_private_key(read_state_file(path), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"{path}: not a readable unencrypted PEM private key{_KEY_FIX}"
            ) from exc
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < KEY_SIZE:
            raise KeyStoreError(f"{path}: must be an RSA key of at least {KEY_SIZE} bits{_KEY_FIX}")
        return _Key(kid_for(private.public_key()), private)

    def _write_key(self, key: _Key) -> None:
        pem = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(self._key_path(key.kid), pem, 0o600)
