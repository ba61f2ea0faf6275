"""The entries a store with ``queue_dispatch`` keeps for queued runs, and their checks.

An entry stands for one run waiting on, or holding a place in, its queue: it
is added when the run is submitted, claimed by the worker that will run it
and released when the run ends (see
:class:`~beluga_workflow.store.SupportsQueueDispatch`). Every implementation
checks its arguments with the ``require_*`` functions here before it changes
anything, so bad input is refused alike by every store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.queues.definition import Queue, require_queue_text
from beluga_workflow.validation import require_workflow_id

__all__ = [
    "QueueClaim",
    "QueueEntry",
    "require_claim",
    "require_entries",
    "require_queue_name",
    "require_queue_text",
]

_PRIORITY_BOUND = 2**31
_MAX_CLAIM = 10_000


@dataclass(frozen=True)
class QueueEntry:
    """One queued run; ``holder`` and ``claimed_at`` are set once a worker claimed it."""

    queue: str
    workflow_id: str
    run_id: str
    enqueued_at: float
    """Epoch seconds: the run's creation time, so an entry put back keeps its turn."""
    priority: int = 0
    key: str | None = None
    dedup_key: str | None = None
    holder: str | None = None
    claimed_at: float | None = None

    @property
    def order(self) -> tuple[int, float, str]:
        """Dispatch order: lower priority numbers first, then the oldest, then by id."""
        return (self.priority, self.enqueued_at, self.workflow_id)

    def claimed(self, holder: str, now: float) -> QueueEntry:
        """This entry as claimed by ``holder`` at ``now``."""
        return replace(self, holder=holder, claimed_at=now)

    def ready(self) -> QueueEntry:
        """This entry as it was enqueued (no holder)."""
        return replace(self, holder=None, claimed_at=None)


@dataclass(frozen=True)
class QueueClaim:
    """What one claim took, and when a rate limit lets the next entry go if it held one back."""

    entries: list[QueueEntry]
    next_start_at: float | None = None


def require_queue_name(queue: Any) -> str:
    """Return ``queue`` if it is a valid queue name (as :class:`Queue` accepts); raise otherwise."""
    name = require_queue_text(queue, "queue name")
    if len(name) > 200:
        raise InvalidArgumentError(f"queue name must be at most 200 characters, got {len(name)}")
    return name


def require_entries(entries: Any) -> list[QueueEntry]:
    """Return ``entries`` as a list if each is a valid :class:`QueueEntry`; raise otherwise."""
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise InvalidArgumentError(f"entries must be a sequence of QueueEntry, got {entries!r}")
    checked = list(entries)
    for entry in checked:
        if not isinstance(entry, QueueEntry):
            raise InvalidArgumentError(f"entries must be QueueEntry objects, got {entry!r}")
        require_queue_name(entry.queue)
        require_workflow_id(entry.workflow_id)
        require_queue_text(entry.run_id, "run id")
        _require_time(entry.enqueued_at, "enqueued_at")
        if isinstance(entry.priority, bool) or not isinstance(entry.priority, int):
            raise InvalidArgumentError(f"priority must be an int, got {entry.priority!r}")
        if not -_PRIORITY_BOUND <= entry.priority < _PRIORITY_BOUND:
            raise InvalidArgumentError(f"priority must fit in 32 bits, got {entry.priority}")
        for value, what in ((entry.key, "queue key"), (entry.dedup_key, "dedup key")):
            if value is not None:
                require_queue_text(value, what)
        if entry.holder is not None:
            require_queue_text(entry.holder, "holder")
    return checked


def require_claim(queue: Any, holder: Any, count: Any, now: Any) -> tuple[Queue, str, int, float]:
    """Check the arguments of ``claim_queued``; return them."""
    if not isinstance(queue, Queue):
        raise InvalidArgumentError(f"queue must be a Queue, got {queue!r}")
    require_queue_text(holder, "holder")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_CLAIM:
        raise InvalidArgumentError(f"count must be an int from 0 to {_MAX_CLAIM}, got {count!r}")
    return queue, holder, count, _require_time(now, "now")


def _require_time(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be finite epoch seconds, got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{what} must not be negative, got {value!r}")
    return float(value)
