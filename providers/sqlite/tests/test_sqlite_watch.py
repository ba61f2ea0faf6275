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

        notices = feed.poll()
        feed.close()

    assert notices[0] is None
    assert notices[-1] == "wf-7"
    assert "wf-0" not in notices


async def test_a_feed_reads_nothing_when_nothing_was_committed(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    async with SQLiteStore(path) as store:
        await store.save(WorkflowState(workflow_id="before"))
        feed = ChangeFeed(path)
        assert feed.poll() == []
        await store.delete("before")
        assert feed.poll() == ["before"]
        assert feed.poll() == []
        feed.close()


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
