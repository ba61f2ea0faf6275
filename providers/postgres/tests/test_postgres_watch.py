"""watch() on the real server: notices from other processes, after a lost connection, long ids."""

from __future__ import annotations

import asyncio
import logging
import sys
from urllib.parse import urlsplit

import psycopg
import pytest

from beluga_workflow import WorkflowState
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_postgres import PostgresStore
from beluga_workflow_postgres.listen import channel_name

BOUND = 10.0

WRITER = """
import asyncio, sys
from beluga_workflow import WorkflowState
from beluga_workflow_postgres import PostgresStore

async def main():
    async with PostgresStore(sys.argv[1], schema=sys.argv[2]) as store:
        await store.save(WorkflowState(workflow_id="from-another-process"))

asyncio.run(main())
"""


async def _until(watcher: object, wanted: str | None) -> None:
    async with asyncio.timeout(BOUND):
        async for item in watcher:  # type: ignore[attr-defined]
            if item == wanted:
                return


async def test_a_watcher_sees_a_write_made_by_another_process(
    postgres_url: str, schema: str
) -> None:
    async with PostgresStore(postgres_url, schema=schema) as store:
        watcher = store.watch()
        assert await anext(watcher) is None

        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, postgres_url, schema
        )
        assert await writer.wait() == 0

        await _until(watcher, "from-another-process")
        await watcher.aclose()


async def test_after_a_cut_connection_the_watcher_says_none_then_sees_later_writes(
    postgres_url: str, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    target = urlsplit(postgres_url)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    cut_url = f"postgresql://{target.username}:s3cret@{proxy.address}{target.path}"
    async with (
        PostgresStore(cut_url, schema=schema) as watched,
        PostgresStore(postgres_url, schema=schema) as writer,
    ):
        watcher = watched.watch()
        assert await anext(watcher) is None

        await proxy.stop()
        await writer.save(WorkflowState(workflow_id="while-cut"))
        await proxy.start()

        await _until(watcher, None)
        await writer.save(WorkflowState(workflow_id="after-the-cut"))
        await _until(watcher, "after-the-cut")
        await watcher.aclose()
    await proxy.close()
    assert "lost its connection" in caplog.text
    assert "s3cret" not in caplog.text


async def test_an_id_too_long_to_notify_is_written_and_comes_as_none(
    postgres_url: str, schema: str
) -> None:
    long_id = "é" * 5000  # 10,000 bytes: more than a notification carries
    async with PostgresStore(postgres_url, schema=schema) as store:
        watcher = store.watch()
        assert await anext(watcher) is None

        await store.save(WorkflowState(workflow_id=long_id))

        async with asyncio.timeout(BOUND):
            assert await anext(watcher) is None
        assert await store.load(long_id) is not None
        await watcher.aclose()


async def test_writes_in_another_schema_do_not_wake_the_watcher(
    postgres_url: str, schema: str
) -> None:
    async with (
        PostgresStore(postgres_url, schema=schema) as store,
        PostgresStore(postgres_url, schema=schema + "_other") as neighbour,
    ):
        watcher = store.watch()
        assert await anext(watcher) is None

        await neighbour.save(WorkflowState(workflow_id="next-door"))
        await store.save(WorkflowState(workflow_id="at-home"))

        async with asyncio.timeout(BOUND):
            assert await anext(watcher) == "at-home"
        await watcher.aclose()


async def test_closing_the_store_closes_the_listening_connection_of_an_idle_watcher(
    postgres_url: str, schema: str
) -> None:
    listening = f'LISTEN "{channel_name(schema)}"'
    store = PostgresStore(postgres_url, schema=schema)
    watcher = store.watch()
    assert await anext(watcher) is None
    assert await _sessions(postgres_url, listening) == 1

    await store.close()  # nobody is reading the watcher now

    async with asyncio.timeout(BOUND):  # the server ends the session after the client left
        while True:
            if not await _sessions(postgres_url, listening):
                break
            await asyncio.sleep(0.01)
    await watcher.aclose()


async def _sessions(url: str, query: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        cursor = await db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()",
            (query,),
        )
        found = await cursor.fetchone()
    return int(found[0]) if found else 0
