"""Starting scheduled runs: every worker may tick every schedule, and each tick starts once.

A tick's run has an id made from the schedule and the tick
(:func:`~beluga_workflow.schedules.spec.tick_run_id`) and is stored only if no
record has that id (a compare-and-append that expects nothing stored), so when
several workers reach the same tick one stores the run and the others find it
there. Then the book's ``last_tick`` moves on by compare-and-set. A run's
metadata names its ``schedule``, its ``tick`` and whether it was
``caught_up`` (started for a missed tick). A worker that
dies between the two leaves the tick to the next worker, which finds the run
already stored: a tick starts exactly once as long as its run is not deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta

from beluga_workflow.errors import ConcurrencyConflictError
from beluga_workflow.history import DEFAULT_STORE_RETRY
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState, WorkflowStatus, utc_now
from beluga_workflow.queues.native import enqueue_run
from beluga_workflow.queues.placement import place
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.schedules.book import ScheduleBook, ScheduleEntry
from beluga_workflow.schedules.spec import CatchUp, tick_run_id
from beluga_workflow.store import WorkflowStore
from beluga_workflow.writes import Basis, ConditionalWriter, StoreAttempts

__all__ = ["ScheduleTicker", "due_ticks"]

logger = logging.getLogger("beluga_workflow.schedules")

_LONGEST_WAIT = 1.0
"""Seconds a ticker sleeps at most: a schedule created or resumed elsewhere is seen this soon."""


def due_ticks(
    entry: ScheduleEntry, now: datetime
) -> tuple[list[datetime], list[datetime], datetime | None]:
    """The ticks to start now in time and as catch-up (each oldest first), and the latest due."""
    schedule = entry.schedule
    late = timedelta(seconds=schedule.late_after)
    on_time: list[datetime] = []
    missed: list[datetime] = []
    latest: datetime | None = None
    for tick in entry.schedule.ticks_before(now, entry.last_tick, entry.anchor):
        latest = latest or tick
        if now - tick <= late:
            on_time.append(tick)
        else:
            missed.append(tick)
            if len(missed) >= schedule.max_catch_up:
                break  # enough: older ones are never started
    if schedule.catch_up is CatchUp.SKIP:
        missed = []
    elif schedule.catch_up is CatchUp.ONCE:
        missed = missed[:1]
    return sorted(on_time), sorted(missed), latest


class ScheduleTicker:
    """Starts the due ticks of every schedule in ``store`` (used by ``Worker(schedules=True)``)."""

    def __init__(self, store: WorkflowStore, *, retry: RetryPolicy = DEFAULT_STORE_RETRY) -> None:
        self._store = store
        self._book = ScheduleBook(store)
        self._writer = ConditionalWriter(store)
        self._retry = retry

    async def tick(self) -> float:
        """Start what is due now; return the seconds until the next tick (at most a second)."""
        now = utc_now()
        wait = _LONGEST_WAIT
        for entry in await self._book.list():
            if entry.paused:
                continue
            on_time, caught_up, latest = due_ticks(entry, now)
            for tick in caught_up:
                await self._start(entry, tick, caught_up=True)
            for tick in on_time:
                await self._start(entry, tick, caught_up=False)
            if latest is not None:
                await self._book.advance(entry.schedule.name, latest)
                entry = entry.model_copy(update={"last_tick": latest})
            until = (entry.next_tick() - utc_now()).total_seconds()
            wait = min(wait, max(0.0, until))
        return wait

    async def run(self, stopping: asyncio.Event) -> None:
        """Tick until ``stopping`` is set; a failing store is logged and tried again."""
        while not stopping.is_set():
            try:
                wait = await self.tick()
            except Exception as exc:
                logger.warning("could not start scheduled runs: %s", exc)
                wait = _LONGEST_WAIT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait)

    async def _start(self, entry: ScheduleEntry, tick: datetime, *, caught_up: bool) -> bool:
        """Store the run of ``tick`` unless a record has its id; whether this call stored it."""
        schedule = entry.schedule
        workflow_id = tick_run_id(schedule.name, tick)
        now = utc_now()
        state = WorkflowState(
            workflow_id=workflow_id,
            run_id=uuid.uuid4().hex,
            status=WorkflowStatus.RUNNING,
            input=schedule.input,
            history=[
                HistoryEvent(
                    id=1, type=EventType.WORKFLOW_STARTED, timestamp=now, input=schedule.input
                )
            ],
            created_at=now,
            updated_at=now,
            workflow_name=schedule.workflow,
            metadata={"schedule": schedule.name, "tick": tick.isoformat(), "caught_up": caught_up},
        )
        if schedule.queue is not None:
            place(state, schedule.queue)
        attempts = StoreAttempts(self._retry, f"starting {workflow_id!r}")
        while True:
            try:
                await self._writer.write(state, Basis(state.run_id, 0, 0))
                with contextlib.suppress(Exception):  # else a worker's sweep enqueues it
                    await enqueue_run(self._store, state)
                return True
            except ConcurrencyConflictError:
                return False  # another worker started this tick
            except Exception as exc:
                await attempts.failed(exc)
            stored = await attempts.call(lambda: self._store.load(workflow_id))
            if stored is not None:
                return stored.run_id == state.run_id
