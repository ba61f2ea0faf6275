"""Tables of the PostgreSQL store and their migrations, versioned in a meta table.

Version 2 adds the queue entries (``queue_entries``, ``queue_starts``) and the
two functions that change them in one round trip each (see
:mod:`beluga_workflow_postgres.queues`).

Two stores opening a new schema at once take a transaction-scoped advisory
lock, so exactly one creates it and the other sees the result.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from beluga_workflow.errors import StoreError
from beluga_workflow_postgres.queues import QUEUE_MIGRATION

__all__ = ["SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """
        CREATE TABLE {schema}.workflows (
            workflow_id TEXT COLLATE "C" PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            version BIGINT NOT NULL,
            history_len INTEGER NOT NULL,
            head TEXT NOT NULL
        )
        """,
        "CREATE INDEX workflows_by_status ON {schema}.workflows (status, created_at, workflow_id)",
        "CREATE INDEX workflows_by_created ON {schema}.workflows (created_at, workflow_id)",
        """
        CREATE TABLE {schema}.history_events (
            workflow_id TEXT COLLATE "C" NOT NULL,
            seq INTEGER NOT NULL,
            event TEXT NOT NULL,
            PRIMARY KEY (workflow_id, seq)
        )
        """,
    ],
    2: QUEUE_MIGRATION,
}


async def migrate(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Create or upgrade the tables in ``schema`` to :data:`SCHEMA_VERSION`."""
    name = sql.Identifier(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"beluga:{schema}",))
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        await conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.meta (schema_version INTEGER NOT NULL)").format(
                name
            )
        )
        cursor = await conn.execute(sql.SQL("SELECT schema_version FROM {}.meta").format(name))
        row = await cursor.fetchone()
        current = 0 if row is None else int(row[0])
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"postgres schema {schema!r} has version {current}, newer than the "
                f"{SCHEMA_VERSION} this beluga-workflow-postgres understands; upgrade the package"
            )
        for target in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                await conn.execute(
                    sql.SQL(statement).format(schema=name, space=sql.Literal(schema))
                )
        if current == 0:
            await conn.execute(
                sql.SQL("INSERT INTO {}.meta (schema_version) VALUES (%s)").format(name),
                (SCHEMA_VERSION,),
            )
        elif current < SCHEMA_VERSION:
            await conn.execute(
                sql.SQL("UPDATE {}.meta SET schema_version = %s").format(name), (SCHEMA_VERSION,)
            )
