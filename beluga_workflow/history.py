"""Writing a run's history: every event is stored before the workflow moves past it.

A :class:`Journal` is the only process that records the steps of one run while
it runs. It appends events and stores them with the conditional write of
:mod:`beluga_workflow.writes`, and only then lets the caller go on. When the
store refuses the write because another process added a message (a signal or
a cancel), the journal reads the run back, takes the messages in, places its
own events after them and writes again: a message is never overwritten and
never makes the run fail. When the store fails, it retries with backoff a
bounded number of times, reading back first so that a write whose answer was
lost is not made twice; if the store still fails the journal halts: the run
stops where the store last acknowledged it, and ``recover()`` resumes it later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from beluga_workflow.errors import (
    ConcurrencyConflictError,
    InvalidArgumentError,
    StoreError,
    WorkflowCanceledError,
    WorkflowError,
)
from beluga_workflow.models import (
    EventType,
    HistoryEvent,
    Lease,
    WorkflowState,
    WorkflowStatus,
    utc_now,
)
from beluga_workflow.own_notices import OwnNotices
from beluga_workflow.ownership import LeaseTerms, same_holder
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.store import WorkflowStore
from beluga_workflow.writes import (
    MESSAGE_EVENTS,
    Basis,
    ConditionalWriter,
    StoreAttempts,
    format_error,
    landed,
    number_events,
    write_confirmed,
)

__all__ = [
    "DEFAULT_STORE_RETRY",
    "Journal",
    "MessageHandler",
    "format_error",
    "new_event",
]

logger = logging.getLogger("beluga_workflow.history")

T = TypeVar("T")

DEFAULT_STORE_RETRY = RetryPolicy(
    max_attempts=5, initial_interval=0.1, backoff_coefficient=2.0, max_interval=2.0, jitter=0.2
)
"""How often a failed store write is tried again before the run halts (about 1.5 s in all)."""

MessageHandler = Callable[[Sequence[HistoryEvent], WorkflowState], None]
"""Called with messages other processes stored for a run, and the stored state they are in."""


def new_event(type: EventType, **fields: Any) -> HistoryEvent:
    """A history event stamped now; its ``id`` is given when it is recorded."""
    return HistoryEvent(id=0, type=type, **fields)


@dataclass
class _Written:
    """What storing one record led to."""

    later_messages: list[HistoryEvent] = field(default_factory=list)
    """Messages stored after the record's events (handed over after them)."""
    found: Any = None
    """What ``found()`` returned once messages were taken in: the record was dropped."""


class Journal:
    """One running workflow's state and the store it is persisted to.

    ``on_halt`` is called once if the store cannot be written; from then on
    :meth:`record` raises the same :class:`StoreError`, so a workflow that
    catches it still cannot move ahead of what is stored.
    """

    def __init__(
        self,
        store: WorkflowStore | ConditionalWriter,
        state: WorkflowState,
        *,
        retry: RetryPolicy = DEFAULT_STORE_RETRY,
        on_halt: Callable[[StoreError], None] | None = None,
        on_messages: MessageHandler | None = None,
        lease_terms: LeaseTerms | None = None,
    ) -> None:
        self.state = state
        self.halted: StoreError | None = None
        self.closed = False
        self._writer = store if isinstance(store, ConditionalWriter) else ConditionalWriter(store)
        self._basis = Basis.of(state)
        self._lock = asyncio.Lock()
        self._retry = retry
        self._on_halt = on_halt
        self._on_messages = on_messages
        self._unsettled: tuple[Basis, list[HistoryEvent], datetime] | None = None
        self._terms = lease_terms
        self.own_notices = OwnNotices()
        self._holding = state.lease if lease_terms is not None else None
        """The lease this journal writes under (owner and epoch; renewals keep both)."""
        self.last_stored = self.last_read = time.monotonic()
        """When this journal last stored, and last read, the run (``time.monotonic()``)."""

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
        nothing can be recorded after it. Raises ``WorkflowCanceledError`` when
        another process canceled the run first (nothing of this record is stored).
        """
        async with self._lock:
            await self._record_locked(events, then, final, changes, None)

    async def record_unless(
        self,
        found: Callable[[], T | None],
        events: Sequence[HistoryEvent],
        *,
        then: Callable[[], None] | None = None,
    ) -> T | None:
        """Like :meth:`record`, unless ``found()`` (asked under the same lock) returns something.

        Lets a workflow decide "use what has arrived, else record a new step"
        at one well-defined place in history. ``found()`` is asked again when
        messages from other processes are taken in before the record is stored.
        """
        async with self._lock:
            existing = found()
            if existing is not None:
                return existing
            written = await self._record_locked(events, then, False, {}, found)
            return written.found  # type: ignore[no-any-return]

    async def _record_locked(
        self,
        events: Sequence[HistoryEvent],
        then: Callable[[], None] | None,
        final: bool,
        changes: dict[str, Any],
        found: Callable[[], Any] | None,
    ) -> _Written:
        self.check_open()
        state = self.state
        await self._settle()
        pending = list(events)
        number_events(state.history, pending)
        before = {name: getattr(state, name) for name in changes}
        for name, value in changes.items():
            setattr(state, name, value)
        state.updated_at = now = utc_now()
        if self._terms is not None and state.lease is not None:
            # Every write renews the lease; the last one gives it up: a finished run has no owner.
            state.lease = None if final else self._terms.renewed(state.lease, now)
        try:
            written = await self._store(pending, found)
        except (StoreError, InvalidArgumentError) as exc:
            for name, value in before.items():  # report what the store holds, not what it refused
                setattr(state, name, value)
            raise self._halt(exc) from exc
        except asyncio.CancelledError:
            # The write may land all the same: the next record or refresh reads it back.
            del state.history[len(state.history) - len(pending) :]
            for name, value in before.items():
                setattr(state, name, value)
            self._unsettled = (self._basis, pending, state.updated_at)
            raise
        if written.found is not None:
            for name, value in before.items():
                setattr(state, name, value)
            return written
        self.closed = self.closed or final
        if then is not None:
            then()
        self._hand_over(written.later_messages)
        return written

    async def _store(
        self, pending: list[HistoryEvent], found: Callable[[], Any] | None
    ) -> _Written:
        """Write ``pending`` (the last events of the state) until the store holds them."""
        state = self.state
        attempts = StoreAttempts(self._retry, f"storing workflow {state.workflow_id!r}")
        while True:
            basis = self._basis
            with self.own_notices.writing() as write:
                outcome = await write_confirmed(
                    self._writer,
                    state,
                    basis,
                    pending,
                    attempts,
                    moved_on=lambda stored: bool(self._messages_in(stored, self._basis.events)),
                )
                write.stored = outcome.landed
            stored = outcome.stored
            if outcome.landed and stored is None:
                self._basis = Basis.of(state)
                self.last_stored = time.monotonic()
                return _Written()
            assert stored is not None
            if outcome.landed:
                later = self._messages_in(stored, basis.events + len(pending))
                if later and stored.status.is_terminal:
                    self._adopt(stored)  # canceled after this record landed
                else:
                    state.history.extend(later)
                    state.version = stored.version
                    self._basis = Basis.of(stored)
                return _Written(later_messages=later)
            messages = self._messages_in(stored, basis.events)
            self._take_in(stored, basis, pending, messages)
            if found is not None:
                arrived = found()
                if arrived is not None:
                    del state.history[len(state.history) - len(pending) :]
                    return _Written(found=arrived)

    async def _settle(self) -> None:
        """Find out whether a record cancelled mid-write was stored, and catch up if so."""
        if self._unsettled is None:
            return
        basis, pending, stamp = self._unsettled
        what = f"reading workflow {self.state.workflow_id!r} back"
        try:
            stored = await StoreAttempts(self._retry, what).call(
                lambda: self._writer.store.load(self.state.workflow_id)
            )
        except (StoreError, InvalidArgumentError) as exc:
            raise self._halt(exc) from exc
        self._unsettled = None
        if landed(stored, basis, pending, stamp):
            assert stored is not None
            later = self._messages_in(stored, basis.events + len(pending))
            self.state.history.extend(pending)
            self._adopt(stored, closed=stored.status.is_terminal)
            self._hand_over(later)

    def expects_own_notice(self) -> bool:
        """Whether a change notice for this run is most likely of its own last write.

        Each write made here is counted from the moment it is sent (see
        :mod:`beluga_workflow.own_notices`), and each notice takes one off: the
        rest come from other processes, and make the run read itself back.
        """
        return self.own_notices.take()

    def forget_own_notices(self) -> None:
        """Count no notice as this run's own: the feed (re)started and may have missed some."""
        self.own_notices.forget()

    async def renew(self) -> None:
        """Renew the run's lease with a write of its own (a run that writes renews it anyway).

        Like any write, it meets messages other processes stored, and finds out
        when another worker took the run over: the run then halts here.
        """
        async with self._lock:
            if self.closed or self.halted is not None or self.state.lease is None:
                return
            await self._record_locked([], None, False, {}, None)

    async def release(self) -> None:
        """Give the lease up, so another worker may claim the run at once (one try, no retry).

        Called when this process stops running the run without finishing it;
        if the write fails the lease simply runs out. A write that the stop
        cut off mid-way (its answer never came) is settled first by reading
        the run back: the release must build on what is stored, and must not
        give up a lease that another worker holds by now.
        """
        async with self._lock:
            held = self.state.lease
            if self.halted is not None or held is None:
                return
            if self._unsettled is not None:
                try:
                    await self._settle()
                except Exception as exc:  # the store is failing: the lease runs out
                    logger.debug("could not release workflow %r: %s", self.state.workflow_id, exc)
                    return
            state, lease = self.state, self.state.lease
            if self.halted is not None or lease is None or not _same_holder(lease, held):
                return
            state.lease, stamp = None, state.updated_at
            state.updated_at = utc_now()
            try:
                await self._writer.write(state, self._basis)
            except Exception as exc:
                state.lease, state.updated_at = lease, stamp
                logger.debug("could not release workflow %r: %s", state.workflow_id, exc)
                return
            self._basis = Basis.of(state)

    async def refresh(self) -> None:
        """Read the run back and take in messages other processes stored since the last write.

        A run that records steps meets such messages at its next write; a run
        that waits (for a signal, a timer) is refreshed by its executor now
        and then, so a signal or a cancel reaches it without a write.
        """
        async with self._lock:
            if self.closed or self.halted is not None:
                return
            await self._settle()
            stored = await self._writer.store.load(self.state.workflow_id)
            self.last_read = time.monotonic()
            if stored is not None and Basis.of(stored) == self._basis:
                return
            try:
                messages = self._messages_in(stored, self._basis.events)
                if messages:
                    assert stored is not None
                    self._take_in(stored, self._basis, [], messages)
            except ConcurrencyConflictError as exc:
                raise self._halt(exc) from exc
            except WorkflowCanceledError:
                pass  # the run has been told, and stops

    def _messages_in(self, stored: WorkflowState | None, start: int) -> list[HistoryEvent]:
        """The events ``stored`` has from position ``start`` on, all of them messages.

        Anything else means the run is no longer this journal's to write: it
        was deleted or replaced, or another process recorded steps of it.
        """
        workflow_id = self.state.workflow_id
        if not self._basis.extended_by(stored) or stored is None:
            raise ConcurrencyConflictError(
                f"workflow {workflow_id!r} was deleted or replaced by another writer while it ran"
            )
        holding = self._holding
        if (
            holding is not None
            and stored.status is WorkflowStatus.RUNNING
            and not same_holder(stored.lease, holding)
        ):
            holder = "nobody" if stored.lease is None else f"worker {stored.lease.owner!r}"
            raise ConcurrencyConflictError(
                f"workflow {workflow_id!r} is now held by {holder}: this worker lost its lease "
                "and stops running it"
            )
        extra = stored.history[start:]
        for event in extra:
            if event.type not in MESSAGE_EVENTS:
                why = (
                    "this worker lost its lease and stops running it"
                    if holding is not None
                    else "is it running twice?"
                )
                raise ConcurrencyConflictError(
                    f"another process recorded {event.type.value} as event {event.id} of "
                    f"workflow {workflow_id!r} while it ran here ({why})"
                )
        return extra

    def _take_in(
        self,
        stored: WorkflowState,
        basis: Basis,
        pending: list[HistoryEvent],
        messages: list[HistoryEvent],
    ) -> None:
        """Put ``messages`` before the pending events, or end the run if one canceled it."""
        state = self.state
        if stored.status.is_terminal:
            self._adopt(stored)
            self._hand_over(messages)
            raise WorkflowCanceledError(
                f"workflow {state.workflow_id!r} was {stored.status.value} by another process"
            )
        del state.history[basis.events :]
        state.history.extend(messages)
        number_events(state.history, pending)
        state.version = stored.version
        self._basis = Basis.of(stored)
        self._hand_over(messages)

    def _adopt(self, stored: WorkflowState, *, closed: bool = True) -> None:
        """Take the stored state as this run's (by default: another process ended it)."""
        for name in WorkflowState.model_fields:
            setattr(self.state, name, getattr(stored, name))
        self._basis = Basis.of(stored)
        self.closed = self.closed or closed

    def _hand_over(self, messages: list[HistoryEvent]) -> None:
        if messages and self._on_messages is not None:
            self._on_messages(messages, self.state)

    def _halt(self, cause: BaseException) -> StoreError:
        error = StoreError(
            f"workflow {self.state.workflow_id!r} stopped because its progress could not be "
            f"stored ({format_error(cause)}); it stays as last stored and resumes on recover()"
        )
        self.halted = error
        if self._on_halt is not None:
            self._on_halt(error)
        return error


def _same_holder(lease: Lease, held: Lease) -> bool:
    """Whether ``lease`` is still the claim ``held`` was (renewed or not): same owner and epoch."""
    return (lease.owner, lease.epoch) == (held.owner, held.epoch)
