"""The tenant store in memory, for in-process tests and tools that mint without a server.

The same store, on SQLite's in-memory databases: one process, no files, gone when closed.
"""

from __future__ import annotations

import sqlite3

from mockauth.tenant.rows import (
    INSTANCE_SCHEMA,
    INSTANCE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SHARED_SCHEMA,
)
from mockauth.tenant.store import Store


def memory_store() -> Store:
    """A fresh, empty store that lives as long as this object."""
    connections = []
    for schema, version in (
        (INSTANCE_SCHEMA, INSTANCE_SCHEMA_VERSION),
        (SHARED_SCHEMA, SCHEMA_VERSION),
    ):
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        db.executescript(schema)
        db.execute("INSERT INTO meta (name, value) VALUES ('schema', ?)", (str(version),))
        connections.append(db)
    return Store(connections[0], connections[1], where="memory")
