"""The SQLite store: one connection, served by one thread, with group commit.

Operations queue to the store's thread, which takes all queued operations at
once and runs them in one transaction, each inside its own savepoint.
Concurrent workflows therefore share one commit (one fsync) instead of paying
for one each, while a failing operation still rolls back alone.

A lone operation skips the queue: each one waits until the event loop has run
everything else that was ready, and when it is then the only one waiting and
the thread is idle, it runs on the caller's thread (``inline_when_idle``). A
sequential workflow so avoids two thread hand-offs per step, and concurrent
workflows, which submit together, still share commits on the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from beluga_workflow.errors import (
    InvalidArgumentError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.listing import StateList
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.storekit.base import StoreBase
from beluga_workflow.storekit.checks import (
    require_append,
    require_expected_version,
    require_filter,
    require_state,
    require_version_number,
    require_workflow_id,
)
from beluga_workflow.storekit.conflicts import history_conflict, version_conflict
from beluga_workflow.storekit.records import StateRecord, decode_state_parts
from beluga_workflow.watching import Subscription, Watchers
from beluga_workflow_sqlite.changes import ChangeFeed, Delivered, record_change
from beluga_workflow_sqlite.config import MEMORY, SQLiteConfig
from beluga_workflow_sqlite.schema import migrate

__all__ = ["SQLiteStore", "create_store"]

Operation = Callable[[sqlite3.Connection], Any]

_log = logging.getLogger(__name__)


def create_store(config: SQLiteConfig) -> SQLiteStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return SQLiteStore(config=config)


@dataclass
class _Request:
    operation: Operation
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    writes: bool


@dataclass
class _Row:
    """A state ready to write: encoded once, in the caller's thread."""

    workflow_id: str
    status: str
    created_at: str
    version: int
    head: str
    events: list[str]

    @classmethod
    def of(cls, state: WorkflowState) -> _Row:
        require_state(state)
        record = StateRecord.of(state)
        return cls(
            workflow_id=record.workflow_id,
            status=record.status,
            created_at=record.created_text,
            version=record.version,
            head=record.head,
            events=record.events,
        )


@dataclass(frozen=True)
class _Step:
    """A workflow step ready to write: a new head and the events it adds.

    Everything is taken from the state when the call is made: the operation
    may run later, on the store's thread, when the caller has moved on (or was
    cancelled) and changed the state.
    """

    workflow_id: str
    status: str
    created_at: str
    version: int
    """The version stored with the head."""
    expected_version: int | None
    """The version the stored state must have; ``None``: any (``append``)."""
    kept: int
    total: int
    head: str
    tail: list[str]
    """The new events' JSON."""
    whole: Callable[[], list[str]] | None
    """Every event's JSON, for a step that finds nothing stored; ``None`` when it is refused."""

    @classmethod
    def of(cls, state: WorkflowState, kept: int, expected_version: int | None = None) -> _Step:
        """The step of ``state`` whose first ``kept`` events are stored (checked by the caller)."""
        version = state.version if expected_version is None else expected_version + 1
        if expected_version == 0:
            require_state(state)  # the state may be created whole: all of it is checked now
        versioned = (
            state if version == state.version else state.model_copy(update={"version": version})
        )
        record = StateRecord.of(versioned, kept)
        whole: Callable[[], list[str]] | None = None
        if expected_version is None:
            # The first ``kept`` events are stored, so nobody changes them: they
            # are encoded only in the rare case that needs them.
            whole = record.all_events
        elif expected_version == 0:
            events = record.all_events()

            def whole() -> list[str]:
                return events

        return cls(
            workflow_id=record.workflow_id,
            status=record.status,
            created_at=record.created_text,
            version=version,
            expected_version=expected_version,
            kept=kept,
            total=record.history_len,
            head=record.head,
            tail=record.events,
            whole=whole,
        )


_STOP = object()
_Batch = list[_Request]
_Outcomes = list[tuple[bool, Any]]


class SQLiteStore(StoreBase):
    """A durable :class:`~beluga_workflow.WorkflowStore` in one SQLite file.

    Also implements ``append`` (one event row per step), ``compare_and_save``
    (optimistic concurrency on the ``version`` column) and
    ``compare_and_append`` (a step conditional on both the version and the
    history's length, still one event row per step) and ``watch`` (each write
    notes its id in the ``changes`` table, which watchers poll every
    ``watch_interval``; this store's own writes wake its watchers at once).
    ``list`` is ordered by ``created_at`` then ``workflow_id``.
    """

    def __init__(self, path: str | None = None, *, config: SQLiteConfig | None = None) -> None:
        if config is None:
            if path is None:
                raise InvalidArgumentError("SQLiteStore needs a path or a config")
            config = SQLiteConfig(path=path)
        elif path is not None:
            raise InvalidArgumentError("give SQLiteStore a path or a config, not both")
        super().__init__()
        self.config = config
        self.path: str = config.path or MEMORY
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        """Guards the fields below and the thread's start."""
        self._queued = 0
        """Operations handed to the thread (or running inline) and not yet finished."""
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        """Per event loop, operations waiting for the loop's current round to end."""
        self._connection_lock = threading.Lock()
        """Held while the connection runs a transaction, on the thread or inline."""
        self._watchers = Watchers()
        self._delivered: dict[Subscription, Delivered] = {}
        """Per watcher of a database file, what it was handed (guarded by ``_lock``)."""

    provider = "SQLite"

    @property
    def where(self) -> str:
        return repr(self.path)

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        row = _Row.of(state)
        await self._run(lambda db: _write(db, row), changes=row.workflow_id)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        return await self._run(lambda db: _load(db, workflow_id), writes=False)  # type: ignore[no-any-return]

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        return await self._run(lambda db: _list(db, wanted), writes=False, inline=False)  # type: ignore[no-any-return]

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        await self._run(lambda db: _delete(db, workflow_id), changes=workflow_id)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        step = _Step.of(state, require_append(state, new_events))
        await self._run(lambda db: _extend(db, step), changes=step.workflow_id)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept = require_append(state, new_events)
        step = _Step.of(state, kept, require_expected_version(expected_version))
        await self._run(lambda db: _extend(db, step), changes=step.workflow_id)
        return step.version

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        require_version_number(expected_version)
        new_version = expected_version + 1
        row = _Row.of(state.model_copy(update={"version": new_version}))

        def operation(db: sqlite3.Connection) -> int:
            found = db.execute(
                "SELECT version FROM workflows WHERE workflow_id = ?", (state.workflow_id,)
            ).fetchone()
            current = 0 if found is None else int(found[0])
            if current != expected_version:
                raise version_conflict(state.workflow_id, expected_version, current)
            _write(db, row)
            return new_version

        return await self._run(operation, changes=state.workflow_id)  # type: ignore[no-any-return]

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield ``None`` once watching, then the id of each state written to the database.

        See :class:`~beluga_workflow.store.SupportsWatch`. Writes by other
        processes and store instances are seen within ``watch_interval``; this
        store's own writes at once (once: the poll skips them). An in-memory
        database has no other writer, so nothing is polled. Raises
        :class:`StoreClosedError` on a closed store.
        """
        await self._run(_nothing, writes=False)  # opened and migrated: the changes table exists
        with self._lock:  # close() cannot slip between the check and the subscription
            if self._closed:
                raise self._gone()
            subscription = self._watchers.subscribe()
            delivered = Delivered()
            if self.path != MEMORY:
                self._delivered[subscription] = delivered
        if self.path == MEMORY:
            subscription.push(None)
        else:
            subscription.feed(self._poll(subscription, delivered))
        try:
            async for workflow_id in subscription:
                yield workflow_id
        finally:
            self._watchers.unsubscribe(subscription)
            with self._lock:
                self._delivered.pop(subscription, None)
            await subscription.release()

    async def _poll(self, subscription: Subscription, delivered: Delivered) -> None:
        """Feed ``subscription`` from the ``changes`` table until cancelled.

        Changes this store made were told at once (:meth:`_announce`), and are
        not handed over again.
        """
        feed = await asyncio.to_thread(ChangeFeed, self.path)
        try:
            subscription.push(None)
            failing = False
            while True:
                await asyncio.sleep(self.config.watch_interval)
                try:
                    pruned, rows = await asyncio.to_thread(feed.poll)
                except sqlite3.Error as exc:
                    if not failing:
                        _log.warning("sqlite store %r: a watcher cannot read: %s", self.path, exc)
                    failing = True
                    continue
                if failing or pruned:  # what was written meanwhile may be missed: re-read
                    subscription.push(None)
                    failing = False
                for workflow_id in delivered.polled(rows):
                    subscription.push(workflow_id)
        finally:
            feed.close()

    def _announce(self, workflow_id: str, seq: int) -> None:
        """Tell this store's watchers at once of a write that has committed as change ``seq``."""
        if self.path == MEMORY:  # nothing is polled: this is the only notice
            self._watchers.notify(workflow_id)
            return
        with self._lock:
            watching = list(self._delivered.items())
        for subscription, delivered in watching:
            if delivered.tell(seq):
                subscription.push(workflow_id)

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            waiting, self._waiting = self._waiting, {}
        self._watchers.end_all()
        for requests in waiting.values():
            for request in requests:  # submitted together with close(): refused, not lost
                request.loop.call_soon_threadsafe(_settle, request.future, False, self._gone())
        if thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(thread.join)

    # --- running operations ---------------------------------------------------

    async def _run(
        self,
        operation: Operation,
        *,
        writes: bool = True,
        inline: bool = True,
        changes: str | None = None,
    ) -> Any:
        """Run ``operation`` on the connection; ``inline=False`` for work that may be long.

        A listing's cost grows with what it returns, so it always goes to the
        thread. A write names the state it ``changes``: the id is noted in the
        ``changes`` table in the write's transaction, and once it has
        committed this store's watchers are told.
        """
        if changes is not None:
            return await self._watched(operation, changes, inline=inline)
        loop = asyncio.get_running_loop()
        request = _Request(operation, loop.create_future(), loop, writes)
        with self._lock:
            if self._closed:
                raise self._gone()
            if self._thread is None:
                self._start_thread()
            if inline and self.config.inline_when_idle:
                waiting = self._waiting.setdefault(loop, [])
                waiting.append(request)
                if len(waiting) == 1:
                    loop.call_soon(self._end_of_round, loop)
            else:
                self._hand_over([request])
        return await request.future

    async def _watched(self, operation: Operation, workflow_id: str, *, inline: bool) -> Any:
        change = [0]  # the seq of the change the committed try noted (a batch may run it again)

        def noted(db: sqlite3.Connection) -> Any:
            result = operation(db)
            change[0] = record_change(db, workflow_id)
            return result

        result = await self._run(noted, inline=inline)
        self._announce(workflow_id, change[0])
        return result

    def _end_of_round(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` once it has run what was ready when the first request came.

        Every workflow the loop resumed in that round has submitted its step by
        now, so one request alone means no company to share a commit with.
        """
        with self._lock:
            batch = self._waiting.pop(loop, [])
            if not batch:
                return  # close() refused them
            alone = len(batch) == 1 and self._queued == 0
            if not alone:
                self._hand_over(batch)
                return
            self._queued += 1
        try:
            with self._connection_lock:
                assert self._connection is not None
                outcomes = self._commit(self._connection, batch, patient=False)
        except BaseException:
            with self._lock:
                self._queued -= 1
            raise
        with self._lock:
            self._queued -= 1
            if outcomes is None and not self._closed:
                # Another process holds the database: wait for it on the
                # thread, never on the event loop.
                self._hand_over(batch)
                return
        ok, value = (False, self._gone()) if outcomes is None else outcomes[0]
        _settle(batch[0].future, ok, value)

    def _hand_over(self, batch: _Batch) -> None:
        """Queue ``batch`` to the store's thread (``self._lock`` held)."""
        self._queued += len(batch)
        for request in batch:
            self._queue.put(request)

    def _start_thread(self) -> None:
        ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        thread = threading.Thread(
            target=self._serve, args=(ready,), name="beluga-sqlite", daemon=True
        )
        thread.start()
        failure = ready.get()
        if failure is not None:
            raise failure
        self._thread = thread

    def _serve(self, ready: queue.SimpleQueue[BaseException | None]) -> None:
        try:
            connection = self._connection = self._connect()
        except BaseException as exc:
            ready.put(exc)
            return
        ready.put(None)
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                with self._connection_lock:
                    outcomes = self._commit(connection, batch)
                assert outcomes is not None  # a patient commit always answers
                with self._lock:
                    self._queued -= len(batch)
                for request, (ok, value) in zip(batch, outcomes, strict=True):
                    with contextlib.suppress(RuntimeError):  # the caller's loop is already closed
                        request.loop.call_soon_threadsafe(_settle, request.future, ok, value)
        finally:
            with self._connection_lock:  # an inline operation may still be running
                connection.close()

    def _next_batch(self) -> _Batch | None:
        first = self._queue.get()
        if first is _STOP:
            return None
        assert isinstance(first, _Request)
        batch = [first]
        while len(batch) < self.config.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)  # serve this batch, then stop
                break
            assert isinstance(item, _Request)
            batch.append(item)
        return batch

    def _commit(
        self, db: sqlite3.Connection, batch: _Batch, *, patient: bool = True
    ) -> _Outcomes | None:
        """Run ``batch`` in one transaction; return each operation's (ok, value).

        Reads alone take no write lock, so they never wait for another
        process's writer. Savepoints isolate the operations of a batch from
        each other; a batch of one needs none, its transaction is enough.
        Not ``patient`` (on the event loop), it does not wait for another
        process's lock: it rolls back and returns None instead.
        """
        if not patient or not self.config.inline_when_idle:
            return self._transaction(db, batch, patient=patient)
        # The connection rests without a busy timeout, for the inline path.
        db.execute(f"PRAGMA busy_timeout = {round(self.config.busy_timeout * 1000)}")
        try:
            return self._transaction(db, batch, patient=True)
        finally:
            db.execute("PRAGMA busy_timeout = 0")

    def _transaction(
        self, db: sqlite3.Connection, batch: _Batch, *, patient: bool
    ) -> _Outcomes | None:
        outcomes: _Outcomes = []
        isolate = len(batch) > 1
        try:
            db.execute("BEGIN IMMEDIATE" if any(r.writes for r in batch) else "BEGIN")
            for request in batch:
                if isolate:
                    db.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, request.operation(db)))
                    if isolate:
                        db.execute("RELEASE op")
                except Exception as exc:
                    if not isolate:
                        raise
                    db.execute("ROLLBACK TO op")
                    db.execute("RELEASE op")
                    outcomes.append((False, self._translate(exc)))
            db.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            if not patient and _is_busy(exc):
                return None
            error = self._translate(exc)
            outcomes = [(False, error)] * len(batch)
        return outcomes

    def _gone(self) -> StoreClosedError:
        return self.closed_error()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                self.path,
                timeout=self.config.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(
                f"sqlite store cannot open database {self.path!r}: {exc}"
            ) from exc
        try:
            if self.path != MEMORY:
                _use_wal(db, self.config.busy_timeout)
            db.execute(f"PRAGMA synchronous = {self.config.synchronous}")
            migrate(db, self.path)
            if self.config.inline_when_idle:
                db.execute("PRAGMA busy_timeout = 0")  # see _commit
        except sqlite3.Error as exc:
            db.close()
            raise self._translate(exc) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _translate(self, exc: Exception) -> Exception:
        if not isinstance(exc, sqlite3.Error):
            return exc
        text = str(exc)
        if _is_busy(exc) or (
            isinstance(exc, sqlite3.OperationalError) and "unable to open" in text
        ):
            return StoreUnavailableError(f"sqlite store {self.path!r} is unavailable: {text}")
        return StoreError(f"sqlite store {self.path!r} failed: {text}")


def _use_wal(db: sqlite3.Connection, patience: float) -> None:
    """Switch to WAL, retrying: a process initializing the same new file can hold it.

    Changing the journal mode may fail with "database is locked" at once,
    without waiting for the busy timeout, so the wait happens here.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _is_busy(exc: Exception) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _nothing(db: sqlite3.Connection) -> None:
    return None


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


# --- statements, run on the store's thread -----------------------------------


def _write(db: sqlite3.Connection, row: _Row) -> None:
    db.execute(
        "INSERT INTO workflows (workflow_id, status, created_at, version, history_len, head)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET"
        " status = excluded.status, created_at = excluded.created_at,"
        " version = excluded.version, history_len = excluded.history_len, head = excluded.head",
        (row.workflow_id, row.status, row.created_at, row.version, len(row.events), row.head),
    )
    db.execute("DELETE FROM history_events WHERE workflow_id = ?", (row.workflow_id,))
    db.executemany(
        "INSERT INTO history_events (workflow_id, seq, event) VALUES (?, ?, ?)",
        [(row.workflow_id, seq, event) for seq, event in enumerate(row.events)],
    )


_STEP = (
    "UPDATE workflows SET version = ?, history_len = ?, head = ?"
    " WHERE workflow_id = ? AND history_len = ? AND status = ? AND created_at = ?"
)
"""Most steps leave the indexed columns alone: this statement does them without
rewriting two index entries, and checks the history's length in passing."""


def _extend(db: sqlite3.Connection, step: _Step) -> None:
    """Write ``step`` if the stored state is the one it extends; raise a conflict otherwise."""
    params: tuple[Any, ...] = (step.version, step.total, step.head, step.workflow_id, step.kept)
    params += (step.status, step.created_at)
    if step.expected_version is None:
        updated = db.execute(_STEP, params).rowcount
    else:
        updated = db.execute(_STEP + " AND version = ?", (*params, step.expected_version)).rowcount
    if updated != 1 and not _rewrite_head(db, step):
        return
    db.executemany(
        "INSERT INTO history_events (workflow_id, seq, event) VALUES (?, ?, ?)",
        [(step.workflow_id, step.kept + i, event) for i, event in enumerate(step.tail)],
    )


def _rewrite_head(db: sqlite3.Connection, step: _Step) -> bool:
    """The rare cases: nothing stored, another writer, or new indexed values.

    Returns whether the new events are still to be inserted (a state written
    whole has them already).
    """
    found = db.execute(
        "SELECT version, history_len FROM workflows WHERE workflow_id = ?", (step.workflow_id,)
    ).fetchone()
    current = 0 if found is None else int(found[0])
    if step.expected_version is not None and current != step.expected_version:
        raise version_conflict(step.workflow_id, step.expected_version, current)
    if found is None:
        assert step.whole is not None  # a step that expects a stored state was refused above
        events = step.whole()
        _write(
            db,
            _Row(step.workflow_id, step.status, step.created_at, step.version, step.head, events),
        )
        return False
    if found[1] != step.kept:
        raise history_conflict(step.workflow_id, step.kept, found[1])
    db.execute(
        "UPDATE workflows SET status = ?, created_at = ?, version = ?,"
        " history_len = ?, head = ? WHERE workflow_id = ?",
        (step.status, step.created_at, step.version, step.total, step.head, step.workflow_id),
    )
    return True


def _load(db: sqlite3.Connection, workflow_id: str) -> WorkflowState | None:
    found = db.execute(
        "SELECT head FROM workflows WHERE workflow_id = ?", (workflow_id,)
    ).fetchone()
    if found is None:
        return None
    return _assemble(db, workflow_id, found[0])


def _list(db: sqlite3.Connection, wanted: WorkflowFilter) -> list[WorkflowState]:
    sql = "SELECT workflow_id, head FROM workflows"
    params: list[Any] = []
    if wanted.status is not None:
        sql += " WHERE status = ?"
        params.append(wanted.status.value)
    sql += " ORDER BY created_at, workflow_id"
    if wanted.limit:
        sql += " LIMIT ?"
        params.append(wanted.limit)
    listing = StateList()
    for workflow_id, head in db.execute(sql, params).fetchall():
        listing.add(_assemble, db, workflow_id, head)
    return listing


def _delete(db: sqlite3.Connection, workflow_id: str) -> None:
    db.execute("DELETE FROM workflows WHERE workflow_id = ?", (workflow_id,))
    db.execute("DELETE FROM history_events WHERE workflow_id = ?", (workflow_id,))


def _assemble(db: sqlite3.Connection, workflow_id: str, head: str) -> WorkflowState:
    events = db.execute(
        "SELECT event FROM history_events WHERE workflow_id = ? ORDER BY seq", (workflow_id,)
    ).fetchall()
    return decode_state_parts(head, (event for (event,) in events), workflow_id)
