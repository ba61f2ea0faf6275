"""Where a run waits: the queue it was started on, its priority, key and deduplication key.

A run started on a queue is stored ``running`` but held by a placeholder
lease (owner ``~queue:<name>``, never expiring), so no claim round and no
``recover()`` takes it; a worker serving the queue replaces that lease with its
own once the queue's board gives the run a slot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from beluga_workflow.models import Lease, WorkflowState
from beluga_workflow.queues.definition import require_queue_text

__all__ = [
    "QUEUE_METADATA",
    "QueueOptions",
    "deduplicated_id",
    "is_waiting",
    "place",
    "placeholder_lease",
    "placement_of",
]

QUEUE_METADATA = "queue"
"""``WorkflowState.metadata`` key holding a queued run's :class:`QueueOptions`."""

_PLACEHOLDER_OWNER = "~queue:"
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


class QueueOptions(BaseModel):
    """``WorkflowOptions(queue=...)``: start the run on queue ``name`` instead of at once.

    Lower ``priority`` numbers are dispatched first (ties: oldest first).
    ``key`` groups runs for the queue's ``key_concurrency``. ``dedup_key``
    makes the start idempotent while a run with that key waits or runs on the
    queue: the run's id is derived from it, so a second start returns the
    first run instead of starting another (it cannot be combined with an id).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(default=0, ge=-(2**31), le=2**31 - 1)
    key: str | None = Field(default=None, min_length=1)
    dedup_key: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _storable(self) -> QueueOptions:
        require_queue_text(self.name, "queue name")
        for value, what in ((self.key, "queue key"), (self.dedup_key, "dedup key")):
            if value is not None:
                require_queue_text(value, what)
        return self


def deduplicated_id(options: QueueOptions) -> str | None:
    """The run id a deduplicated start uses, or ``None`` without a ``dedup_key``."""
    if options.dedup_key is None:
        return None
    return f"{options.name}:dedup:{options.dedup_key}"


def placeholder_lease(queue: str) -> Lease:
    """The lease that keeps a waiting run from being claimed outside its queue."""
    return Lease(owner=f"{_PLACEHOLDER_OWNER}{queue}", epoch=1, expires_at=_NEVER)


def place(state: WorkflowState, options: QueueOptions) -> None:
    """Make the new run ``state`` wait on its queue."""
    state.metadata[QUEUE_METADATA] = options.model_dump(mode="json", exclude_none=True)
    state.lease = placeholder_lease(options.name)


def placement_of(state: WorkflowState) -> QueueOptions | None:
    """The queue options a run was started with, ``None`` for a run not started on a queue."""
    raw: Any = state.metadata.get(QUEUE_METADATA)
    if not isinstance(raw, dict):
        return None
    try:
        return QueueOptions.model_validate(raw)
    except ValueError:
        return None


def is_waiting(state: WorkflowState) -> bool:
    """Whether the run waits on its queue for a slot (no worker was given it yet)."""
    lease = state.lease
    return lease is not None and lease.owner.startswith(_PLACEHOLDER_OWNER)
