"""The store protocol the executor talks to, and the optional abilities a store may add.

A store is anything with these async methods; it need not inherit from
anything. Optional abilities are separate small protocols, so the executor asks
``isinstance(store, SupportsAppend)`` instead of knowing concrete classes, and
falls back to :meth:`WorkflowStore.save` when a store lacks them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from beluga_workflow.models import WorkflowFilter, WorkflowState

if TYPE_CHECKING:
    from beluga_workflow.queues.definition import Queue
    from beluga_workflow.queues.entries import QueueClaim, QueueEntry

__all__ = [
    "SupportsAppend",
    "SupportsCompareAndAppend",
    "SupportsCompareAndSave",
    "SupportsQueueDispatch",
    "SupportsWatch",
    "WorkflowStore",
]


@runtime_checkable
class WorkflowStore(Protocol):
    """Persistence for workflow states (SPEC section 4 states the semantics).

    Every method raises :class:`~beluga_workflow.errors.InvalidArgumentError`
    for bad input before changing anything, and
    :class:`~beluga_workflow.errors.StoreClosedError` after :meth:`close`.
    """

    async def save(self, state: WorkflowState) -> None:
        """Store ``state``, replacing every field of any state with the same id."""
        ...

    async def load(self, workflow_id: str) -> WorkflowState | None:
        """Return a copy of the stored state, or ``None`` if there is none.

        A stored record that cannot be decoded raises
        :class:`~beluga_workflow.errors.CorruptStateError` naming the id.
        """
        ...

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        """Return copies of the states matching ``filter`` (all when ``None``).

        A record that cannot be decoded is left out, logged and reported, not
        raised: the result is a :class:`~beluga_workflow.listing.StateList`.
        """
        ...

    async def delete(self, workflow_id: str) -> None:
        """Remove the state; removing a missing id is a no-op."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent; later operations raise ``StoreClosedError``."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class SupportsAppend(Protocol):
    """A store that can persist one workflow step without rewriting the history.

    Declared with the ``append_history`` capability.
    """

    async def append(self, state: WorkflowState, new_events: int) -> None:
        """Persist ``state`` whose last ``new_events`` history events are new.

        The store writes every field but the history and appends the new
        events: the result equals ``save(state)``. When nothing is stored under
        the id it simply saves. When a state is stored whose history does not
        have ``len(state.history) - new_events`` events, another writer has
        moved it on (a signal or a cancel from another process, say): the store
        raises :class:`~beluga_workflow.errors.ConcurrencyConflictError` and
        changes nothing, so that writer's events are never overwritten.
        """
        ...


@runtime_checkable
class SupportsCompareAndSave(Protocol):
    """A store with optimistic concurrency, declared as ``optimistic_concurrency``."""

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        """Save ``state`` only if the stored version equals ``expected_version``.

        ``expected_version`` 0 means "no state is stored under this id". On
        success the state is stored with ``version = expected_version + 1`` and
        that number is returned; otherwise
        :class:`~beluga_workflow.errors.ConcurrencyConflictError` is raised and
        nothing changes.
        """
        ...


@runtime_checkable
class SupportsCompareAndAppend(Protocol):
    """A store whose appends are conditional on the version too, declared as ``compare_and_append``.

    It lets every writer of a run (the process that runs it, the processes
    that message it, the workers that claim it) change it under one condition,
    the version, while a step still writes only its new events. A write that
    changes only the head (a lease renewed, say) moves the version on as well,
    so no writer can put back a head it read before.
    """

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        """Persist ``state`` whose last ``new_events`` events are new, if nothing moved on.

        In one atomic step the store checks that the stored version is
        ``expected_version`` (0 when nothing is stored) and, when a state is
        stored, that its history has ``len(state.history) - new_events``
        events. If so it writes every field but the history, appends the new
        events (with nothing stored: the whole state), stores
        ``version = expected_version + 1`` and returns that number; the result
        equals ``save`` of the state with that version. Otherwise it raises
        :class:`~beluga_workflow.errors.ConcurrencyConflictError` and changes
        nothing.
        """
        ...


@runtime_checkable
class SupportsWatch(Protocol):
    """A store that says when states change, declared as ``watch``.

    The engine uses it to wake up at once instead of polling: a worker when a
    run becomes claimable, a run when another process signals or cancels it,
    a handle when the run it awaits finishes.
    """

    def watch(self) -> AsyncIterator[str | None]:
        """Yield the id of each workflow whose stored state changes from now on.

        The first item is ``None``, yielded once the subscription is live:
        whatever changed before it may have been missed, so the caller reads
        what it needs from the store then. After it, every write of a state
        (``save``, ``append``, ``compare_and_save``, ``compare_and_append``,
        ``delete``) made by any store on the same backend and namespace, in
        any process, yields that state's id, promptly (the backend's own
        notification where it has one). An id may come more than once, and
        for the caller's own writes; callers read the state again rather than
        trusting the notice. ``None`` again means changes may have been missed
        (the connection was lost and restored, the watcher fell behind): read
        again from the store. It comes once the watcher listens again (never
        while it is cut off), so a read after it sees every change it stands
        for. The iterator ends when the store is closed;
        closing the iterator (``aclose()``) releases what it holds.
        """
        ...


@runtime_checkable
class SupportsQueueDispatch(Protocol):
    """A store that keeps queued runs in a structure of its own, declared as ``queue_dispatch``.

    Without it the engine coordinates a queue through one board record written
    by compare-and-set (:mod:`beluga_workflow.queues.board`); with it a worker
    claims the next runs in one atomic step of the backend (a transaction with
    ``SKIP LOCKED``, a script), so workers do not take turns on one record.
    Entries are named by ``(queue, workflow_id)``; the limits are those of the
    :class:`~beluga_workflow.queues.Queue` passed to each claim. Every method
    checks its input with :mod:`beluga_workflow.queues.entries` first.
    """

    async def enqueue(self, entries: Sequence[QueueEntry]) -> list[str]:
        """Add ready entries; return the workflow ids of those added, in the order given.

        An entry of the same run already there (claimed or not) is kept as it
        is; one of another run of the same id is replaced (that run was
        replaced). An entry whose ``dedup_key`` another workflow's entry on
        the queue holds is not added.
        """
        ...

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        """Atomically claim for ``holder`` up to ``count`` ready entries of ``queue``.

        Ready entries go by ``priority``, then ``enqueued_at``, then
        ``workflow_id``; one whose key is at ``key_concurrency`` is passed
        over. Claimed entries (not yet released) count against
        ``concurrency``, against ``worker_concurrency`` per holder and against
        ``key_concurrency`` per key; claims made in ``(now - rate.period,
        now]`` count against ``rate.limit``, released or not. However many
        stores claim at once, no limit is exceeded and no entry is claimed
        twice. ``now`` is the caller's epoch time.
        """
        ...

    async def release_queued(self, entries: Sequence[QueueEntry]) -> int:
        """Remove the entries of these runs (matched by queue, workflow id and run id); how many."""
        ...

    async def queued(self, queue: str) -> list[QueueEntry]:
        """Every entry of ``queue``, ready or claimed, in dispatch order."""
        ...
