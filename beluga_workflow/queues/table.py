"""``queue_dispatch`` in memory: the reference for stores that keep queue entries natively.

:class:`InMemoryQueueTable` is a mixin for a store class that lives in one
process (each claim runs without an ``await``, so it is atomic on the event
loop); the contract suite's reference store and the tests of both dispatch
paths use it. :func:`select_claims` is the rule every implementation follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.entries import (
    QueueClaim,
    QueueEntry,
    require_claim,
    require_entries,
    require_queue_name,
)

__all__ = ["InMemoryQueueTable", "next_start_at", "select_claims"]


def select_claims(
    queue: Queue,
    entries: Iterable[QueueEntry],
    starts: Sequence[float],
    holder: str,
    count: int,
    now: float,
) -> list[QueueEntry]:
    """The ready entries of ``entries`` that a claim of ``count`` by ``holder`` takes now.

    ``starts`` are the queue's claim times (those inside the rate window count).
    """
    ready: list[QueueEntry] = []
    held: list[QueueEntry] = []
    for entry in entries:
        (ready if entry.holder is None else held).append(entry)
    room = count
    if queue.concurrency is not None:
        room = min(room, queue.concurrency - len(held))
    if queue.worker_concurrency is not None:
        room = min(room, queue.worker_concurrency - sum(e.holder == holder for e in held))
    if queue.rate is not None:
        since = now - queue.rate.period
        room = min(room, queue.rate.limit - sum(1 for t in starts if t > since))
    per_key: dict[str, int] = {}
    for entry in held:
        if entry.key is not None:
            per_key[entry.key] = per_key.get(entry.key, 0) + 1
    chosen: list[QueueEntry] = []
    for entry in sorted(ready, key=lambda e: e.order):
        if len(chosen) >= room:
            break
        if entry.key is not None and queue.key_concurrency is not None:
            if per_key.get(entry.key, 0) >= queue.key_concurrency:
                continue
            per_key[entry.key] = per_key.get(entry.key, 0) + 1
        chosen.append(entry.claimed(holder, now))
    return chosen


def next_start_at(queue: Queue, starts: Sequence[float], now: float) -> float | None:
    """When the rate window lets the next claim go, if it holds claims back now."""
    if queue.rate is None:
        return None
    recent = sorted(t for t in starts if t > now - queue.rate.period)
    if len(recent) < queue.rate.limit:
        return None
    return recent[-queue.rate.limit] + queue.rate.period


class InMemoryQueueTable:
    """The four ``queue_dispatch`` methods over dictionaries of this object."""

    _queue_entries: dict[str, dict[str, QueueEntry]]
    _queue_starts: dict[str, list[float]]

    def _table(self, queue: str) -> dict[str, QueueEntry]:
        check_open = getattr(self, "check_open", None)
        if callable(check_open):  # a closed store refuses these calls like any other
            check_open()
        if not hasattr(self, "_queue_entries"):
            self._queue_entries = {}
            self._queue_starts = {}
        return self._queue_entries.setdefault(queue, {})

    async def enqueue(self, entries: Sequence[QueueEntry]) -> list[str]:
        added: list[str] = []
        for entry in require_entries(entries):
            table = self._table(entry.queue)
            present = table.get(entry.workflow_id)
            if present is not None and present.run_id == entry.run_id:
                continue
            if entry.dedup_key is not None and any(
                other.dedup_key == entry.dedup_key and other.workflow_id != entry.workflow_id
                for other in table.values()
            ):
                continue
            table[entry.workflow_id] = entry.ready()
            added.append(entry.workflow_id)
        return added

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        queue, holder, count, now = require_claim(queue, holder, count, now)
        table = self._table(queue.name)
        starts = self._queue_starts.setdefault(queue.name, [])
        if queue.rate is not None:
            starts[:] = [t for t in starts if t > now - queue.rate.period]
        chosen = select_claims(queue, table.values(), starts, holder, count, now)
        for entry in chosen:
            table[entry.workflow_id] = entry
            if queue.rate is not None:
                starts.append(now)
        held_back = len(chosen) < count
        return QueueClaim(chosen, next_start_at(queue, starts, now) if held_back else None)

    async def release_queued(self, entries: Sequence[QueueEntry]) -> int:
        gone = 0
        for entry in require_entries(entries):
            table = self._table(entry.queue)
            present = table.get(entry.workflow_id)
            if present is not None and present.run_id == entry.run_id:
                del table[entry.workflow_id]
                gone += 1
        return gone

    async def queued(self, queue: str) -> list[QueueEntry]:
        return sorted(self._table(require_queue_name(queue)).values(), key=lambda e: e.order)
