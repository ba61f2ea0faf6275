"""The one rule for writing a workflow's state: never blind, always against what the writer saw.

Several processes may write one run: the process that runs it records its
steps, and any other process may add a signal or a cancel. Every such write
names the stored state it extends (its :class:`Basis`) and the store refuses it
with :class:`~beluga_workflow.errors.ConcurrencyConflictError` when the stored
state has moved on. Which condition the store checks depends on what it can do:

* ``SupportsCompareAndAppend``: the stored version is still ``basis.version``
  (and the history still has ``basis.events`` events), and the write moves the
  version on: the only condition that also covers writes of the head alone,
  such as a lease renewed;
* else ``SupportsAppend``: the stored history still has ``basis.events`` events;
* else ``SupportsCompareAndSave``: the stored version is still ``basis.version``;
* else nothing can be checked, and the write is a plain ``save`` (such a store
  is safe for one writer only, which its capabilities say).

All writers of one store use the same condition, so a signal written by one
process can never be overwritten by another. When a write fails without an
answer (a connection dropped mid-call), the writer does not know whether it
landed, so it never simply writes again: it reads the run back and asks
:func:`landed` first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from beluga_workflow.errors import (
    BelugaWorkflowError,
    ConcurrencyConflictError,
    CorruptStateError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState
from beluga_workflow.payloads import encodable_text
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.store import (
    SupportsAppend,
    SupportsCompareAndAppend,
    SupportsCompareAndSave,
    WorkflowStore,
)

__all__ = [
    "MESSAGE_EVENTS",
    "Basis",
    "StoreAttempts",
    "WriteOutcome",
    "format_error",
    "is_final_failure",
    "ConditionalWriter",
    "landed",
    "number_events",
    "write_confirmed",
]

logger = logging.getLogger("beluga_workflow.history")

T = TypeVar("T")

MESSAGE_EVENTS = frozenset({EventType.SIGNAL_RECEIVED, EventType.WORKFLOW_CANCELED})
"""Events a process that does not run a workflow may add to its history."""


def format_error(error: BaseException) -> str:
    """``"TypeName: message"``: how errors are written to history and read back on replay.

    A lone surrogate in the message is escaped: the text must reach the store.
    """
    message = encodable_text(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


@dataclass(frozen=True)
class Basis:
    """The stored state a write extends: its history length and its version."""

    run_id: str
    events: int
    version: int

    @classmethod
    def of(cls, state: WorkflowState) -> Basis:
        return cls(state.run_id, len(state.history), state.version)

    def extended_by(self, stored: WorkflowState | None) -> bool:
        """Whether ``stored`` is the same run with at least the events this basis had."""
        return (
            stored is not None
            and stored.run_id == self.run_id
            and len(stored.history) >= self.events
        )


def number_events(history: list[HistoryEvent], events: Sequence[HistoryEvent]) -> None:
    """Give ``events`` their positions after ``history`` and add them to it.

    An event's id is its 1-based position in the history; this is the only
    place ids are given.
    """
    for event in events:
        event.id = len(history) + 1
        history.append(event)


class ConditionalWriter:
    """Writes states of one store under the condition its abilities allow (see the module doc)."""

    def __init__(self, store: WorkflowStore) -> None:
        self.store = store
        self.versioned = isinstance(store, SupportsCompareAndAppend)
        """Whether every write moves the version on (so leases can be kept)."""
        self._write = _pick_write(store)

    async def write(self, state: WorkflowState, basis: Basis) -> None:
        """Store ``state``, whose history extends ``basis``, unless the stored state moved on.

        Raises ``ConcurrencyConflictError`` (and changes nothing) when it did.
        On a compare-and-save store, ``state.version`` becomes the stored version.
        """
        await self._write(state, basis)


def _pick_write(store: WorkflowStore) -> Callable[[WorkflowState, Basis], Awaitable[None]]:
    if isinstance(store, SupportsCompareAndAppend):
        compare_and_append = store.compare_and_append

        async def write(state: WorkflowState, basis: Basis) -> None:
            new_events = len(state.history) - basis.events
            state.version = await compare_and_append(state, new_events, basis.version)

    elif isinstance(store, SupportsAppend):
        append = store.append

        async def write(state: WorkflowState, basis: Basis) -> None:
            await append(state, len(state.history) - basis.events)

    elif isinstance(store, SupportsCompareAndSave):
        compare_and_save = store.compare_and_save

        async def write(state: WorkflowState, basis: Basis) -> None:
            state.version = await compare_and_save(state, basis.version)

    else:
        save = store.save

        async def write(state: WorkflowState, basis: Basis) -> None:
            await save(state)

    return write


def landed(
    stored: WorkflowState | None,
    basis: Basis,
    events: Sequence[HistoryEvent],
    stamp: datetime,
) -> bool:
    """Whether a write of ``events`` on ``basis``, stamped ``updated_at = stamp``, is stored.

    A conditional write can land only right after its basis, so comparing its
    events at those positions (or, for a write of the head alone, its stamp)
    tells a write whose answer was lost from one that never happened.
    """
    if not basis.extended_by(stored):
        return False
    assert stored is not None
    if not events:
        return stored.updated_at == stamp and len(stored.history) == basis.events
    end = basis.events + len(events)
    return stored.history[basis.events : end] == list(events)


def is_final_failure(error: BaseException) -> bool:
    """Failures that trying the same call again cannot mend.

    Bad input, a closed store, a lost condition, an unreadable record and any
    deliberate error that is not about the store; everything else (a dropped
    connection, a timeout, a backend's own exception) may be transient.
    """
    if isinstance(error, (StoreClosedError, ConcurrencyConflictError, CorruptStateError)):
        return True
    return isinstance(error, BelugaWorkflowError) and not isinstance(error, StoreError)


class StoreAttempts:
    """A budget of tries for one logical store operation, shared by its writes and reads.

    Each failure that may be transient spends one try and waits the policy's
    backoff; when the budget is spent the failure is raised as a ``StoreError``
    (``StoreUnavailableError`` when the store said so) naming ``what``.
    """

    def __init__(self, policy: RetryPolicy, what: str) -> None:
        self._policy = policy
        self._what = what
        self._attempt = 1

    async def failed(self, error: Exception) -> None:
        """Spend a try on ``error``: wait before the next, or raise if none is left."""
        if is_final_failure(error):
            raise error
        if self._attempt >= self._policy.max_attempts:
            kind = StoreUnavailableError if isinstance(error, StoreUnavailableError) else StoreError
            raise kind(
                f"{self._what} failed {self._attempt} time(s), last with {format_error(error)}"
            ) from error
        delay = self._policy.delay_before(self._attempt + 1)
        logger.warning(
            "%s failed (%s); trying again in %.2fs", self._what, format_error(error), delay
        )
        await asyncio.sleep(delay)
        self._attempt += 1

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a call that is safe to repeat (a read, a create-if-absent) until it answers."""
        while True:
            try:
                return await operation()
            except Exception as exc:
                await self.failed(exc)


@dataclass(frozen=True)
class WriteOutcome:
    """How :func:`write_confirmed` ended.

    ``landed``: the write is stored. ``stored``: the state read back, or
    ``None`` when the store answered and nothing was read. Not landed means
    the stored run moved on from the basis (``stored`` is what it holds, or
    ``None`` when a plain refusal was not read back): the caller changes its
    new state to match and writes again.
    """

    landed: bool
    stored: WorkflowState | None = None


async def write_confirmed(
    writer: ConditionalWriter,
    state: WorkflowState,
    basis: Basis,
    events: Sequence[HistoryEvent],
    attempts: StoreAttempts,
    *,
    moved_on: Callable[[WorkflowState | None], bool],
    read_refusals: bool = True,
) -> WriteOutcome:
    """Write ``state`` (``events`` added on ``basis``) until it is stored or the run moved on.

    The one rule for a write whose answer may be lost: after a failure that
    may be transient, the run is read back and asked :func:`landed` before
    the write is made again, so it is never stored twice. A refusal is read
    back too when ``read_refusals`` is set, and always after an answer was
    lost: that try may have landed after the read that found it missing.
    ``moved_on(stored)`` says whether what was read back is a change the
    caller must take in; a refusal after which nothing moved on is a lagging
    read and spends a try. Failures past the budget of ``attempts`` raise.
    """
    answer_lost = False
    while True:
        refused = False
        try:
            await writer.write(state, basis)
        except ConcurrencyConflictError:
            if not (read_refusals or answer_lost):
                return WriteOutcome(landed=False)
            refused = True
        except Exception as exc:
            await attempts.failed(exc)
            answer_lost = True
        else:
            return WriteOutcome(landed=True)
        stored = await attempts.call(lambda: writer.store.load(state.workflow_id))
        if landed(stored, basis, events, state.updated_at):
            return WriteOutcome(landed=True, stored=stored)
        if moved_on(stored):
            return WriteOutcome(landed=False, stored=stored)
        if refused:  # refused, yet nothing new is visible (a lagging read)
            lagging = StoreError("the store refused the write but shows no other change")
            await attempts.failed(lagging)
