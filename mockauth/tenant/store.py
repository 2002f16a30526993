"""The tenant store: everything that changes while a server runs, shared by its workers.

Two SQLite databases behind one object. The *instance* database belongs to one server (the
group of workers one ``mockauth serve`` starts): its apps, APIs, users and organisations
(the config is written there at start), fault rules with their counters, the clock, the
request journal and its settings; a restart begins it afresh from the config. The *shared*
database belongs to the state dir and outlives restarts: the ids of codes and refresh tokens
already used, revoked tokens, notes about them and refresh-token families, which any server
holding the same seal key must honour.

Workers keep a snapshot of the tenant data and re-read it only when ``version()`` moves;
every write to it happens in one transaction that re-reads what it changes, so two workers
never undo each other. Opening files, schema checks and pruning live in sqlite.py; an
in-memory store for in-process tests in memory.py.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import mmap
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from mockauth.errors import StoreError
from mockauth.tenant.rows import Entities, Entry, Family, FaultRow, JournalRow, journal_row

T = TypeVar("T")

_COUNTER = struct.Struct("<q")  # the shared version counter's layout (sqlite.py)
# Kept past an id's end, so a row being written as its end passes is not pruned under it.
PRUNE_GRACE = 300.0
PRUNE_BATCH = 5000
WriterLock = Callable[[], contextlib.AbstractContextManager[None]]


class Store:
    """The tenant store over two SQLite connections (see the module docstring).

    Thread-safe: one lock per store serialises its connections' use, so a server thread
    and a test thread can share it. Every method is one statement or one transaction.
    """

    def __init__(
        self,
        tenant_db: sqlite3.Connection,
        shared_db: sqlite3.Connection,
        *,
        where: str,
        instance: str = "",
        on_close: Callable[[], None] | None = None,
        writer_locks: tuple[WriterLock, WriterLock] | None = None,
        counter: mmap.mmap | None = None,
    ) -> None:
        self._db = tenant_db
        self._shared = shared_db
        self._lock = threading.RLock()
        self._counter = counter
        self._committing: int | None = None
        # Cross-process: writers queue on a file lock, woken as soon as it is free, instead
        # of sleeping a millisecond or more in SQLite's busy handler (sqlite.py).
        self._writer: dict[int, WriterLock] = {id(tenant_db): _no_lock, id(shared_db): _no_lock}
        if writer_locks is not None:
            self._writer = {id(tenant_db): writer_locks[0], id(shared_db): writer_locks[1]}
        self._on_close = on_close
        self.where = where  # what error messages name: a directory, or "memory"
        self.instance = instance  # the server whose tenant data this is (sqlite.py)
        self.closed = False
        # A thread that deletes expired ids (sqlite.py starts one), stopped before closing.
        self.pruner: threading.Thread | None = None
        self.stopping = threading.Event()

    # --- the change counter and settings -------------------------------------------------

    def version(self) -> int:
        """A number that moves whenever tenant data, faults, the clock or settings change.

        Every request asks, so a file store answers from a counter in shared memory that
        writers set once they have committed (sqlite.py), not with a query."""
        if self._counter is not None:
            return int(_COUNTER.unpack_from(self._counter)[0])
        with self._lock:
            return self._stored_version(self._db)

    @staticmethod
    def _stored_version(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
        return int(row[0]) if row else 0

    def settings(self) -> dict[str, Any]:
        """Every setting (JSON values by name), without the version counter."""
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM meta WHERE name != 'version'")
            return {name: json.loads(value) for name, value in rows}

    def set_settings(self, **values: Any) -> None:
        """Change settings in one transaction and move the version."""
        with self._writing() as db:
            for name, value in values.items():
                db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                    (name, json.dumps(value)),
                )

    # --- tenant data ---------------------------------------------------------------------

    def entities(self) -> Entities:
        """Every entity (apps, APIs, users, ...) by kind, in their order."""
        with self._lock:
            return self._entities(self._db)

    def update_entities(self, change: Callable[[Entities], tuple[Entities, T]]) -> T:
        """Apply ``change`` to the entities as they are now, in one transaction: it gets the
        current entities and returns the new ones and a result. What it raises aborts all."""
        with self._writing() as db:
            current = self._entities(db)
            new, result = change(current)
            self._write_entities(db, current, new)
        return result

    def replace_entities(self, entities: Entities) -> None:
        self.update_entities(lambda _: (entities, None))

    @staticmethod
    def _entities(db: sqlite3.Connection) -> Entities:
        out: Entities = {}
        for kind, key, data in db.execute(
            "SELECT kind, key, data FROM entities ORDER BY kind, pos"
        ):
            out.setdefault(kind, []).append((key, data))
        return out

    @staticmethod
    def _write_entities(db: sqlite3.Connection, old: Entities, new: Entities) -> None:
        for kind in old.keys() | new.keys():
            before = old.get(kind, [])
            after = new.get(kind, [])
            if before == after:
                continue
            db.execute("DELETE FROM entities WHERE kind = ?", (kind,))
            db.executemany(
                "INSERT INTO entities (kind, key, pos, data) VALUES (?, ?, ?, ?)",
                [(kind, key, pos, data) for pos, (key, data) in enumerate(after)],
            )

    # --- fault rules and their counters --------------------------------------------------

    def faults(self) -> list[FaultRow]:
        with self._lock:
            return self._faults(self._db)

    def update_faults(
        self, change: Callable[[list[FaultRow]], tuple[list[FaultRow], bool, T]]
    ) -> T:
        """Apply ``change`` to the rules and counters in one transaction (a rule that fires
        once fires once across every worker). It returns the new rows, whether the snapshot
        must move (rules added, removed, or no longer able to fire), and a result."""
        with self._transaction(self._db) as db:
            current = self._faults(db)
            new, moved, result = change(current)
            if new != current:
                db.execute("DELETE FROM faults")
                db.executemany(
                    "INSERT INTO faults (pos, id, rule, seen, fired, deadline) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (i, r.id, json.dumps(r.rule), r.seen, r.fired, r.deadline)
                        for i, r in enumerate(new)
                    ],
                )
            if moved:
                self._bump(db)
        return result

    @staticmethod
    def _faults(db: sqlite3.Connection) -> list[FaultRow]:
        rows = db.execute("SELECT id, rule, seen, fired, deadline FROM faults ORDER BY pos")
        return [
            FaultRow(i, json.loads(rule), seen, fired, end) for i, rule, seen, fired, end in rows
        ]

    # --- the journal ---------------------------------------------------------------------

    def append_journal(self, rows: Mapping[int, Sequence[Entry]], keep: int) -> None:
        """Add finished requests (``Entry`` tuples, by journal generation), numbered in
        the order written, then drop all but about the newest ``keep``.

        A worker writes the requests of a moment as one row, its entries marshalled: the
        journal is written on every request and read rarely, and marshal costs a hundredth
        of JSON (the file is this server's own, mode 0600 in a 0700 dir)."""
        if not rows:
            return
        with self._transaction(self._db) as db:
            seq = int(str(self._meta(db, "journal_seq", 0)))
            for generation, batch in rows.items():
                db.execute(
                    "INSERT INTO journal (first_seq, generation, count, entries)"
                    " VALUES (?, ?, ?, ?)",
                    (seq + 1, generation, len(batch), marshal.dumps(list(batch))),
                )
                seq += len(batch)
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('journal_seq', ?)", (str(seq),)
            )
            db.execute("DELETE FROM journal WHERE first_seq + count <= ?", (seq + 1 - keep,))

    def journal(self, generation: int) -> list[JournalRow]:
        """The journal of one generation (a clear starts a new one), in the order the
        requests finished (workers write theirs a moment after, so not always by ``seq``)."""
        with self._lock:
            batches = self._db.execute(
                "SELECT first_seq, entries FROM journal WHERE generation = ? ORDER BY first_seq",
                (generation,),
            ).fetchall()
        rows = [
            journal_row(entry, first + i, generation)
            for first, data in batches
            for i, entry in enumerate(marshal.loads(data))
        ]
        rows.sort(key=lambda r: (r.time, r.seq))
        return rows

    @staticmethod
    def _meta(db: sqlite3.Connection, name: str, default: object) -> object:
        row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return default if row is None else row[0]

    def clear_journal(self, generation: int) -> int:
        """Forget the journal and start ``generation``; return how many entries went."""
        with self._writing() as db:
            count = db.execute(
                "SELECT coalesce(sum(count), 0) FROM journal WHERE generation < ?", (generation,)
            )
            gone = int(count.fetchone()[0])
            db.execute("DELETE FROM journal WHERE generation < ?", (generation,))
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('journal_generation', ?)",
                (json.dumps(generation),),
            )
        return gone

    # --- spent ids, notes and refresh-token families (shared, persistent) ----------------

    def spend(self, ident: str, until: float) -> bool:
        """Mark ``ident`` used until ``until`` (real time); False if it already was."""
        cursor = self._shared_write(
            "INSERT OR IGNORE INTO spent (id, until) VALUES (?, ?)", (ident, until)
        )
        return cursor.rowcount == 1

    def is_spent(self, ident: str) -> bool:
        with self._lock:
            row = self._shared.execute("SELECT 1 FROM spent WHERE id = ?", (ident,)).fetchone()
        return row is not None

    def note(self, ident: str, text: str, until: float) -> None:
        """Keep ``text`` about ``ident`` until ``until`` (what a used code gave, say)."""
        self._shared_write(
            "INSERT OR REPLACE INTO notes (id, text, until) VALUES (?, ?, ?)", (ident, text, until)
        )

    def note_of(self, ident: str) -> str | None:
        with self._lock:
            row = self._shared.execute("SELECT text FROM notes WHERE id = ?", (ident,)).fetchone()
        return None if row is None else str(row[0])

    def family(self, ident: str) -> Family | None:
        with self._lock:
            row = self._shared.execute(
                "SELECT id, generation, rotated_at, revoked, until FROM families WHERE id = ?",
                (ident,),
            ).fetchone()
        return None if row is None else Family(row[0], row[1], row[2], bool(row[3]), row[4])

    def advance_family(
        self, ident: str, expected: Iterable[int], generation: int, now: float, until: float
    ) -> bool:
        """Move a family to ``generation`` if it is at one of ``expected`` (-1: not yet
        stored) and not revoked; False if another refresh moved it first."""
        wanted = list(expected)
        with self._transaction(self._shared) as db:
            row = db.execute(
                "SELECT generation, revoked FROM families WHERE id = ?", (ident,)
            ).fetchone()
            current = -1 if row is None else int(row[0])
            ok = current in wanted and not (row is not None and row[1])
            if ok:
                db.execute(
                    "INSERT OR REPLACE INTO families (id, generation, rotated_at, revoked,"
                    " until) VALUES (?, ?, ?, 0, ?)",
                    (ident, max(generation, current), now, until),
                )
        return ok

    def revoke_family(self, ident: str, until: float) -> None:
        """Revoke every refresh token of a family, for good (until ``until``)."""
        self._shared_write(
            "INSERT INTO families (id, generation, rotated_at, revoked, until)"
            " VALUES (?, 0, 0, 1, ?) ON CONFLICT (id) DO UPDATE SET revoked = 1,"
            " until = max(until, excluded.until)",
            (ident, until),
        )

    def prune(self, now: float | None = None) -> int:
        """Delete ids, notes and families past their end (an indexed delete, in batches);
        return how many rows went."""
        cutoff = (time.time() if now is None else now) - PRUNE_GRACE
        gone = 0
        for table in ("spent", "notes", "families"):
            while not self.stopping.is_set():
                cursor = self._shared_write(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
                    " WHERE until < ? LIMIT ?)",
                    (cutoff, PRUNE_BATCH),
                )
                gone += max(cursor.rowcount, 0)
                if cursor.rowcount < PRUNE_BATCH:
                    break
        return gone

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop pruning, close the databases, then let sqlite.py release the files."""
        if self.closed:
            return
        self.closed = True
        self.stopping.set()
        if self.pruner is not None:
            self.pruner.join()
        with self._lock:
            self._db.close()
            self._shared.close()
            if self._counter is not None:
                self._counter.close()
        if self._on_close is not None:
            self._on_close()

    def _writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A transaction on the tenant database that moves the version."""
        return self._transaction(self._db, bump=True)

    @contextlib.contextmanager
    def _transaction(
        self, db: sqlite3.Connection, *, bump: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error), holding this process's lock
        and the database's writer lock."""
        with self._lock, self._writer[id(db)]():
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._write_error(exc) from exc
            try:
                yield db
                if bump:
                    self._bump(db)
                db.execute("COMMIT")
                self._publish()
            except BaseException as exc:
                self._committing = None  # rolled back: nothing to show
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._write_error(exc) from exc
                raise

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot write the state store in {self.where}: {exc}; make it writable, or "
            "start with another --keys-dir"
        )

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta (name, value) VALUES ('version', '1') ON CONFLICT (name)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        self._committing = self._stored_version(db)

    def _publish(self) -> None:
        """Once committed, show the new version to every worker (a reader that sees it
        reads the store after this commit)."""
        version, self._committing = self._committing, None
        if version is not None and self._counter is not None:
            _COUNTER.pack_into(self._counter, 0, version)

    def _shared_write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """One statement in its own transaction on the shared database (it takes the lock)."""
        with self._transaction(self._shared) as db:
            return db.execute(sql, params)


@contextlib.contextmanager
def _no_lock() -> Iterator[None]:
    yield
