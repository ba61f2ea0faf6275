"""A queue's board: the slots its runs hold and its recent starts, changed only by compare-and-set.

One board per queue lives in the shared store (a system record, see
:mod:`beluga_workflow.system_records`). A worker that wants to start queued
runs reads the board, takes as many slots as every limit allows and writes the
board back under its version; when two workers race, one write is refused and
that worker reads the board again. So the limits hold across any number of
workers. A slot names its run, so it outlives the worker that took it: a run
taken over after its worker died keeps its slot, and the slot is freed when
the run ends (or, for a run never handed to a worker, when ``until`` passes).

Times on a board are epoch seconds of the clock of the worker that wrote
them, and each worker compares them with its own: the limits assume the
workers' clocks agree. With clocks apart by up to ``d`` seconds, a worker
whose clock is ahead sees another's starts leave the rate window ``d``
early, so the rate limit holds over any ``period - d`` seconds rather than
``period`` (a worker whose clock is behind is only stricter); the sweep that
frees the slots of ended runs allows one second of difference. A worker that
finds a time on the board later than its own clock by more than that says
so (:meth:`Board.latest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from beluga_workflow.queues.definition import Queue
from beluga_workflow.system_records import SYSTEM_PREFIX

__all__ = ["Board", "Candidate", "Slot", "board_id"]


def board_id(queue: str) -> str:
    """The id of queue ``queue``'s board record."""
    return f"{SYSTEM_PREFIX}queue/{queue}"


class Slot(BaseModel):
    """One run in progress on the queue (or being handed to ``worker``)."""

    model_config = ConfigDict(extra="forbid")

    run: str
    worker: str
    key: str | None = None
    since: float
    until: float
    """Until when (epoch seconds) the slot is kept for a run ``worker`` has not yet claimed."""


class Board(BaseModel):
    """The slots in use, by workflow id, and the start times inside the rate window."""

    model_config = ConfigDict(extra="forbid")

    slots: dict[str, Slot] = Field(default_factory=dict)
    starts: list[float] = Field(default_factory=list)

    def free(self, queue: Queue, worker: str, now: float) -> int:
        """How many more runs may start now by the global, per-worker and rate limits."""
        room = 1_000_000
        if queue.concurrency is not None:
            room = min(room, queue.concurrency - len(self.slots))
        if queue.worker_concurrency is not None:
            mine = sum(1 for slot in self.slots.values() if slot.worker == worker)
            room = min(room, queue.worker_concurrency - mine)
        if queue.rate is not None:
            room = min(room, queue.rate.limit - len(self._recent(queue, now)))
        return max(0, room)

    def next_start_at(self, queue: Queue, now: float) -> float | None:
        """When the rate window lets the next run start, if it does not now."""
        if queue.rate is None:
            return None
        recent = self._recent(queue, now)
        if len(recent) < queue.rate.limit:
            return None
        return recent[-queue.rate.limit] + queue.rate.period

    def take(
        self,
        queue: Queue,
        candidates: Sequence[Candidate],
        *,
        worker: str,
        room: int,
        now: float,
        hold_for: float,
    ) -> tuple[Board, list[Candidate]]:
        """A board with slots for the first ``candidates`` the limits allow, and those candidates.

        ``candidates`` come in dispatch order (priority, then age); one whose
        key is at its ``key_concurrency`` is passed over, not waited for.
        """
        free = min(room, self.free(queue, worker, now))
        if free <= 0:
            return self, []
        per_key: dict[str, int] = {}
        for slot in self.slots.values():
            if slot.key is not None:
                per_key[slot.key] = per_key.get(slot.key, 0) + 1
        chosen: list[Candidate] = []
        for candidate in candidates:
            if len(chosen) >= free:
                break
            if candidate.workflow_id in self.slots:
                continue
            key = candidate.key
            if key is not None and queue.key_concurrency is not None:
                if per_key.get(key, 0) >= queue.key_concurrency:
                    continue
                per_key[key] = per_key.get(key, 0) + 1
            chosen.append(candidate)
        if not chosen:
            return self, []
        slots = dict(self.slots)
        for candidate in chosen:
            slots[candidate.workflow_id] = Slot(
                run=candidate.run_id,
                worker=worker,
                key=candidate.key,
                since=now,
                until=now + hold_for,
            )
        starts = self._recent(queue, now) + [now] * len(chosen) if queue.rate else []
        return Board(slots=slots, starts=starts), chosen

    def latest(self) -> float | None:
        """The latest time a worker wrote on this board (a start, a slot taken), if any."""
        times = [*self.starts, *(slot.since for slot in self.slots.values())]
        return max(times) if times else None

    def without(self, workflow_ids: Sequence[str]) -> Board:
        """This board with the slots of ``workflow_ids`` freed (the same board if none is held)."""
        gone = [workflow_id for workflow_id in workflow_ids if workflow_id in self.slots]
        if not gone:
            return self
        slots = {k: v for k, v in self.slots.items() if k not in gone}
        return Board(slots=slots, starts=list(self.starts))

    def _recent(self, queue: Queue, now: float) -> list[float]:
        if queue.rate is None:
            return []
        since = now - queue.rate.period
        return sorted(t for t in self.starts if t > since)


@dataclass(frozen=True)
class Candidate:
    """A waiting run a worker could start: in dispatch order by ``order``."""

    workflow_id: str
    run_id: str
    key: str | None
    priority: int
    created: float

    @property
    def order(self) -> tuple[int, float, str]:
        return (self.priority, self.created, self.workflow_id)
