"""Writing a run's history: every event is stored before the workflow moves past it.

A :class:`Journal` is the only writer of one run's state while it runs. It
appends events, stores them (one ``append`` of the new events when the store
supports it, else a full ``save``) and only then lets the caller go on. When
the store fails it retries with backoff, a bounded number of times; if the
store still fails the journal halts: the run stops where the store last
acknowledged it, and ``recover()`` resumes it from there later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from beluga_workflow.errors import (
    ConcurrencyConflictError,
    InvalidArgumentError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
    WorkflowError,
)
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState, utc_now
from beluga_workflow.payloads import encodable_text
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.store import SupportsAppend, WorkflowStore

__all__ = [
    "DEFAULT_STORE_RETRY",
    "Journal",
    "format_error",
    "new_event",
    "write_with_retry",
]

logger = logging.getLogger("beluga_workflow.history")

T = TypeVar("T")

DEFAULT_STORE_RETRY = RetryPolicy(
    max_attempts=5, initial_interval=0.1, backoff_coefficient=2.0, max_interval=2.0, jitter=0.2
)
"""How often a failed store write is tried again before the run halts (about 1.5 s in all)."""


def format_error(error: BaseException) -> str:
    """``"TypeName: message"``: how errors are written to history and read back on replay.

    A lone surrogate in the message is escaped: the text must reach the store.
    """
    message = encodable_text(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def new_event(type: EventType, **fields: Any) -> HistoryEvent:
    """A history event stamped now; its ``id`` is given when it is recorded."""
    return HistoryEvent(id=0, type=type, **fields)


async def write_with_retry(
    write: Callable[[int], Awaitable[T]], *, policy: RetryPolicy, what: str
) -> T:
    """Run ``write(attempt)`` until it succeeds or ``policy`` gives up.

    Bad input, a closed store and a lost compare-and-save are not retried:
    trying the same write again cannot help.
    After the last attempt the failure is raised as a ``StoreError`` (a
    ``StoreUnavailableError`` when the store said so) chained to the cause.
    """
    attempt = 1
    while True:
        try:
            return await write(attempt)
        except (InvalidArgumentError, StoreClosedError, ConcurrencyConflictError):
            raise
        except Exception as exc:
            if attempt >= policy.max_attempts:
                kind = (
                    StoreUnavailableError if isinstance(exc, StoreUnavailableError) else StoreError
                )
                raise kind(
                    f"{what} failed {attempt} time(s), last with {format_error(exc)}"
                ) from exc
            delay = policy.delay_before(attempt + 1)
            logger.warning("%s failed (%s); trying again in %.2fs", what, format_error(exc), delay)
            await asyncio.sleep(delay)
            attempt += 1


class Journal:
    """One running workflow's state and the store it is persisted to.

    ``on_halt`` is called once if the store cannot be written; from then on
    :meth:`record` raises the same :class:`StoreError`, so a workflow that
    catches it still cannot move ahead of what is stored.
    """

    def __init__(
        self,
        store: WorkflowStore,
        state: WorkflowState,
        *,
        retry: RetryPolicy = DEFAULT_STORE_RETRY,
        on_halt: Callable[[StoreError], None] | None = None,
    ) -> None:
        self.state = state
        self.halted: StoreError | None = None
        self.closed = False
        self._store = store
        self._appender = store if isinstance(store, SupportsAppend) else None
        self._persisted = len(state.history)
        self._lock = asyncio.Lock()
        self._retry = retry
        self._on_halt = on_halt

    def check_open(self) -> None:
        """Raise if the run can record nothing more (its store failed, or it has ended)."""
        if self.halted is not None:
            raise self.halted
        if self.closed:
            raise WorkflowError(
                f"workflow {self.state.workflow_id!r} has ended; its context can no longer be used"
            )

    async def record(
        self,
        events: Sequence[HistoryEvent],
        *,
        then: Callable[[], None] | None = None,
        final: bool = False,
        **changes: Any,
    ) -> None:
        """Append ``events``, apply ``changes`` to the state's fields, store it, then call ``then``.

        Records are serialized, so ``then`` (which hands what was recorded to the
        workflow) runs in history order. ``final`` marks the run's last record:
        nothing can be recorded after it.
        """
        async with self._lock:
            await self._record_locked(events, then, final, changes)

    async def record_unless(
        self,
        found: Callable[[], T | None],
        events: Sequence[HistoryEvent],
        *,
        then: Callable[[], None] | None = None,
    ) -> T | None:
        """Like :meth:`record`, unless ``found()`` (asked under the same lock) returns something.

        Lets a workflow decide "use what has arrived, else record a new step"
        at one well-defined place in history.
        """
        async with self._lock:
            existing = found()
            if existing is not None:
                return existing
            await self._record_locked(events, then, False, {})
            return None

    async def _record_locked(
        self,
        events: Sequence[HistoryEvent],
        then: Callable[[], None] | None,
        final: bool,
        changes: dict[str, Any],
    ) -> None:
        self.check_open()
        state = self.state
        history = state.history
        for event in events:
            event.id = len(history) + 1
            history.append(event)
        before = {name: getattr(state, name) for name in changes}
        for name, value in changes.items():
            setattr(state, name, value)
        state.updated_at = utc_now()
        try:
            await write_with_retry(
                self._write, policy=self._retry, what=f"storing workflow {state.workflow_id!r}"
            )
        except (StoreError, InvalidArgumentError) as exc:
            for name, value in before.items():  # report what the store holds, not what it refused
                setattr(state, name, value)
            raise self._halt(exc) from exc
        self._persisted = len(history)
        self.closed = self.closed or final
        if then is not None:
            then()

    async def _write(self, attempt: int) -> None:
        if self._appender is not None and attempt == 1:
            await self._appender.append(self.state, len(self.state.history) - self._persisted)
        else:
            # After a failure nobody knows what the store kept: write the whole state.
            await self._store.save(self.state)

    def _halt(self, cause: BaseException) -> StoreError:
        error = StoreError(
            f"workflow {self.state.workflow_id!r} stopped because its progress could not be "
            f"stored ({format_error(cause)}); it stays as last stored and resumes on recover()"
        )
        self.halted = error
        if self._on_halt is not None:
            self._on_halt(error)
        return error
