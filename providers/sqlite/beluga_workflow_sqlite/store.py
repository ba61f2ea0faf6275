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
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from beluga_workflow.codec import decode_state_parts, encode_head
from beluga_workflow.errors import (
    ConcurrencyConflictError,
    InvalidArgumentError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.listing import StateList
from beluga_workflow.models import WorkflowFilter, WorkflowState
from beluga_workflow.validation import (
    require_append,
    require_filter,
    require_state,
    require_workflow_id,
)
from beluga_workflow_sqlite.config import MEMORY, SQLiteConfig
from beluga_workflow_sqlite.schema import migrate

__all__ = ["SQLiteStore", "create_store"]

Operation = Callable[[sqlite3.Connection], Any]


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
        return cls(
            workflow_id=state.workflow_id,
            status=state.status.value,
            created_at=state.created_at.isoformat(timespec="microseconds"),
            version=state.version,
            head=encode_head(state),
            events=[event.model_dump_json() for event in state.history],
        )


_STOP = object()
_Batch = list[_Request]
_Outcomes = list[tuple[bool, Any]]


class SQLiteStore:
    """A durable :class:`~beluga_workflow.WorkflowStore` in one SQLite file.

    Also implements ``append`` (one event row per step) and
    ``compare_and_save`` (optimistic concurrency on the ``version`` column).
    ``list`` is ordered by ``created_at`` then ``workflow_id``.
    """

    def __init__(self, path: str | None = None, *, config: SQLiteConfig | None = None) -> None:
        if config is None:
            if path is None:
                raise InvalidArgumentError("SQLiteStore needs a path or a config")
            config = SQLiteConfig(path=path)
        elif path is not None:
            raise InvalidArgumentError("give SQLiteStore a path or a config, not both")
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
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteStore(path={self.path!r}, synchronous={self.config.synchronous!r})"

    # --- the store protocol ---------------------------------------------------

    async def save(self, state: WorkflowState) -> None:
        row = _Row.of(state)
        await self._run(lambda db: _write(db, row))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        return await self._run(lambda db: _load(db, workflow_id), writes=False)  # type: ignore[no-any-return]

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        return await self._run(lambda db: _list(db, wanted), writes=False, inline=False)  # type: ignore[no-any-return]

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        await self._run(lambda db: _delete(db, workflow_id))

    async def append(self, state: WorkflowState, new_events: int) -> None:
        kept = require_append(state, new_events)
        # Everything the operation writes is taken now: it may run later, on the
        # store's thread, when the caller has moved on (or was cancelled) and
        # changed ``state``.
        workflow_id, version, total = state.workflow_id, state.version, len(state.history)
        head = encode_head(state)
        tail = [event.model_dump_json() for event in state.history[kept:]]

        status = state.status.value
        created_at = state.created_at.isoformat(timespec="microseconds")
        indexed = (status, created_at)
        history = state.history  # its first ``kept`` events are stored, so nobody changes them

        def whole_row() -> _Row:
            events = [event.model_dump_json() for event in history[:kept]] + tail
            return _Row(workflow_id, status, created_at, version, head, events)

        def operation(db: sqlite3.Connection) -> None:
            # Most steps leave the indexed columns alone: one UPDATE that checks
            # them does the step without rewriting two index entries.
            updated = db.execute(
                "UPDATE workflows SET version = ?, history_len = ?, head = ?"
                " WHERE workflow_id = ? AND history_len = ? AND status = ? AND created_at = ?",
                (version, total, head, workflow_id, kept, *indexed),
            ).rowcount
            if updated != 1 and not rewrite_head(db):
                return
            db.executemany(
                "INSERT INTO history_events (workflow_id, seq, event) VALUES (?, ?, ?)",
                [(workflow_id, kept + i, event) for i, event in enumerate(tail)],
            )

        def rewrite_head(db: sqlite3.Connection) -> bool:
            """The rare cases: nothing stored, another writer, or new indexed values."""
            found = db.execute(
                "SELECT history_len FROM workflows WHERE workflow_id = ?", (workflow_id,)
            ).fetchone()
            if found is None:
                _write(db, whole_row())
                return False
            if found[0] != kept:
                raise ConcurrencyConflictError(
                    f"workflow {workflow_id!r} has {found[0]} stored events, not the "
                    f"{kept} this append extends; another writer moved it on"
                )
            db.execute(
                "UPDATE workflows SET status = ?, created_at = ?, version = ?,"
                " history_len = ?, head = ? WHERE workflow_id = ?",
                (status, created_at, version, total, head, workflow_id),
            )
            return True

        await self._run(operation)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise InvalidArgumentError(f"expected_version must be an int, got {expected_version!r}")
        new_version = expected_version + 1
        row = _Row.of(state.model_copy(update={"version": new_version}))

        def operation(db: sqlite3.Connection) -> int:
            found = db.execute(
                "SELECT version FROM workflows WHERE workflow_id = ?", (state.workflow_id,)
            ).fetchone()
            current = 0 if found is None else int(found[0])
            if current != expected_version:
                raise ConcurrencyConflictError(
                    f"workflow {state.workflow_id!r} is at version {current}, "
                    f"not the expected {expected_version}"
                )
            _write(db, row)
            return new_version

        return await self._run(operation)  # type: ignore[no-any-return]

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            waiting, self._waiting = self._waiting, {}
        for requests in waiting.values():
            for request in requests:  # submitted together with close(): refused, not lost
                request.loop.call_soon_threadsafe(_settle, request.future, False, self._gone())
        if thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(thread.join)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- running operations ---------------------------------------------------

    async def _run(self, operation: Operation, *, writes: bool = True, inline: bool = True) -> Any:
        """Run ``operation`` on the connection; ``inline=False`` for work that may be long.

        A listing's cost grows with what it returns, so it always goes to the thread.
        """
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
        return StoreClosedError(f"SQLite store {self.path!r} is closed")

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
