"""Queues on a store with ``queue_dispatch``: the store claims the next runs in one atomic step.

The limits are checked by the store's claim (see
:class:`~beluga_workflow.store.SupportsQueueDispatch`), so workers do not take
turns on a board record. A run gets its entry when it is submitted
(:func:`enqueue_run`); a worker claims entries, then claims each run by
replacing its placeholder lease, and releases the entry when the run ends.
What a crash can leave behind is mended by a sweep every half second that
any worker makes from the listing it has anyway: an entry whose run ended
elsewhere is released, one claimed but never handed over within the lease
duration is put back, and a waiting run without an entry (its submitter died
between storing it and enqueuing it) gets one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from beluga_workflow.models import WorkflowState, WorkflowStatus
from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.endings import EndWatchers
from beluga_workflow.queues.entries import QueueEntry
from beluga_workflow.queues.placement import is_waiting, placeholder_lease, placement_of
from beluga_workflow.store import SupportsQueueDispatch, WorkflowStore
from beluga_workflow.writes import Basis, ConditionalWriter

if TYPE_CHECKING:
    from beluga_workflow.executor import Executor
    from beluga_workflow.handle import WorkflowHandle

__all__ = ["NativeQueues", "enqueue_run", "entry_of"]

logger = logging.getLogger("beluga_workflow.queues")

_SWEEP_EVERY = 0.5
"""Seconds between two sweeps of one queue's entries by one worker, at least."""

_CLOCK_MARGIN = 1.0
"""Seconds an entry or run must be older than a listing before the listing may judge it."""


def entry_of(state: WorkflowState) -> QueueEntry | None:
    """The queue entry of a run started on a queue, ``None`` for any other run."""
    options = placement_of(state)
    if options is None:
        return None
    return QueueEntry(
        queue=options.name,
        workflow_id=state.workflow_id,
        run_id=state.run_id,
        enqueued_at=state.created_at.timestamp(),
        priority=options.priority,
        key=options.key,
        dedup_key=options.dedup_key,
    )


async def enqueue_run(store: WorkflowStore, state: WorkflowState) -> None:
    """Give a waiting run its entry, on a store with ``queue_dispatch`` (else nothing)."""
    if not isinstance(store, SupportsQueueDispatch) or not is_waiting(state):
        return
    entry = entry_of(state)
    if entry is not None:
        await store.enqueue([entry])


class NativeQueues:
    """A worker's side of its queues on a store that claims queue entries itself."""

    def __init__(self, executor: Executor, queues: Iterable[Queue], *, hold_for: float) -> None:
        store = executor.store
        assert isinstance(store, SupportsQueueDispatch)
        self._table: SupportsQueueDispatch = store
        self._executor = executor
        self._queues = {queue.name: queue for queue in queues}
        self._hold_for = hold_for
        self._writer = ConditionalWriter(executor.store)
        self._swept: dict[str, float] = {}
        self._ended: list[QueueEntry] = []
        """Entries of runs that ended here, released by the next round."""
        self._watchers = EndWatchers()
        self.next_start_at: float | None = None

    async def dispatch(
        self, room: int, running: list[WorkflowState] | None, listed_at: float
    ) -> int:
        """Release what ended, sweep, then claim and start up to ``room`` runs; how many."""
        self.next_start_at = None
        await self.free_ended()
        listed = {state.workflow_id: state for state in running or []}
        if running is not None:
            for queue in self._queues.values():
                try:
                    await self._sweep(queue, running, listed_at)
                except Exception as exc:  # mending can wait for the next sweep; claims cannot
                    logger.warning("could not sweep queue %r: %s", queue.name, exc)
        started = 0
        holder = self._executor.worker_id or ""
        for queue in self._queues.values():
            if started >= room:
                break
            claim = await self._table.claim_queued(queue, holder, room - started, time.time())
            opens = claim.next_start_at
            if opens is not None:
                self.next_start_at = (
                    opens if self.next_start_at is None else min(self.next_start_at, opens)
                )
            for entry in claim.entries:
                if await self._hand_over(queue, entry, listed.get(entry.workflow_id)):
                    started += 1
        return started

    async def free_ended(self) -> None:
        if self._ended:
            ended, self._ended = self._ended, []
            try:
                await self._table.release_queued(ended)
            except Exception:
                self._ended.extend(ended)  # tried again next round
                raise

    async def _hand_over(
        self, queue: Queue, entry: QueueEntry, listed: WorkflowState | None
    ) -> bool:
        """Claim the run whose entry was claimed; give the entry back if that cannot be done."""
        state = listed if listed is not None and listed.run_id == entry.run_id else None
        for attempt in range(2):
            if state is None or attempt:
                state = await self._executor.store.load(entry.workflow_id)
            if state is None or state.run_id != entry.run_id or not is_waiting(state):
                break
            handle: WorkflowHandle | None = None
            try:
                handle = await self._executor.claim_run(state, over=placeholder_lease(queue.name))
            except Exception as exc:
                logger.warning("could not claim queued run %r: %s", entry.workflow_id, exc)
            if handle is not None:
                self._watchers.watch(self._note_end(entry, handle))
                return True
        if state is not None and state.run_id == entry.run_id:
            if state.status is WorkflowStatus.RUNNING and not is_waiting(state):
                return False  # claimed by now (it runs): its entry stays until it ends
            if is_waiting(state):  # not claimable here (not registered, say): put it back
                await self._table.release_queued([entry])
                await self._table.enqueue([entry.ready()])
                return False
        await self._table.release_queued([entry])  # the run ended, was replaced or is gone
        return False

    async def _note_end(self, entry: QueueEntry, handle: WorkflowHandle) -> None:
        with contextlib.suppress(Exception):
            await handle.result()
        if handle.status is WorkflowStatus.RUNNING:
            return  # stopped here without ending: it keeps its entry, resumed elsewhere
        self._ended.append(entry)
        self._executor.claimable_hint.set()  # a round now: the place can go to the next run

    async def _sweep(self, queue: Queue, running: list[WorkflowState], listed_at: float) -> None:
        """Release entries of ended runs, put back stalled claims, enqueue runs without one."""
        now = time.time()
        if now - self._swept.get(queue.name, 0.0) < _SWEEP_EVERY:
            return
        self._swept[queue.name] = now
        entries = {entry.workflow_id: entry for entry in await self._table.queued(queue.name)}
        live = {state.workflow_id: state for state in running}
        gone: list[QueueEntry] = []
        back: list[QueueEntry] = []
        for entry in entries.values():
            state = live.get(entry.workflow_id)
            if state is None or state.run_id != entry.run_id:
                if entry.enqueued_at < listed_at - _CLOCK_MARGIN and (
                    entry.claimed_at is None or entry.claimed_at < listed_at - _CLOCK_MARGIN
                ):
                    gone.append(entry)
            elif is_waiting(state) and (entry.claimed_at or now) + self._hold_for < now:
                await self._fence(state)  # claimed, never handed over: put it back
                back.append(entry)
        missing = []
        for state in running:
            wanted = entry_of(state)
            if wanted is None or wanted.queue != queue.name or not is_waiting(state):
                continue
            present = entries.get(state.workflow_id)
            old = state.updated_at.timestamp() < listed_at - _CLOCK_MARGIN
            if old and (present is None or present.run_id != state.run_id):
                missing.append(wanted)
        if gone or back:
            logger.info("queue %r: releasing %d entries of ended runs", queue.name, len(gone))
            await self._table.release_queued([*gone, *back])
        if back or missing:
            await self._table.enqueue([entry.ready() for entry in back] + missing)

    async def _fence(self, state: WorkflowState) -> None:
        """Move a waiting run's version on, so a late claim by the stalled holder is refused."""
        with contextlib.suppress(Exception):
            await self._writer.write(state.model_copy(deep=True), Basis.of(state))

    async def close(self) -> None:
        await self._watchers.close()
        try:
            await self.free_ended()
        except Exception as exc:  # the sweep releases them later
            logger.warning("could not release the entries of ended runs: %s", exc)
