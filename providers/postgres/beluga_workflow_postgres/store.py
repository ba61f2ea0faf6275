"""The PostgreSQL store: one statement per operation on a pooled connection.

Layout (in the configured schema): ``workflows`` holds every field but the
history as JSON text, plus the columns listing and concurrency need;
``history_events`` holds the history in runs of consecutive events: a row's
``seq`` is the index of its first event and its ``event`` text is those
events' JSON objects joined by commas. A save writes the whole history as one
row at ``seq`` 0; a workflow step (``append``) inserts one row holding just
its new events, so its cost does not grow with the history. Each operation
is a single SQL statement (data-modifying CTEs), so it is atomic in autocommit
mode and costs one round trip.

Every write first takes the workflow's row (upsert or update), so writers of
one id are serialized; reads take only the rows starting before
``history_len``, so a row left by a concurrent writer whose commit the
statement's snapshot did not see is never mistaken for part of the history.

Every call (opening the pool, waiting for a connection and the statement)
runs under one bound, ``operation_timeout``. A call waiting for a
connection gives up at once when the pool's attempt to open one fails (the
server refuses or is gone), and a pooled connection that the server closed
while it sat idle is dropped before use, so once the server is back the
first call works.

JSON is kept as text rather than JSONB: JSONB would turn ``1.0`` into ``1``,
lose ``-0.0`` and refuse ``\\u0000``, and the contract requires them back
exactly.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from beluga_workflow.bounded import ANSWER, ConnectWatch, set_stage
from beluga_workflow.errors import ProviderConfigError, StoreUnavailableError
from beluga_workflow.listing import StateList
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.entries import (
    QueueClaim,
    QueueEntry,
    require_claim,
    require_entries,
    require_queue_name,
)
from beluga_workflow.redaction import redact_text
from beluga_workflow.storekit.backend import backend_errors
from beluga_workflow.storekit.base import ServerStore
from beluga_workflow.storekit.checks import (
    require_filter,
    require_state,
    require_step,
    require_workflow_id,
)
from beluga_workflow.storekit.conflicts import step_conflict
from beluga_workflow.storekit.frames import AppendFrame, CompareAndSaveFrame
from beluga_workflow.storekit.records import StateRecord, decode_state_parts
from beluga_workflow.watching import Watchers
from beluga_workflow_postgres.config import PostgresConfig
from beluga_workflow_postgres.listen import MAX_PAYLOAD_BYTES, channel_name, listen
from beluga_workflow_postgres.queues import (
    QueueStatements,
    claim_params,
    entries_params,
    to_entry,
)
from beluga_workflow_postgres.schema import migrate

__all__ = ["PostgresStore", "create_store"]

T = TypeVar("T")
_Ids = list[str]
_Entries = list[QueueEntry]
Connection = psycopg.AsyncConnection[Any]
_REFUSED_BEFORE_CONNECTING = "connection is bad: "
"""psycopg's prefix when libpq gives up at once, before any server answered."""
_NETWORK_FAILURE = "connection to server"
"""libpq's prefix when it did try a server (a missing socket fails at once too)."""


def create_store(config: PostgresConfig) -> PostgresStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return PostgresStore(config)


class PostgresStore(AppendFrame, CompareAndSaveFrame, ServerStore[PostgresConfig]):
    """A durable :class:`~beluga_workflow.WorkflowStore` in PostgreSQL.

    Also implements ``append``, ``compare_and_save`` and ``compare_and_append``
    (the append's statement, conditional on the version too), ``watch``
    (LISTEN/NOTIFY: each write notifies in its own statement) and
    ``queue_dispatch`` (a queue table claimed with ``FOR UPDATE SKIP LOCKED``). ``list`` is
    ordered by ``created_at`` then ``workflow_id`` (byte order). The pool
    opens on the first operation; ``close()`` closes it and ends the watchers.
    """

    provider = "postgres"
    config_model = PostgresConfig
    library_loggers: ClassVar[tuple[str, ...]] = ("psycopg",)

    def __init__(self, config: PostgresConfig | str, **options: Any) -> None:
        super().__init__(config, **options)
        self._pool: _Pool | None = None
        self._watch = ConnectWatch()
        self._open_lock: asyncio.Lock | None = None
        self._sql = _Statements(self.config.schema_name)
        self._queue_sql = QueueStatements(self.config.schema_name)
        self._watchers = Watchers()

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        await self._execute("save", self._sql.save, _row(state))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)

        async def load(conn: Connection) -> WorkflowState | None:
            cursor = await conn.execute(self._sql.load, {"id": workflow_id})
            found = await cursor.fetchone()
            return None if found is None else _assemble(workflow_id, found[0], found[1])

        return await self._with_connection("load", load)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        params: dict[str, Any] = {
            "status": None if wanted.status is None else wanted.status.value,
            "limit": wanted.limit or None,
        }
        statement = self._sql.list_all if wanted.status is None else self._sql.list_by_status

        async def fetch(conn: Connection) -> list[WorkflowState]:
            cursor = await conn.execute(statement, params)
            listing = StateList()
            for wid, head, events in await cursor.fetchall():
                listing.add(_assemble, wid, head, events)
            return listing

        return await self._with_connection("list", fetch)

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        await self._execute("delete", self._sql.delete, {"id": workflow_id})

    async def append_if_length(self, state: WorkflowState, kept: int) -> bool:
        row = _row(state, first_event=kept)
        row["kept"] = kept

        async def append(conn: Connection) -> bool:
            if await _counted(conn, self._sql.append, row):
                return True
            require_state(state)  # nothing stored, or another writer moved it on
            return await _counted(conn, self._sql.create_if_absent, _row(state))

        return await self._with_connection("append", append)

    async def save_if_version(self, state: WorkflowState, expected: int) -> bool:
        row = _row(state)
        row["expected"] = expected
        statement = self._sql.create_if_absent if expected == 0 else self._sql.replace_if

        async def compare(conn: Connection) -> bool:
            return await _counted(conn, statement, row)

        return await self._with_connection("compare_and_save", compare)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept, versioned = require_step(state, new_events, expected_version)
        new_version = versioned.version
        step = _row(versioned, first_event=kept)
        step.update(kept=kept, expected=expected_version)
        # Version 0 is also "nothing stored": then the state is created whole,
        # so all of it is checked and encoded now, before any await.
        whole = _row(require_state(versioned)) if expected_version == 0 else None

        async def compare(conn: Connection) -> int:
            if whole is not None and await _counted(conn, self._sql.create_if_absent, whole):
                return new_version
            if await _counted(conn, self._sql.append_if, step):
                return new_version
            raise step_conflict(step["id"], expected_version, kept)

        return await self._with_connection("compare_and_append", compare)

    # --- queue_dispatch (see beluga_workflow_postgres.queues) -------------------

    async def enqueue(self, entries: Sequence[QueueEntry]) -> _Ids:
        checked = require_entries(entries)
        if not checked:
            self.check_open()
            return []
        params = entries_params(checked)

        async def enqueue(conn: Connection) -> list[str]:
            cursor = await conn.execute(self._queue_sql.enqueue, params)
            return [row[0] for row in await cursor.fetchall()]

        return await self._with_connection("enqueue", enqueue)

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        params = claim_params(*require_claim(queue, holder, count, now))
        if count == 0:
            self.check_open()
            return QueueClaim([])

        async def claim(conn: Connection) -> QueueClaim:
            cursor = await conn.execute(self._queue_sql.claim, params)
            entries: list[QueueEntry] = []
            opens: float | None = None
            for wid, run, priority, enqueued_at, key, dedup, next_start in await cursor.fetchall():
                if wid is None:
                    opens = next_start
                    continue
                entries.append(
                    QueueEntry(queue.name, wid, run, enqueued_at, priority, key, dedup, holder, now)
                )
            return QueueClaim(entries, opens)

        return await self._with_connection("claim_queued", claim)

    async def release_queued(self, entries: Sequence[QueueEntry]) -> int:
        checked = require_entries(entries)
        if not checked:
            self.check_open()
            return 0
        params = entries_params(checked)

        async def release(conn: Connection) -> int:
            cursor = await conn.execute(self._queue_sql.release, params)
            found = await cursor.fetchone()
            return int(found[0]) if found else 0

        return await self._with_connection("release_queued", release)

    async def queued(self, queue: str) -> _Entries:
        name = require_queue_name(queue)

        async def fetch(conn: Connection) -> list[QueueEntry]:
            cursor = await conn.execute(self._queue_sql.queued, {"queue": name})
            return [to_entry(row) for row in await cursor.fetchall()]

        return await self._with_connection("queued", fetch)

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield ``None`` once listening, then the id of each state written in the schema.

        See :class:`~beluga_workflow.store.SupportsWatch`. Each watcher holds a
        connection of its own (not one of the pool's); after losing it, it
        connects again and yields ``None``. An id longer than a notification
        can carry comes as ``None`` too. Raises :class:`StoreClosedError` on a
        closed store.
        """
        self.check_open()
        subscription = self._watchers.subscribe()
        subscription.feed(listen(self.config, subscription))
        try:
            async for workflow_id in subscription:
                yield workflow_id
        finally:
            self._watchers.unsubscribe(subscription)
            await subscription.release()

    async def release(self) -> None:
        self._watchers.end_all()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # --- connections ----------------------------------------------------------

    async def _execute(self, operation: str, statement: bytes, params: dict[str, Any]) -> None:
        async def run(conn: Connection) -> None:
            await conn.execute(statement, params)

        await self._with_connection(operation, run)

    async def _with_connection(
        self, operation: str, work: Callable[[Connection], Awaitable[T]]
    ) -> T:
        self.check_open()

        async def attempt() -> T:
            pool = await self._open_pool()
            conn = await self._connection(pool)
            try:
                set_stage(ANSWER)
                return await work(conn)
            finally:
                await pool.putconn(conn)

        with backend_errors(self, (psycopg.Error,)):
            try:
                return await self._bound.run(
                    operation, attempt, outage=(PoolTimeout, psycopg.OperationalError, OSError)
                )
            except (StoreUnavailableError, PoolClosed) as exc:
                if self._pool is None and not self._closed:
                    refused = await self._refused_options()
                    if refused is not None:
                        raise refused from exc
                if isinstance(exc, PoolClosed):
                    raise self._bound.unavailable(operation, exc) from exc
                raise

    async def _connection(self, pool: _Pool) -> Connection:
        """A pooled connection that still has a server at the other end.

        While the pool has none idle (or its last attempt to connect failed),
        the wait ends at once when an attempt to connect fails. A connection
        whose socket has something to read while idle was most likely closed
        by the server (a restart, an outage): it is checked, and dropped if dead.
        """
        while True:
            set_stage("waiting for a pooled connection")
            if self._watch.failing or not pool.get_stats().get("pool_available", 0):
                conn = await self._watch.race(pool.getconn(), give_back=pool.putconn)
            else:
                conn = await pool.getconn()
            if await _alive(conn):
                return conn
            await conn.close()
            await pool.putconn(conn)  # closed: the pool drops it and opens another

    async def _open_pool(self) -> _Pool:
        if self._pool is not None:
            return self._pool
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pool is None:
                set_stage("connecting to the server")
                pool = _Pool(
                    self._watch,
                    self.config.url,
                    min_size=self.config.pool_min_size,
                    max_size=self.config.pool_max_size,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": max(1, round(self.config.connect_timeout)),
                    },
                    timeout=self.config.operation_timeout,
                    # No retrying in the background with growing pauses: a
                    # waiting call asks for a connection again, at once.
                    reconnect_timeout=0,
                    open=False,
                    name="beluga-workflow",
                )
                try:
                    opening = pool.open(wait=True, timeout=self.config.connect_timeout)
                    await self._watch.race(opening, give_back=_nothing)
                    async with pool.connection() as conn:
                        await migrate(conn, self.config.schema_name)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _refused_options(self) -> ProviderConfigError | None:
        """Why libpq refuses this store's options, if that is why the pool cannot open.

        The pool retries a refused connection until its timeout like an
        unreachable server, so a bad option (``sslmode=bogus``, a parameter
        libpq does not know) would read as an outage. libpq checks options
        before it contacts a server, so one direct attempt tells at once.
        """
        try:
            async with asyncio.timeout(min(1.0, self.config.connect_timeout)):
                conn = await psycopg.AsyncConnection.connect(self.config.url, connect_timeout=1)
        except psycopg.ProgrammingError as exc:
            return self._invalid_options(exc)
        except psycopg.OperationalError as exc:
            text = str(exc)
            detail = text.removeprefix(_REFUSED_BEFORE_CONNECTING)
            if text.startswith(_REFUSED_BEFORE_CONNECTING) and not detail.startswith(
                _NETWORK_FAILURE
            ):
                return self._invalid_options(exc)
            return None
        except (TimeoutError, OSError, psycopg.Error):
            return None
        await conn.close()
        return None

    def _invalid_options(self, exc: BaseException) -> ProviderConfigError:
        detail = redact_text(str(exc).removeprefix(_REFUSED_BEFORE_CONNECTING).strip())
        return ProviderConfigError(
            f"invalid configuration for store provider 'postgres' ({self.config.address}): "
            f"libpq refuses the connection options: {_first_line(detail, exc)}"
        )


class _Pool(AsyncConnectionPool[Connection]):
    """The pool, telling the store's :class:`ConnectWatch` how each attempt to connect went."""

    def __init__(self, watch: ConnectWatch, conninfo: str, **options: Any) -> None:
        self._watch = watch
        super().__init__(conninfo, **options)

    async def _connect(self, timeout: float | None = None) -> Connection:  # noqa: ASYNC109
        try:
            conn = await super()._connect(timeout)
        except Exception as exc:
            self._watch.failed(exc)
            raise
        self._watch.succeeded()
        return conn


async def _alive(conn: Connection) -> bool:
    """False when ``conn`` is closed, or its idle socket says the server went away."""
    if conn.closed or conn.broken:
        return False
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if not readable:
        return True  # the usual case: no round trip spent
    try:  # a notice, or the end of the connection
        await conn.execute("")
    except psycopg.Error:
        return False
    return True


async def _nothing(_: object) -> None:
    return None


def _first_line(text: str, exc: BaseException) -> str:
    return text.splitlines()[0] if text else type(exc).__name__


# --- statements ------------------------------------------------------------------


class _Statements:
    """The SQL of every operation, bound to one schema.

    A write that replaces the history deletes every row but ``seq`` 0 and
    upserts that one: the two sets never meet, which a single statement needs.
    """

    def __init__(self, schema: str) -> None:
        workflows = sql.Identifier(schema, "workflows")
        events = sql.Identifier(schema, "history_events")
        # Counting the notices counts the rows of head (one or none) and makes
        # PostgreSQL call pg_notify, which a CTE nobody reads would not.
        noticed = sql.SQL(
            "SELECT count(*) FROM (SELECT pg_notify({channel},"
            " CASE WHEN octet_length(%(id)s) <= {limit} THEN %(id)s ELSE '' END)"
            " FROM head) noticed"
        ).format(channel=sql.Literal(channel_name(schema)), limit=sql.Literal(MAX_PAYLOAD_BYTES))
        write_events = sql.SQL(
            "INSERT INTO {events} (workflow_id, seq, event)"
            " SELECT %(id)s, 0, %(events)s WHERE %(n)s > 0 AND EXISTS (SELECT 1 FROM head)"
            " ON CONFLICT (workflow_id, seq) DO UPDATE SET event = EXCLUDED.event"
        ).format(events=events)
        trim_events = sql.SQL(
            "DELETE FROM {events} WHERE workflow_id = %(id)s AND (seq > 0 OR %(n)s = 0)"
            " AND EXISTS (SELECT 1 FROM head)"
        ).format(events=events)
        columns = sql.SQL("(workflow_id, status, created_at, version, history_len, head)")
        values = sql.SQL("(%(id)s, %(status)s, %(created_at)s, %(version)s, %(n)s, %(head)s)")
        assign = sql.SQL(
            "status = EXCLUDED.status, created_at = EXCLUDED.created_at,"
            " version = EXCLUDED.version, history_len = EXCLUDED.history_len,"
            " head = EXCLUDED.head"
        )
        update_head = sql.SQL(
            "UPDATE {w} SET status = %(status)s, created_at = %(created_at)s,"
            " version = %(version)s, history_len = %(n)s, head = %(head)s"
        ).format(w=workflows)
        self.save = _render(
            sql.SQL(
                "WITH head AS (INSERT INTO {w} {columns} VALUES {values}"
                " ON CONFLICT (workflow_id) DO UPDATE SET {assign} RETURNING 1),"
                " trimmed AS ({trim}), written AS ({write} RETURNING 1) {noticed}"
            ).format(
                w=workflows,
                columns=columns,
                values=values,
                assign=assign,
                trim=trim_events,
                write=write_events,
                noticed=noticed,
            )
        )
        self.create_if_absent = _render(
            sql.SQL(
                "WITH head AS (INSERT INTO {w} {columns} VALUES {values}"
                " ON CONFLICT (workflow_id) DO NOTHING RETURNING 1),"
                " trimmed AS ({trim}), written AS ({write} RETURNING 1) {noticed}"
            ).format(
                w=workflows,
                columns=columns,
                values=values,
                trim=trim_events,
                write=write_events,
                noticed=noticed,
            )
        )
        self.replace_if = _render(
            sql.SQL(
                "WITH head AS ({update} WHERE workflow_id = %(id)s AND version = %(expected)s"
                " RETURNING 1), trimmed AS ({trim}), written AS ({write} RETURNING 1) {noticed}"
            ).format(update=update_head, trim=trim_events, write=write_events, noticed=noticed)
        )
        append = sql.SQL(
            "WITH head AS ({update} WHERE workflow_id = %(id)s AND history_len = %(kept)s"
            "{condition} RETURNING 1),"
            " written AS (INSERT INTO {events} (workflow_id, seq, event)"
            " SELECT %(id)s, %(kept)s, %(events)s"
            " WHERE %(n)s > %(kept)s AND EXISTS (SELECT 1 FROM head)"
            " ON CONFLICT (workflow_id, seq) DO UPDATE SET event = EXCLUDED.event"
            " RETURNING 1) {noticed}"
        )
        self.append = _render(
            append.format(update=update_head, events=events, condition=sql.SQL(""), noticed=noticed)
        )
        self.append_if = _render(
            append.format(
                update=update_head,
                events=events,
                condition=sql.SQL(" AND version = %(expected)s"),
                noticed=noticed,
            )
        )
        history = sql.SQL(
            "(SELECT coalesce(string_agg(e.event, ',' ORDER BY e.seq), '')"
            " FROM {events} e WHERE e.workflow_id = w.workflow_id AND e.seq < w.history_len)"
        ).format(events=events)
        self.load = _render(
            sql.SQL("SELECT w.head, {history} FROM {w} w WHERE w.workflow_id = %(id)s").format(
                w=workflows, history=history
            )
        )
        self.list_all = _render(
            sql.SQL(
                "SELECT w.workflow_id, w.head, {history} FROM {w} w"
                " ORDER BY w.created_at, w.workflow_id LIMIT %(limit)s"
            ).format(w=workflows, history=history)
        )
        self.list_by_status = _render(
            sql.SQL(
                "SELECT w.workflow_id, w.head, {history} FROM {w} w WHERE w.status = %(status)s"
                " ORDER BY w.created_at, w.workflow_id LIMIT %(limit)s"
            ).format(w=workflows, history=history)
        )
        self.delete = _render(
            sql.SQL(
                "WITH head AS (SELECT 1), gone AS (DELETE FROM {w} WHERE workflow_id = %(id)s),"
                " events_gone AS (DELETE FROM {events} WHERE workflow_id = %(id)s) {noticed}"
            ).format(w=workflows, events=events, noticed=noticed)
        )


async def _counted(conn: Connection, statement: bytes, params: dict[str, Any]) -> bool:
    """Run a conditional write that answers how many workflow rows it wrote: one or none."""
    cursor = await conn.execute(statement, params)
    found = await cursor.fetchone()
    return bool(found and found[0])


def _render(statement: sql.Composable) -> bytes:
    """Compose a statement once: composing it on every call cost more than sending it."""
    return statement.as_bytes(None)


def _row(state: WorkflowState, first_event: int = 0) -> dict[str, Any]:
    """Statement parameters; only events from ``first_event`` on are encoded."""
    record = StateRecord.of(state, first_event)
    return {
        "id": record.workflow_id,
        "status": record.status,
        "created_at": record.created_at,
        "version": record.version,
        "n": record.history_len,
        "head": record.head,
        "events": record.events_text(),
    }


def _assemble(workflow_id: str, head: str, events: str) -> WorkflowState:
    return decode_state_parts(head, [events] if events else [], workflow_id)
