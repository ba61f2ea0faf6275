"""A worker's side of its queues: take slots on the boards, run what got one, free them.

Each round the worker lists the waiting runs of the queues it serves, takes
slots for the best of them on each queue's board (one compare-and-set for as
many as the limits allow), then claims each run by replacing its placeholder
lease with its own. A run whose claim fails gives its slot back at once.
When a run ends here its slot is freed by the worker's next board write (the
one that takes the next slots); slots of runs that ended elsewhere
(taken over after a crash, canceled while orphaned) are freed by a sweep of
the board that any worker makes when the queue is full.

On a store with ``queue_dispatch`` none of this applies: the dispatcher hands
every round to :class:`~beluga_workflow.queues.native.NativeQueues`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from beluga_workflow.executor import Executor
from beluga_workflow.handle import WorkflowHandle
from beluga_workflow.models import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow.queues.board import Board, Candidate, board_id
from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.endings import EndWatchers
from beluga_workflow.queues.native import NativeQueues
from beluga_workflow.queues.placement import is_waiting, placeholder_lease, placement_of
from beluga_workflow.run_listing import list_runs
from beluga_workflow.store import SupportsQueueDispatch
from beluga_workflow.system_records import update_record
from beluga_workflow.writes import Basis, ConditionalWriter

__all__ = ["QueueDispatcher"]

logger = logging.getLogger("beluga_workflow.queues")

BOARD_KEY = "board"
"""The system record's metadata key under which a queue's :class:`Board` is kept."""

_SWEEP_EVERY = 0.5
"""Seconds between two sweeps of one queue's board by one worker, at least."""

_CLOCK_MARGIN = 1.0
"""Seconds a slot must be older than a listing before the listing may free it (clock skew)."""


class QueueDispatcher:
    """Starts the waiting runs of ``queues`` on ``executor`` as their limits allow."""

    def __init__(
        self,
        executor: Executor,
        queues: Iterable[Queue],
        *,
        hold_for: float,
        listing_age: float = 0.05,
    ) -> None:
        self._executor = executor
        self._listing: list[WorkflowState] | None = None
        self._listed_at = 0.0
        self._listing_age = listing_age
        self._queues = {queue.name: queue for queue in queues}
        self._hold_for = hold_for
        self._writer = ConditionalWriter(executor.store)
        self._swept: dict[str, float] = {}
        self._watchers = EndWatchers()
        self._ended: dict[str, set[str]] = {}
        """Runs that ended here, by queue, whose slots the next board write frees."""
        self._skew_told: set[str] = set()
        """Queues whose board showed a clock ahead of this worker's (said once each)."""
        self.next_start_at: float | None = None
        """The earliest epoch time a rate limit lets a waiting run start, if one holds runs back."""
        self._native: NativeQueues | None = None
        """The store's own queue entries, used instead of boards when it has ``queue_dispatch``."""
        if self._queues and isinstance(executor.store, SupportsQueueDispatch):
            self._native = NativeQueues(executor, self._queues.values(), hold_for=hold_for)

    @property
    def queues(self) -> list[Queue]:
        return list(self._queues.values())

    async def running_runs(self) -> list[WorkflowState]:
        """The store's running runs, listed at most every ``_LISTING_AGE`` seconds.

        A worker round uses one listing for its claims and its queues, and
        rounds that come close together (each run that ends makes one) share
        it: every claim is conditional on the run's version, so a run that
        changed since it was listed is simply not taken.
        """
        now = time.time()
        if self._listing is None or now - self._listed_at > self._listing_age:
            filter = WorkflowFilter(status=WorkflowStatus.RUNNING)
            self._listing = list(await list_runs(self._executor.store, filter))
            self._listed_at = now
        return self._listing

    async def dispatch(self, room: int, running: list[WorkflowState] | None = None) -> int:
        """Start up to ``room`` waiting runs (from ``running``, else a listing); how many."""
        self.next_start_at = None
        if not self._queues:
            return 0
        if self._native is not None:
            return await self._dispatch_natively(room, running)
        if room <= 0:
            await self._free_ended()
            return 0
        if running is None:
            running = await self.running_runs()
        listed_at = self._listed_at
        waiting: dict[str, list[tuple[Candidate, WorkflowState]]] = {}
        for state in running:
            options = placement_of(state)
            if options is None or options.name not in self._queues or not is_waiting(state):
                continue
            if not self._executor.is_registered(state.workflow_name or ""):
                continue
            candidate = Candidate(
                workflow_id=state.workflow_id,
                run_id=state.run_id,
                key=options.key,
                priority=options.priority,
                created=state.created_at.timestamp(),
            )
            waiting.setdefault(options.name, []).append((candidate, state))
        started = 0
        for name, entries in waiting.items():
            if started >= room:
                break
            entries.sort(key=lambda entry: entry[0].order)
            queue = self._queues[name]
            chosen = await self._take_slots(queue, [c for c, _ in entries], room - started)
            if not chosen:
                await self._sweep(queue, running, listed_at)
                continue
            states = {c.workflow_id: s for c, s in entries}
            for candidate in chosen:
                if await self._hand_over(queue, states[candidate.workflow_id]):
                    started += 1
        await self._free_ended()
        return started

    async def _dispatch_natively(self, room: int, running: list[WorkflowState] | None) -> int:
        assert self._native is not None
        if room <= 0:
            await self._native.free_ended()
            return 0
        if running is None:
            running = await self.running_runs()
        started = await self._native.dispatch(room, running, self._listed_at)
        self.next_start_at = self._native.next_start_at
        return started

    async def _free_ended(self) -> None:
        """Free the slots of runs that ended here and that no board write has freed yet."""
        for name, ended in list(self._ended.items()):
            if ended:
                gone = list(ended)
                await self.release(name, gone)
                ended.difference_update(gone)

    async def _take_slots(
        self, queue: Queue, candidates: list[Candidate], room: int
    ) -> list[Candidate]:
        worker = self._executor.worker_id or ""
        chosen: list[Candidate] = []
        ended = self._ended.setdefault(queue.name, set())
        freeing = list(ended)  # freed in the same write

        def take(raw: Any) -> Any:
            nonlocal chosen
            stored = Board.model_validate(raw) if raw is not None else Board()
            board = stored.without(freeing)
            now = time.time()
            self._tell_skew(queue, board, now)
            new, chosen = board.take(
                queue, candidates, worker=worker, room=room, now=now, hold_for=self._hold_for
            )
            if not chosen:
                self.next_start_at = _earliest(self.next_start_at, board.next_start_at(queue, now))
                return raw if board is stored else board.model_dump(mode="json")
            return new.model_dump(mode="json")

        await update_record(self._executor.store, board_id(queue.name), BOARD_KEY, take)
        ended.difference_update(freeing)
        return chosen

    def _tell_skew(self, queue: Queue, board: Board, now: float) -> None:
        """Warn (once per queue) when another worker wrote a time ahead of this clock."""
        latest = board.latest()
        if latest is None or latest - now <= _CLOCK_MARGIN or queue.name in self._skew_told:
            return
        self._skew_told.add(queue.name)
        logger.warning(
            "queue %r: its board holds a time %.1fs ahead of this worker's clock; the queue's "
            "limits assume the workers' clocks agree (keep them in sync)",
            queue.name,
            latest - now,
        )

    async def _hand_over(self, queue: Queue, state: WorkflowState) -> bool:
        """Claim the run that got a slot; give the slot back if it cannot be claimed."""
        handle: WorkflowHandle | None = None
        try:
            handle = await self._executor.claim_run(state, over=placeholder_lease(queue.name))
        except Exception as exc:
            logger.warning("could not claim queued run %r: %s", state.workflow_id, exc)
        if handle is None:
            await self.release(queue.name, [state.workflow_id])
            return False
        self._watchers.watch(self._note_end(queue.name, handle))
        return True

    async def _note_end(self, queue: str, handle: WorkflowHandle) -> None:
        """When the run ends here, have its slot freed by the next round's board write.

        The run's end wakes the worker's next round, which frees the slot and
        takes the next ones in one compare-and-set of the board.
        """
        with contextlib.suppress(Exception):
            await handle.result()
        if handle.status is WorkflowStatus.RUNNING:
            return  # stopped here without ending: it keeps its slot, resumed elsewhere
        self._ended.setdefault(queue, set()).add(handle.id)
        self._executor.claimable_hint.set()  # a round now: the slot can go to the next run

    async def release(self, queue: str, workflow_ids: list[str]) -> None:
        """Free the slots of ``workflow_ids`` on ``queue``'s board."""

        def free(raw: Any) -> Any:
            if raw is None:
                return raw
            board = Board.model_validate(raw)
            new = board.without(workflow_ids)
            return raw if new is board else new.model_dump(mode="json")

        await update_record(self._executor.store, board_id(queue), BOARD_KEY, free)

    async def _sweep(self, queue: Queue, running: list[WorkflowState], listed_at: float) -> None:
        """Free slots whose run ended, or was never handed to a worker in time."""
        now = time.time()
        if now - self._swept.get(queue.name, 0.0) < _SWEEP_EVERY:
            return
        self._swept[queue.name] = now
        live = {state.workflow_id: state for state in running}

        def stale(raw: Any) -> list[str]:
            board = Board.model_validate(raw) if raw is not None else Board()
            gone = []
            for workflow_id, slot in board.slots.items():
                state = live.get(workflow_id)
                if state is None or state.run_id != slot.run:
                    if slot.since < listed_at - _CLOCK_MARGIN:
                        gone.append(workflow_id)
                elif is_waiting(state) and slot.until < now:
                    gone.append(workflow_id)
            return gone

        from beluga_workflow.system_records import read_record

        raw, _ = await read_record(self._executor.store, board_id(queue.name), BOARD_KEY)
        gone = stale(raw)
        for workflow_id in gone:
            state = live.get(workflow_id)
            if state is not None and is_waiting(state):
                await self._fence(state)
        if gone:
            logger.info("queue %r: freeing %d slot(s) of ended runs", queue.name, len(gone))
            await self.release(queue.name, gone)

    async def _fence(self, state: WorkflowState) -> None:
        """Move a waiting run's version on, so a late claim by the slot's holder is refused."""
        basis = Basis.of(state)
        touched = state.model_copy(deep=True)
        touched.updated_at = max(touched.updated_at, state.updated_at)
        with contextlib.suppress(Exception):
            await self._writer.write(touched, basis)

    async def close(self) -> None:
        """Stop watching runs and free the slots of those that ended (the sweep frees others)."""
        if self._native is not None:
            await self._native.close()
        await self._watchers.close()
        try:
            await self._free_ended()
        except Exception as exc:  # the sweep frees them later
            logger.warning("could not free the slots of ended runs: %s", exc)


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
