"""Queue entries in PostgreSQL: the ``queue_dispatch`` ability, one round trip per call.

``queue_entries`` holds one row per queued run (``holder`` set once claimed),
``queue_starts`` the claim times a rate limit counts. A claim is one call of
the ``claim_queued`` function, so one transaction: when the queue has a limit
shared by workers (``concurrency``, ``key_concurrency``, ``rate``) it first
takes a transaction-scoped advisory lock of the queue, so the counts it reads
are those it writes under; with only ``worker_concurrency`` the lock is the
holder's own. It then walks the ready rows in dispatch order with ``FOR
UPDATE SKIP LOCKED``, so rows another transaction is changing are passed
over instead of waited for. Each statement inside a (volatile) function sees
what committed before it began, so the counts taken after the lock include
every claim made before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.entries import QueueEntry

__all__ = ["QUEUE_MIGRATION", "QueueStatements", "claim_params", "entries_params", "to_entry"]

QUEUE_MIGRATION = [
    """
    CREATE TABLE {schema}.queue_entries (
        queue TEXT COLLATE "C" NOT NULL,
        workflow_id TEXT COLLATE "C" NOT NULL,
        run_id TEXT NOT NULL,
        priority INTEGER NOT NULL,
        enqueued_at DOUBLE PRECISION NOT NULL,
        key TEXT,
        dedup_key TEXT,
        holder TEXT,
        claimed_at DOUBLE PRECISION,
        PRIMARY KEY (queue, workflow_id)
    )
    """,
    "CREATE INDEX queue_entries_ready ON {schema}.queue_entries"
    " (queue, priority, enqueued_at, workflow_id) WHERE holder IS NULL",
    "CREATE INDEX queue_entries_held ON {schema}.queue_entries (queue, holder)"
    " WHERE holder IS NOT NULL",
    "CREATE UNIQUE INDEX queue_entries_dedup ON {schema}.queue_entries (queue, dedup_key)"
    " WHERE dedup_key IS NOT NULL",
    """
    CREATE TABLE {schema}.queue_starts (
        queue TEXT COLLATE "C" NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )
    """,
    "CREATE INDEX queue_starts_by_time ON {schema}.queue_starts (queue, at)",
    """
    CREATE FUNCTION {schema}.enqueue_entry(
        p_queue TEXT, p_id TEXT, p_run TEXT, p_priority INTEGER, p_at DOUBLE PRECISION,
        p_key TEXT, p_dedup TEXT
    ) RETURNS BOOLEAN LANGUAGE plpgsql AS $fn$
    DECLARE
        present TEXT;
    BEGIN
        SELECT run_id INTO present FROM {schema}.queue_entries
            WHERE queue = p_queue AND workflow_id = p_id FOR UPDATE;
        IF present = p_run THEN
            RETURN FALSE;
        END IF;
        IF p_dedup IS NOT NULL AND EXISTS (
            SELECT 1 FROM {schema}.queue_entries
            WHERE queue = p_queue AND dedup_key = p_dedup AND workflow_id <> p_id
        ) THEN
            RETURN FALSE;
        END IF;
        BEGIN
            INSERT INTO {schema}.queue_entries
                (queue, workflow_id, run_id, priority, enqueued_at, key, dedup_key)
                VALUES (p_queue, p_id, p_run, p_priority, p_at, p_key, p_dedup)
            ON CONFLICT (queue, workflow_id) DO UPDATE SET
                run_id = EXCLUDED.run_id, priority = EXCLUDED.priority,
                enqueued_at = EXCLUDED.enqueued_at, key = EXCLUDED.key,
                dedup_key = EXCLUDED.dedup_key, holder = NULL, claimed_at = NULL;
        EXCEPTION WHEN unique_violation THEN
            RETURN FALSE;  -- another workflow's entry took the dedup key meanwhile
        END;
        RETURN TRUE;
    END
    $fn$
    """,
    """
    CREATE FUNCTION {schema}.claim_queued(
        p_queue TEXT, p_holder TEXT, p_count INTEGER, p_now DOUBLE PRECISION,
        p_concurrency INTEGER, p_worker INTEGER, p_key INTEGER,
        p_rate_limit INTEGER, p_rate_period DOUBLE PRECISION
    ) RETURNS TABLE (
        o_workflow_id TEXT, o_run_id TEXT, o_priority INTEGER, o_enqueued_at DOUBLE PRECISION,
        o_key TEXT, o_dedup_key TEXT, o_next_start DOUBLE PRECISION
    ) LANGUAGE plpgsql AS $fn$
    DECLARE
        room INTEGER := p_count;
        taken INTEGER := 0;
        used INTEGER;
        e RECORD;
    BEGIN
        IF p_concurrency IS NOT NULL OR p_key IS NOT NULL OR p_rate_limit IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext({space}), hashtext(p_queue));
        ELSIF p_worker IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(
                hashtext({space}), hashtext(p_queue || chr(1) || p_holder));
        END IF;
        IF p_concurrency IS NOT NULL THEN
            SELECT count(*) INTO used FROM {schema}.queue_entries
                WHERE queue = p_queue AND holder IS NOT NULL;
            room := least(room, p_concurrency - used);
        END IF;
        IF p_worker IS NOT NULL THEN
            SELECT count(*) INTO used FROM {schema}.queue_entries
                WHERE queue = p_queue AND holder = p_holder;
            room := least(room, p_worker - used);
        END IF;
        IF p_rate_limit IS NOT NULL THEN
            DELETE FROM {schema}.queue_starts WHERE queue = p_queue AND at <= p_now - p_rate_period;
            SELECT count(*) INTO used FROM {schema}.queue_starts
                WHERE queue = p_queue AND at > p_now - p_rate_period;
            room := least(room, p_rate_limit - used);
        END IF;
        IF room > 0 THEN
            FOR e IN
                SELECT q.workflow_id, q.run_id, q.priority, q.enqueued_at, q.key, q.dedup_key
                FROM {schema}.queue_entries q
                WHERE q.queue = p_queue AND q.holder IS NULL
                ORDER BY q.priority, q.enqueued_at, q.workflow_id
                FOR UPDATE SKIP LOCKED
            LOOP
                EXIT WHEN taken >= room;
                IF p_key IS NOT NULL AND e.key IS NOT NULL THEN
                    SELECT count(*) INTO used FROM {schema}.queue_entries
                        WHERE queue = p_queue AND holder IS NOT NULL AND key = e.key;
                    CONTINUE WHEN used >= p_key;
                END IF;
                UPDATE {schema}.queue_entries SET holder = p_holder, claimed_at = p_now
                    WHERE queue = p_queue AND workflow_id = e.workflow_id;
                IF p_rate_limit IS NOT NULL THEN
                    INSERT INTO {schema}.queue_starts (queue, at) VALUES (p_queue, p_now);
                END IF;
                taken := taken + 1;
                o_workflow_id := e.workflow_id;
                o_run_id := e.run_id;
                o_priority := e.priority;
                o_enqueued_at := e.enqueued_at;
                o_key := e.key;
                o_dedup_key := e.dedup_key;
                o_next_start := NULL;
                RETURN NEXT;
            END LOOP;
        END IF;
        IF p_rate_limit IS NOT NULL AND taken < p_count THEN
            o_next_start := NULL;
            SELECT s.at + p_rate_period INTO o_next_start FROM {schema}.queue_starts s
                WHERE s.queue = p_queue AND s.at > p_now - p_rate_period
                ORDER BY s.at DESC OFFSET p_rate_limit - 1 LIMIT 1;
            IF o_next_start IS NOT NULL THEN
                o_workflow_id := NULL;
                RETURN NEXT;  -- a row without an id: when the rate window opens
            END IF;
        END IF;
    END
    $fn$
    """,
]
"""Schema version 2. ``{space}`` is the schema name as a literal: the lock's key space."""


class QueueStatements:
    """The SQL of the four queue calls, bound to one schema."""

    def __init__(self, schema: str) -> None:
        name = sql.Identifier(schema)
        columns = sql.SQL(
            "queue, workflow_id, run_id, enqueued_at, priority, key, dedup_key, holder, claimed_at"
        )
        self.enqueue = _render(
            sql.SQL(
                "SELECT e.workflow_id FROM unnest(%(queues)s::text[], %(ids)s::text[],"
                " %(runs)s::text[], %(priorities)s::integer[], %(times)s::float8[],"
                " %(keys)s::text[], %(dedups)s::text[]) WITH ORDINALITY"
                " AS e(queue, workflow_id, run_id, priority, enqueued_at, key, dedup_key, n)"
                " WHERE {schema}.enqueue_entry(e.queue, e.workflow_id, e.run_id, e.priority,"
                " e.enqueued_at, e.key, e.dedup_key) ORDER BY e.n"
            ).format(schema=name)
        )
        self.claim = _render(
            sql.SQL(
                "SELECT * FROM {schema}.claim_queued(%(queue)s, %(holder)s, %(count)s, %(now)s,"
                " %(concurrency)s, %(worker)s, %(key)s, %(rate_limit)s, %(rate_period)s)"
            ).format(schema=name)
        )
        self.release = _render(
            sql.SQL(
                "WITH gone AS (DELETE FROM {entries} q USING unnest(%(queues)s::text[],"
                " %(ids)s::text[], %(runs)s::text[]) AS r(queue, workflow_id, run_id)"
                " WHERE q.queue = r.queue AND q.workflow_id = r.workflow_id"
                " AND q.run_id = r.run_id RETURNING 1) SELECT count(*) FROM gone"
            ).format(entries=sql.Identifier(schema, "queue_entries"))
        )
        self.queued = _render(
            sql.SQL(
                "SELECT {columns} FROM {entries} WHERE queue = %(queue)s"
                " ORDER BY priority, enqueued_at, workflow_id"
            ).format(columns=columns, entries=sql.Identifier(schema, "queue_entries"))
        )


def entries_params(entries: Sequence[QueueEntry]) -> dict[str, Any]:
    return {
        "queues": [e.queue for e in entries],
        "ids": [e.workflow_id for e in entries],
        "runs": [e.run_id for e in entries],
        "priorities": [e.priority for e in entries],
        "times": [e.enqueued_at for e in entries],
        "keys": [e.key for e in entries],
        "dedups": [e.dedup_key for e in entries],
    }


def claim_params(queue: Queue, holder: str, count: int, now: float) -> dict[str, Any]:
    rate = queue.rate
    return {
        "queue": queue.name,
        "holder": holder,
        "count": count,
        "now": now,
        "concurrency": queue.concurrency,
        "worker": queue.worker_concurrency,
        "key": queue.key_concurrency,
        "rate_limit": None if rate is None else rate.limit,
        "rate_period": None if rate is None else rate.period,
    }


def to_entry(row: Sequence[Any]) -> QueueEntry:
    """A row of ``queued`` (its columns in :class:`QueueEntry` order) as an entry."""
    queue, workflow_id, run_id, enqueued_at, priority, key, dedup_key, holder, claimed_at = row
    return QueueEntry(
        queue=queue,
        workflow_id=workflow_id,
        run_id=run_id,
        enqueued_at=enqueued_at,
        priority=priority,
        key=key,
        dedup_key=dedup_key,
        holder=holder,
        claimed_at=claimed_at,
    )


def _render(statement: sql.Composable) -> bytes:
    return statement.as_bytes(None)
