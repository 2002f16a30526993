"""The tenant store: SQLite files in the state dir shared by workers, or in memory."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockauth.errors import StoreError
from mockauth.tenant.memory import memory_store
from mockauth.tenant.rows import Entry
from mockauth.tenant.sqlite import INSTANCES_DIR, STORE_FILE, open_store
from mockauth.tenant.store import PRUNE_GRACE, Store


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = memory_store() if request.param == "memory" else open_store(tmp_path)
    yield made
    made.close()


def entries(generation: int, *items: tuple[float, str]) -> dict[int, list[Entry]]:
    return {generation: [(w, "GET", p, 200, 1.0, None, None, "", "", None, None) for w, p in items]}


def test_an_id_is_spent_once_across_every_worker(tmp_path: Path) -> None:
    one = open_store(tmp_path)
    two = open_store(tmp_path, instance=one.instance)  # another worker of the same server
    other_server = open_store(tmp_path)  # another server on the same state dir
    until = time.time() + 3600
    assert one.spend("abc", until)
    assert not two.spend("abc", until) and not other_server.spend("abc", until)
    assert two.is_spent("abc") and other_server.is_spent("abc")


def test_spent_ids_survive_a_restart_but_tenant_data_does_not(tmp_path: Path) -> None:
    first = open_store(tmp_path)
    first.spend("abc", time.time() + 3600)
    first.set_settings(marker=1)
    first.close()
    second = open_store(tmp_path)
    assert second.is_spent("abc")
    assert "marker" not in second.settings()
    assert [p.name for p in (tmp_path / INSTANCES_DIR).glob("*.db")] == [f"{second.instance}.db"]


def test_ids_are_pruned_by_real_time_only_a_grace_past_their_end(store: Store) -> None:
    now = time.time()
    store.spend("gone", now - PRUNE_GRACE - 1)
    store.spend("recent", now - 1)  # past its end, within the grace: may still be written
    store.spend("kept", now + 3600)
    store.note("gone-note", "x", now - PRUNE_GRACE - 1)
    store.revoke_family("gone-family", now - PRUNE_GRACE - 1)
    assert store.prune() == 3
    assert not store.is_spent("gone") and store.is_spent("recent") and store.is_spent("kept")
    assert store.note_of("gone-note") is None and store.family("gone-family") is None


def test_pruning_many_ids_goes_in_batches(store: Store) -> None:
    past = time.time() - PRUNE_GRACE - 1
    for i in range(12_000):
        store.spend(f"id{i}", past)
    assert store.prune() == 12_000
    assert store.prune() == 0  # none left behind
    assert not any(store.is_spent(f"id{i}") for i in range(12_000))


def test_a_family_moves_once_from_each_generation(store: Store) -> None:
    until = time.time() + 3600
    assert store.advance_family("f", [-1], 1, 10.0, until)
    assert not store.advance_family("f", [-1], 1, 11.0, until)  # a second first refresh
    assert store.advance_family("f", [1], 2, 12.0, until)
    family = store.family("f")
    assert family is not None and (family.generation, family.rotated_at) == (2, 12.0)
    store.revoke_family("f", until)
    assert not store.advance_family("f", [2], 3, 13.0, until)
    assert store.family("f").revoked  # type: ignore[union-attr]


def test_the_version_moves_with_every_tenant_change_and_only_then(store: Store) -> None:
    start = store.version()
    store.spend("x", time.time() + 60)
    store.append_journal(entries(0, (time.time(), "/")), keep=10)
    assert store.version() == start  # requests do not move it
    store.set_settings(clock={"offset": 5})
    assert store.version() == start + 1
    store.replace_entities({"apps": [("a", "{}")]})
    assert store.version() == start + 2
    assert store.entities() == {"apps": [("a", "{}")]}


def test_a_failed_change_changes_nothing(store: Store) -> None:
    store.replace_entities({"apps": [("a", "{}")]})
    version = store.version()

    def broken(
        entities: dict[str, list[tuple[str, str]]],
    ) -> tuple[dict[str, list[tuple[str, str]]], None]:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        store.update_entities(broken)
    assert store.entities() == {"apps": [("a", "{}")]} and store.version() == version


def test_the_journal_keeps_the_newest_entries_of_its_generation(store: Store) -> None:
    store.append_journal(entries(1, *((float(i), f"/{i}") for i in range(3))), keep=3)
    store.append_journal(entries(1, *((float(i), f"/{i}") for i in range(3, 5))), keep=3)
    # Whole writes go: at least the newest 3 are kept, numbered in the order written.
    kept = store.journal(1)
    assert [r.path for r in kept][-3:] == ["/2", "/3", "/4"] and len(kept) <= 5
    assert [r.seq for r in kept] == list(range(6 - len(kept), 6))
    store.append_journal(entries(1, (9.0, "/9")), keep=3)
    assert [r.path for r in store.journal(1)] == ["/3", "/4", "/9"]
    assert store.clear_journal(2) == 3  # the three kept
    assert store.journal(1) == [] and store.settings()["journal_generation"] == 2


def test_files_are_private_and_a_killed_servers_leftovers_are_removed(tmp_path: Path) -> None:
    first = open_store(tmp_path)
    assert stat.S_IMODE((tmp_path / STORE_FILE).stat().st_mode) == 0o600
    leftover = tmp_path / INSTANCES_DIR / f"{first.instance}.db"
    # A server killed without cleaning up: its lock is free, its files remain.
    os.close(os.open(tmp_path / INSTANCES_DIR / "dead.lock", os.O_CREAT | os.O_RDWR, 0o600))
    (tmp_path / INSTANCES_DIR / "dead.db").write_bytes(b"")
    second = open_store(tmp_path)
    assert not (tmp_path / INSTANCES_DIR / "dead.db").exists()
    assert leftover.exists()  # the first server still runs: its lock is held
    second.close()
    first.close()
    assert not leftover.exists()


def test_a_store_from_another_version_is_refused_with_how_to_recover(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(StoreError, match=r"schema 99.*delete it to start afresh"):
        open_store(tmp_path)


def test_a_damaged_store_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / STORE_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match=STORE_FILE):
        open_store(tmp_path)


def test_a_worker_cannot_join_a_server_that_is_gone(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no running server"):
        open_store(tmp_path, instance="0123456789abcdef")


def test_a_store_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    # As SQLite answers a read-only file (root ignores file modes, so ask SQLite directly).
    store._shared.execute("PRAGMA query_only = ON")
    try:
        with pytest.raises(StoreError, match=f"{tmp_path}.*readonly.*make it writable"):
            store.spend("x", time.time() + 60)
        assert not store.is_spent("x")
    finally:
        store.close()
