"""What the tenant store keeps, as rows: the two databases' schemas, and the row types the
store hands out (fault rules with counters, journal entries, refresh families)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Bumped when a table changes shape; sqlite.py refuses other versions (the instance database
# is made afresh at each start, the shared one is kept).
SCHEMA_VERSION = 1
INSTANCE_SCHEMA_VERSION = 2

INSTANCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL, key TEXT NOT NULL, pos INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS faults (
    pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0, fired INTEGER NOT NULL DEFAULT 0, deadline REAL);
CREATE TABLE IF NOT EXISTS journal (
    first_seq INTEGER PRIMARY KEY, generation INTEGER NOT NULL, count INTEGER NOT NULL,
    entries BLOB NOT NULL);
"""
SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spent (id TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spent_until ON spent (until);
CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, text TEXT NOT NULL, until REAL NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notes_until ON notes (until);
CREATE TABLE IF NOT EXISTS families (
    id TEXT PRIMARY KEY, generation INTEGER NOT NULL, rotated_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, until REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS families_until ON families (until);
"""


@dataclass(frozen=True, slots=True)
class FaultRow:
    """A fault rule as stored: its JSON form, position and counters."""

    id: str
    rule: dict[str, Any]
    seen: int = 0
    fired: int = 0
    deadline: float | None = None  # wall-clock time it expires (expires_in), or None


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One finished request, as the journal keeps it (an allow-list of facts)."""

    time: float
    method: str
    path: str
    status: int | None
    duration_ms: float
    grant_type: str | None = None
    client_id: str | None = None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    fault: str | None = None
    note: str | None = None
    seq: int = 0
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Family:
    """A refresh-token family: the tokens descended from one sign-in, rotated in turn."""

    id: str
    generation: int
    rotated_at: float
    revoked: bool
    until: float


Entities = dict[str, list[tuple[str, str]]]  # kind -> [(key, JSON data)] in order
# A finished request as Journal.record keeps it, cheaply: time, method, path, status,
# duration_ms, grant_type, client_id, audiences and scopes (space-separated), fault, note.
Entry = tuple[
    float,
    str,
    str,
    "int | None",
    float,
    "str | None",
    "str | None",
    str,
    str,
    "str | None",
    "str | None",
]


def journal_row(entry: tuple[Any, ...], seq: int, generation: int) -> JournalRow:
    when, method, path, status, duration, grant, client, auds, scopes, fault, note = entry
    return JournalRow(
        time=when,
        method=method,
        path=path,
        status=status,
        duration_ms=duration,
        grant_type=grant,
        client_id=client,
        audiences=tuple(auds.split()),
        scopes=tuple(scopes.split()),
        fault=fault,
        note=note,
        seq=seq,
        generation=generation,
    )
