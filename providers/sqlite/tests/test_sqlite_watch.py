"""watch() on SQLite: other processes' writes by polling, old files, pruned notices, :memory:."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from beluga_workflow import WorkflowState
from beluga_workflow_sqlite import SQLiteStore, changes, schema
from beluga_workflow_sqlite.changes import ChangeFeed
from beluga_workflow_sqlite.config import SQLiteConfig

BOUND = 5.0

WRITER = """
import asyncio, sys
from beluga_workflow import WorkflowState
from beluga_workflow_sqlite import SQLiteStore

async def main():
    async with SQLiteStore(sys.argv[1]) as store:
        await store.save(WorkflowState(workflow_id="from-another-process"))

asyncio.run(main())
"""


async def _until(watcher: AsyncIterator[str | None], wanted: str) -> None:
    async with asyncio.timeout(BOUND):
        async for item in watcher:
            if item == wanted:
                return


async def test_a_watcher_sees_a_write_made_by_another_process(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    async with SQLiteStore(config=SQLiteConfig(path=path, watch_interval=0.01)) as store:
        watcher = store.watch()
        assert await anext(watcher) is None

        writer = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, path)
        assert await writer.wait() == 0

        await _until(watcher, "from-another-process")
        await watcher.aclose()


async def test_a_file_of_schema_version_1_is_migrated_and_watched(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as old:
        for statement in schema._MIGRATIONS[1]:
            old.execute(statement)
        old.execute("PRAGMA user_version = 1")
    old.close()
    async with SQLiteStore(path) as watched, SQLiteStore(path) as writer:
        watcher = watched.watch()
        assert await anext(watcher) is None

        await writer.save(WorkflowState(workflow_id="after-the-upgrade"))

        await _until(watcher, "after-the-upgrade")
        await watcher.aclose()
        assert await watched.load("after-the-upgrade") is not None
    with sqlite3.connect(path) as upgraded:
        assert upgraded.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    upgraded.close()


async def test_a_feed_whose_next_notices_were_pruned_says_none_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "_PRUNE_EVERY", 4)
    monkeypatch.setattr(changes, "KEPT", 2)
    path = str(tmp_path / "runs.db")
    async with SQLiteStore(path) as store:
        await store.save(WorkflowState(workflow_id="before"))
        feed = ChangeFeed(path)
        for n in range(8):
            await store.save(WorkflowState(workflow_id=f"wf-{n}"))

        pruned, rows = feed.poll()
        feed.close()

    ids = [workflow_id for _, workflow_id in rows]
    assert pruned
    assert ids[-1] == "wf-7"
    assert "wf-0" not in ids


async def test_a_feed_reads_nothing_when_nothing_was_committed(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    async with SQLiteStore(path) as store:
        await store.save(WorkflowState(workflow_id="before"))
        feed = ChangeFeed(path)
        assert feed.poll() == (False, [])
        await store.delete("before")
        pruned, rows = feed.poll()
        assert not pruned
        assert [workflow_id for _, workflow_id in rows] == ["before"]
        assert feed.poll() == (False, [])
        feed.close()


async def test_a_watcher_is_told_of_each_write_of_its_own_store_once(tmp_path: Path) -> None:
    """Told at once and found again by the poll, a write would read as another process's."""
    path = str(tmp_path / "runs.db")
    config = SQLiteConfig(path=path, watch_interval=0.01)
    async with SQLiteStore(config=config) as store, SQLiteStore(path) as other:
        watcher = store.watch()
        assert await anext(watcher) is None
        for n in range(20):
            await store.save(WorkflowState(workflow_id=f"own-{n}"))
            if n % 5 == 0:
                await asyncio.sleep(0.03)  # some found by the poll before they are told
        await other.save(WorkflowState(workflow_id="last"))  # another store's: polled only
        seen = []
        async with asyncio.timeout(BOUND):
            while "last" not in seen:
                seen.append(await anext(watcher))
        await asyncio.sleep(0.05)  # a late duplicate would have come by now
        await other.save(WorkflowState(workflow_id="after"))
        async with asyncio.timeout(BOUND):
            while seen[-1] != "after":
                seen.append(await anext(watcher))
        await watcher.aclose()
    assert seen == [f"own-{n}" for n in range(20)] + ["last", "after"]


def test_delivered_hands_each_change_over_once_whichever_comes_first() -> None:
    delivered = changes.Delivered()
    assert delivered.tell(1)  # told at once, polled later: skipped by the poll
    assert delivered.polled([(1, "a"), (2, "b")]) == ["b"]
    assert not delivered.tell(2)  # polled first: not told again
    assert delivered.tell(3)
    assert delivered.polled([(3, "c"), (4, "d")]) == ["d"]
    assert delivered.polled([]) == []


async def test_an_in_memory_database_tells_its_own_writes() -> None:
    async with SQLiteStore(":memory:") as store:
        watcher = store.watch()
        assert await anext(watcher) is None

        await store.save(WorkflowState(workflow_id="in-memory"))

        async with asyncio.timeout(BOUND):
            assert await anext(watcher) == "in-memory"
        await watcher.aclose()


def test_the_poll_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="watch_interval"):
        SQLiteConfig(path="runs.db", watch_interval=0)
