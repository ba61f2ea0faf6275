"""The PostgreSQL queue table: a schema made before it existed is upgraded in place."""

from __future__ import annotations

import psycopg
from psycopg import sql

from beluga_workflow import Queue
from beluga_workflow.queues.entries import QueueEntry
from beluga_workflow_postgres import PostgresStore
from beluga_workflow_postgres.schema import _MIGRATIONS, SCHEMA_VERSION


def _make_version_1(url: str, schema: str) -> None:
    name = sql.Identifier(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
        conn.execute(sql.SQL("CREATE TABLE {}.meta (schema_version INTEGER NOT NULL)").format(name))
        for statement in _MIGRATIONS[1]:
            conn.execute(sql.SQL(statement).format(schema=name))
        conn.execute(sql.SQL("INSERT INTO {}.meta VALUES (1)").format(name))


async def test_a_version_1_schema_gains_the_queue_table(postgres_url: str, schema: str) -> None:
    _make_version_1(postgres_url, schema)
    store = PostgresStore(postgres_url, schema=schema)
    try:
        entry = QueueEntry(queue="q", workflow_id="w", run_id="r", enqueued_at=1.0)
        assert await store.enqueue([entry]) == ["w"]
        claim = await store.claim_queued(Queue(name="q", concurrency=1), "h", 5, 2.0)
        assert [e.workflow_id for e in claim.entries] == ["w"]
    finally:
        await store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        query = sql.SQL("SELECT schema_version FROM {}.meta").format(sql.Identifier(schema))
        row = conn.execute(query).fetchone()
    assert row == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 2
