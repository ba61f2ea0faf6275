"""Stores that each break one ``queue_dispatch.*`` rule (see ``broken_stores.py`` for the idea)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from beluga_workflow import Queue
from beluga_workflow.queues.entries import QueueClaim, QueueEntry, require_entries
from beluga_workflow.queues.table import next_start_at, select_claims
from contract_tests.tests.broken_stores import ContractStore


class ClaimsOldestFirst(ContractStore):
    """Orders ready entries by enqueue time alone: priorities are ignored."""

    breaks = ("queue_dispatch.order",)

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        table = self._table(queue.name)
        saved = dict(table)
        table.update({k: _flat(e) for k, e in table.items() if e.holder is None})
        claim = await super().claim_queued(queue, holder, count, now)
        for entry in claim.entries:
            saved[entry.workflow_id] = _restore(saved[entry.workflow_id], entry)
        table.clear()
        table.update(saved)
        return QueueClaim([saved[e.workflow_id] for e in claim.entries], claim.next_start_at)


def _flat(entry: QueueEntry) -> QueueEntry:
    return QueueEntry(entry.queue, entry.workflow_id, entry.run_id, entry.enqueued_at)


def _restore(original: QueueEntry, claimed: QueueEntry) -> QueueEntry:
    assert claimed.holder is not None
    assert claimed.claimed_at is not None
    return original.claimed(claimed.holder, claimed.claimed_at)


class IgnoresKeyLimit(ContractStore):
    """Claims without counting a key's entries in progress."""

    breaks = ("queue_dispatch.limits",)

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        unkeyed = queue.model_copy(update={"key_concurrency": None})
        return await super().claim_queued(unkeyed, holder, count, now)


class ForgetsReleasedStarts(ContractStore):
    """Counts only the claims still held against the rate limit."""

    breaks = ("queue_dispatch.rate",)

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        held = [e.claimed_at for e in self._table(queue.name).values()]
        self._queue_starts[queue.name] = [t for t in held if t is not None]
        return await super().claim_queued(queue, holder, count, now)


class RacyQueueClaim(ContractStore):
    """Reads the counts, waits for the backend, then writes what it chose without a check."""

    breaks = ("queue_dispatch.one_winner",)

    async def claim_queued(self, queue: Queue, holder: str, count: int, now: float) -> QueueClaim:
        await super().claim_queued(queue, holder, 0, now)  # checks the arguments
        table = self._table(queue.name)
        starts = self._queue_starts.setdefault(queue.name, [])
        chosen = select_claims(queue, list(table.values()), starts, holder, count, now)
        await asyncio.sleep(0.001)
        for entry in chosen:
            table[entry.workflow_id] = entry
            starts.append(now)
        return QueueClaim(
            chosen, next_start_at(queue, starts, now) if len(chosen) < count else None
        )


class ReleasesEveryRunOfTheId(ContractStore):
    """Releases an entry by workflow id, whichever run it belongs to."""

    breaks = ("queue_dispatch.entries",)

    async def release_queued(self, entries: Sequence[QueueEntry]) -> int:
        gone = 0
        for entry in require_entries(entries):
            if self._table(entry.queue).pop(entry.workflow_id, None) is not None:
                gone += 1
        return gone


class ClaimsAnyCount(ContractStore):
    """Takes a negative or fractional count as no entries instead of refusing it."""

    breaks = ("queue_dispatch.bad_input",)

    async def claim_queued(self, queue: Queue, holder: str, count: Any, now: float) -> QueueClaim:
        if not isinstance(count, int) or count < 0:
            return QueueClaim([])
        return await super().claim_queued(queue, holder, count, now)


BROKEN_QUEUE_STORES: list[type[ContractStore]] = [
    ClaimsOldestFirst,
    IgnoresKeyLimit,
    ForgetsReleasedStarts,
    RacyQueueClaim,
    ReleasesEveryRunOfTheId,
    ClaimsAnyCount,
]
