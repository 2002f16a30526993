"""The request journal: a bounded record of every request, with no secret ever stored.

Redaction is by construction: an entry keeps only an allow-list of facts (method, path,
grant type, client id, audiences, scopes, status, fault). Client secrets, client
assertions, codes, passwords and tokens are never copied out of the request, so they
cannot leak through a query or a dump of the journal.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from mockauth.tenant.memory import memory_store
from mockauth.tenant.rows import Entry, JournalRow
from mockauth.tenant.store import Store

DEFAULT_SIZE = 1000
# How long finished requests wait to be written together: one store transaction per
# FLUSH_DELAY under load, not one per request. A read on another worker waits SETTLE.
FLUSH_DELAY = 0.01
SETTLE = 0.05
# An endpoint stores what it read of the request here, so the journal need not read the body
# again.
SUMMARY_SCOPE_KEY = "mockauth.summary"
NOTE_SCOPE_KEY = "mockauth.note"


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One request as the journal keeps it."""

    seq: int
    time: float  # wall-clock seconds (real time, not the tenant's clock)
    method: str
    path: str
    status: int | None  # None: no response was sent (closed connection, hang)
    duration_ms: float
    grant_type: str | None = None
    client_id: str | None = None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    fault: str | None = None  # id of the fault rule that fired
    note: str | None = None  # why mockauth answered as it did, where that is not plain

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audiences"] = list(self.audiences)
        out["scopes"] = list(self.scopes)
        return out


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What mockauth may know of a request besides its answer: the path, and the allow-listed
    parameters (form or query) that fault rules match on and the journal keeps."""

    path: str = ""
    client_id: str | None = None
    grant_type: str | None = None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, path: str, pairs: Iterable[tuple[str, str]]) -> RequestSummary:
        """From form or query pairs: only grant_type, client_id, audience and scope are read."""
        grant_type = client_id = None
        audiences: list[str] = []
        scopes: list[str] = []
        for name, value in pairs:
            if name == "grant_type":
                grant_type = value
            elif name == "client_id":
                client_id = value
            elif name == "audience":
                audiences.extend(value.split())
            elif name == "scope":
                scopes.extend(value.split())
        return cls(path, client_id, grant_type, tuple(dict.fromkeys(audiences)), tuple(scopes))


def remember(scope: MutableMapping[str, Any], summary: RequestSummary) -> None:
    """Called by an endpoint once it has read its parameters (one dict store)."""
    scope[SUMMARY_SCOPE_KEY] = summary


def remembered(scope: Mapping[str, Any]) -> RequestSummary | None:
    summary: RequestSummary | None = scope.get(SUMMARY_SCOPE_KEY)
    return summary


def note(scope: MutableMapping[str, Any], text: str) -> None:
    """Say in the journal why this request was answered as it was (a refused origin, say)."""
    scope[NOTE_SCOPE_KEY] = text


def noted(scope: Mapping[str, Any]) -> str | None:
    text: str | None = scope.get(NOTE_SCOPE_KEY)
    return text


class Journal:
    """A tenant's bounded request journal (oldest entries dropped first), kept in its store.

    ``record`` is called for every request, so it only appends to a buffer; the buffer is
    written to the store at the end of the event loop's current turn (one transaction for
    all the requests finished in it), or at once outside an event loop. Reads write this
    process's buffer first; ``settle`` is how long a read waits for other workers' turns to
    end (a worker finishes the turn it answered in within milliseconds).
    """

    def __init__(
        self, size: int = DEFAULT_SIZE, *, enabled: bool = True, store: Store | None = None
    ) -> None:
        if size < 0:
            raise ValueError(f"journal size must be >= 0: {size}")
        self._store = store or memory_store()
        self._size = size
        self._pending: dict[int, list[Entry]] = {}  # by journal generation
        self._lock = threading.Lock()
        self._scheduled = False
        self._last_flush = 0.0
        self.settle = 0.0
        # Bumped by clear(): requests that started before it are not recorded after it, so a
        # test never sees a straggler from the test before.
        self.generation = int(self._store.settings().get("journal_generation", 0))
        self.enabled = enabled and size > 0

    @property
    def size(self) -> int:
        """The most entries kept."""
        return self._size

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        started: float,
        fields: RequestSummary | None = None,
        fault: str | None = None,
        generation: int | None = None,
        note: str | None = None,
    ) -> None:
        """Append an entry; ``started`` is the request's ``time.monotonic()`` start and
        ``generation`` the journal's when it started (stale entries are dropped)."""
        if not self.enabled:
            return
        f = fields or _NO_FIELDS
        row: Entry = (
            time.time(),
            method,
            path,
            status,
            round((time.monotonic() - started) * 1000, 3),
            f.grant_type,
            f.client_id,
            " ".join(f.audiences),
            " ".join(f.scopes),
            fault,
            note,
        )
        gen = self.generation if generation is None else generation
        with self._lock:
            self._pending.setdefault(gen, []).append(row)
            if self._scheduled:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None  # no event loop here: write now
            if loop is not None:
                # After a quiet spell at the end of this turn; under load, at most every
                # FLUSH_DELAY, for all that finished meanwhile.
                wait = self._last_flush + FLUSH_DELAY - time.monotonic()
                if wait > 0:
                    loop.call_later(wait, self.flush)
                else:
                    loop.call_soon(self.flush)
                self._scheduled = True
                return
        self.flush()

    def flush(self) -> None:
        """Write the buffered entries to the store."""
        with self._lock:
            rows, self._pending = self._pending, {}
            self._scheduled = False
            self._last_flush = time.monotonic()
        self._store.append_journal(rows, self._size)

    def entries(
        self,
        *,
        path: str | None = None,
        client_id: str | None = None,
        status: int | None = None,
        fault: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Entries oldest first, filtered; ``since`` keeps entries with a larger ``seq``,
        ``limit`` keeps the most recent ones."""
        self.flush()
        rows = self._store.journal(self.generation)
        newest = max((row.seq for row in rows), default=0) - self._size  # the store keeps more
        found = [
            _entry(row)
            for row in rows
            if row.seq > newest
            and (path is None or row.path == path)
            and (client_id is None or row.client_id == client_id)
            and (status is None or row.status == status)
            and (fault is None or row.fault == fault)
            and (since is None or row.seq > since)
        ]
        if limit is None:
            return found
        return found[len(found) - limit :] if limit else []

    def clear(self) -> int:
        """Forget every entry (sequence numbers keep counting); return how many there were."""
        self.flush()
        self.generation += 1
        return self._store.clear_journal(self.generation)

    def load(self, generation: int) -> None:
        """Take a generation started elsewhere (another worker cleared the journal)."""
        self.generation = generation

    def __len__(self) -> int:
        return len(self.entries())


_NO_FIELDS = RequestSummary()


def _entry(row: JournalRow) -> JournalEntry:
    return JournalEntry(
        seq=row.seq,
        time=row.time,
        method=row.method,
        path=row.path,
        status=row.status,
        duration_ms=row.duration_ms,
        grant_type=row.grant_type,
        client_id=row.client_id,
        audiences=row.audiences,
        scopes=row.scopes,
        fault=row.fault,
        note=row.note,
    )
