"""The request journal: a bounded record of every request, with no secret ever stored.

Redaction is by construction: an entry keeps only an allow-list of facts (method, path,
grant type, client id, audiences, scopes, status, fault). Client secrets, client
assertions, codes, passwords and tokens are never copied out of the request, so they
cannot leak through a query or a dump of the journal.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_SIZE = 1000
# The endpoint stores the parsed form here, so the journal need not parse the body again.
FORM_SCOPE_KEY = "mockauth.form"


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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audiences"] = list(self.audiences)
        out["scopes"] = list(self.scopes)
        return out


@dataclass(frozen=True, slots=True)
class RequestFields:
    """The allow-listed request parameters an entry may keep."""

    grant_type: str | None = None
    client_id: str | None = None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> RequestFields:
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
        return cls(grant_type, client_id, tuple(dict.fromkeys(audiences)), tuple(scopes))


def remember_form(scope: MutableMapping[str, Any], pairs: Iterable[tuple[str, str]]) -> None:
    """Called by the token endpoint once it has parsed the form (one dict store)."""
    scope[FORM_SCOPE_KEY] = pairs


def remembered_form(scope: Mapping[str, Any]) -> Iterable[tuple[str, str]] | None:
    pairs: Iterable[tuple[str, str]] | None = scope.get(FORM_SCOPE_KEY)
    return pairs


# What record() stores: building a frozen JournalEntry costs more than the whole journal
# budget on the hot path, so entries are plain tuples until someone reads them.
_Row = tuple[int, float, str, str, int | None, float, RequestFields | None, str | None]
_NO_FIELDS = RequestFields()


class Journal:
    """Thread-safe, bounded (oldest entries dropped first) request journal."""

    def __init__(self, size: int = DEFAULT_SIZE, *, enabled: bool = True) -> None:
        if size < 0:
            raise ValueError(f"journal size must be >= 0: {size}")
        self._rows: deque[_Row] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0
        # Bumped by clear(): requests that started before it are not recorded after it, so a
        # test never sees a straggler from the test before.
        self.generation = 0
        # Off in multi-worker servers: each process would hold a partial journal nobody reads.
        self.enabled = enabled and size > 0

    @property
    def size(self) -> int:
        """The most entries kept."""
        return self._rows.maxlen or 0

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        started: float,
        fields: RequestFields | None = None,
        fault: str | None = None,
        generation: int | None = None,
    ) -> None:
        """Append an entry; ``started`` is the request's ``time.monotonic()`` start and
        ``generation`` the journal's when it started (stale entries are dropped)."""
        duration = round((time.monotonic() - started) * 1000, 3)
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._seq += 1
            self._rows.append(
                (self._seq, time.time(), method, path, status, duration, fields, fault)
            )

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
        with self._lock:
            snapshot = list(self._rows)
        found = [
            entry
            for entry in map(_entry, snapshot)
            if (path is None or entry.path == path)
            and (client_id is None or entry.client_id == client_id)
            and (status is None or entry.status == status)
            and (fault is None or entry.fault == fault)
            and (since is None or entry.seq > since)
        ]
        if limit is None:
            return found
        return found[len(found) - limit :] if limit else []

    def clear(self) -> int:
        """Forget every entry (sequence numbers keep counting); return how many there were."""
        with self._lock:
            count = len(self._rows)
            self._rows.clear()
            self.generation += 1
        return count

    def __len__(self) -> int:
        return len(self._rows)


def _entry(row: _Row) -> JournalEntry:
    seq, when, method, path, status, duration, fields, fault = row
    fields = fields or _NO_FIELDS
    return JournalEntry(
        seq=seq,
        time=when,
        method=method,
        path=path,
        status=status,
        duration_ms=duration,
        grant_type=fields.grant_type,
        client_id=fields.client_id,
        audiences=fields.audiences,
        scopes=fields.scopes,
        fault=fault,
    )
