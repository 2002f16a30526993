"""The tenant store on disk: SQLite (WAL) files in the state dir, shared by every worker.

``<state dir>/store.db`` holds what outlives restarts (spent ids, notes, families);
``<state dir>/instances/<id>.db`` one server's tenant data, made at start and deleted at
stop. The process that makes an instance holds a lock on ``<id>.lock`` while it runs, so a
later start can tell a crashed server's leftovers (no one holds the lock) and delete them.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mockauth.errors import StoreError
from mockauth.tenant.rows import (
    INSTANCE_SCHEMA,
    INSTANCE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SHARED_SCHEMA,
)
from mockauth.tenant.store import Store, WriterLock

STORE_FILE = "store.db"
INSTANCES_DIR = "instances"
PRUNE_INTERVAL = 30.0  # seconds between deletes of expired ids, off the request path
_BUSY_MS = 10_000
log = logging.getLogger("mockauth")


def open_store(state_dir: str | Path, *, instance: str | None = None) -> Store:
    """Open the state dir's store; ``instance`` joins a running server's tenant data (a
    worker), None makes a new instance owned by this process."""
    root = Path(state_dir)
    shared = _connect(root / STORE_FILE, SHARED_SCHEMA, SCHEMA_VERSION)
    runs = root / INSTANCES_DIR
    try:
        runs.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        shared.close()
        raise StoreError(f"cannot create {runs}: {exc.strerror}; {_FIX}") from exc
    lock_fd: int | None = None
    if instance is None:
        _remove_stale(runs)
        instance = secrets.token_hex(8)
        lock_fd = _hold_lock(runs / f"{instance}.lock")
    elif not (runs / f"{instance}.db").exists():
        shared.close()
        raise StoreError(f"no running server's tenant data at {runs / instance}.db")
    try:
        db = _connect(runs / f"{instance}.db", INSTANCE_SCHEMA, INSTANCE_SCHEMA_VERSION)
    except BaseException:
        shared.close()
        _release(lock_fd, runs, instance if lock_fd is not None else None)
        raise
    locks = (_writer_lock(runs / f"{instance}.writer"), _writer_lock(root / "store.writer"))

    def closed() -> None:
        for close in locks:
            close[1]()
        _release(lock_fd, runs, instance if lock_fd is not None else None)

    counter = _counter(runs / f"{instance}.version", Store._stored_version(db))
    store = Store(
        db,
        shared,
        where=str(root),
        instance=instance,
        on_close=closed,
        writer_locks=(locks[0][0], locks[1][0]),
        counter=counter,
    )
    _start_pruning(store)
    return store


_FIX = "make the state dir writable, or choose another with --keys-dir / MOCKAUTH_KEYS_DIR"


def _connect(path: Path, schema: str, version: int) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        # A mock's state may lose the last moments in a power cut; it must not cost an fsync
        # per request.
        db.execute("PRAGMA synchronous = NORMAL")
        found = _schema_version(db)
        if found is None:
            db.executescript(schema)
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema', ?)",
                (str(version),),
            )
        elif found != version:
            db.close()
            raise StoreError(
                f"{path} was written by another mockauth version (schema {found}, this one "
                f"reads {version}); delete it to start afresh (signing keys are kept)"
            )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the state store {path}: {exc}; {_FIX}") from exc
    os.chmod(path, 0o600)
    return db


def _schema_version(db: sqlite3.Connection) -> int | None:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
    if exists.fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    if row is None:
        return None
    try:
        return int(row[0])
    except ValueError:
        return -1


def _hold_lock(path: Path) -> int:
    import fcntl  # POSIX only: the state dir needs file locks, as the keys dir does

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _release(fd: int | None, runs: Path, instance: str | None) -> None:
    if fd is None or instance is None:
        return
    for suffix in (".db", ".db-wal", ".db-shm", ".writer", ".version", ".lock"):
        with contextlib.suppress(OSError):
            os.unlink(runs / f"{instance}{suffix}")
    os.close(fd)


def _counter(path: Path, version: int) -> mmap.mmap:
    """The instance's version counter in shared memory (a file every worker maps)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)
            os.pwrite(fd, version.to_bytes(8, "little", signed=True), 0)
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)


def _writer_lock(path: Path) -> tuple[WriterLock, Callable[[], None]]:
    """A lock that one process at a time holds while it writes a database, and a closer."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def held() -> Iterator[None]:
        deadline = None
        while True:  # writes hold it for microseconds: wait in short naps, not SQLite's 1 ms+
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                deadline = deadline or now + _BUSY_MS / 1000
                if now > deadline:
                    raise StoreError(
                        f"{path}: another mockauth process has held this lock for "
                        f"{_BUSY_MS // 1000} s (stopped, or stuck)"
                    ) from None
                time.sleep(0.00005)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close() -> None:
        with contextlib.suppress(OSError):
            os.close(fd)

    return held, close


def _remove_stale(runs: Path) -> None:
    """Delete the tenant data of servers that stopped without cleaning up (killed)."""
    import fcntl

    for lock in runs.glob("*.lock"):
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its server runs
            continue
        _release(fd, runs, lock.stem)


def _start_pruning(store: Store) -> None:
    stop = store.stopping

    def run() -> None:
        while not stop.is_set():
            try:
                store.prune()
            except (StoreError, sqlite3.Error) as exc:
                log.warning("mockauth: pruning expired ids failed: %s", exc)
            stop.wait(PRUNE_INTERVAL)

    store.pruner = threading.Thread(target=run, name="mockauth-prune", daemon=True)
    store.pruner.start()
