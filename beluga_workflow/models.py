"""The data a store keeps: workflow states, their history, and list filters.

Models are pydantic v2 models so that every store serializes them the same
way (see :mod:`beluga_workflow.codec`). Timestamps are always timezone-aware
and normalized to UTC, so a state read back from any store compares equal to
the one saved. Payload fields accept any value at construction; whether it is
a JSON value is checked by the store or executor call that takes it in, so the
error appears where the payload entered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from beluga_workflow.clock import TEST_CLOCK

__all__ = [
    "MAX_LIMIT",
    "EventType",
    "HistoryEvent",
    "Lease",
    "Signal",
    "WorkflowFilter",
    "WorkflowState",
    "WorkflowStatus",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime (a test kit's clock, when it runs one)."""
    clock = TEST_CLOCK.get()
    return datetime.now(UTC) if clock is None else clock()


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, converted to UTC on validation. Naive datetimes are refused."""


class WorkflowStatus(StrEnum):
    """Where a workflow is in its life. Only ``running`` workflows are resumed."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True once the workflow can no longer make progress."""
        return self is not WorkflowStatus.RUNNING


class EventType(StrEnum):
    """Kinds of history events. New kinds may be added; stores must keep unknown ones."""

    WORKFLOW_STARTED = "workflow_started"
    WORKFLOW_COMPLETED = "workflow_completed"
    WORKFLOW_FAILED = "workflow_failed"
    WORKFLOW_CANCELED = "workflow_canceled"
    ACTIVITY_STARTED = "activity_started"
    ACTIVITY_COMPLETED = "activity_completed"
    ACTIVITY_FAILED = "activity_failed"
    SIGNAL_RECEIVED = "signal_received"
    TIMER_STARTED = "timer_started"
    TIMER_FIRED = "timer_fired"
    MARKER_RECORDED = "marker_recorded"
    EVENT_PUBLISHED = "event_published"


class HistoryEvent(BaseModel):
    """One recorded step of a workflow; the executor replays these after a crash."""

    model_config = ConfigDict(extra="forbid")

    id: int
    type: EventType
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    activity_name: str | None = None
    input: Any = None
    result: Any = None
    error: str | None = None
    signal_name: str | None = None
    signal_payload: Any = None
    duration: float | None = Field(default=None, description="Seconds the step took.")
    attempt: int | None = Field(default=None, description="Activity attempt number, from 1.")
    fire_at: UtcDatetime | None = Field(default=None, description="When a timer is due.")
    position: str | None = Field(
        default=None,
        description="Where the workflow made the call: its branch and number there "
        "(replay matches calls by it; histories stored before it existed have none).",
    )
    change_id: str | None = Field(default=None, description="A patch marker's change id.")
    event_key: str | None = Field(
        default=None, description="The key of a published event; its value is in ``result``."
    )


class Lease(BaseModel):
    """Which worker runs a run, until when, and how often the run changed hands.

    Kept with the run and written under the run's own version condition, so
    claiming, renewing and giving it up are atomic. ``epoch`` grows with every
    claim; a worker whose lease was taken sees another owner or epoch and
    stops. Immutable: a renewal is a new lease.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str = Field(min_length=1)
    epoch: int = Field(ge=1)
    expires_at: UtcDatetime

    def is_live(self, now: datetime) -> bool:
        """True until ``expires_at`` (by the reader's clock)."""
        return now < self.expires_at


class WorkflowState(BaseModel):
    """Everything a store keeps about one workflow run.

    ``workflow_name`` lets a new process find the function to replay after a
    restart; ``version`` counts writes for stores with optimistic concurrency.
    ``metadata`` holds JSON the engine needs (for example a timeout deadline).
    ``lease`` names the worker running it, on stores that can keep one
    (``compare_and_append``); ``None`` means any worker may claim it.
    """

    model_config = ConfigDict(extra="forbid")

    workflow_id: str
    run_id: str = ""
    status: WorkflowStatus = WorkflowStatus.RUNNING
    input: Any = None
    result: Any = None
    error: str | None = None
    history: list[HistoryEvent] = Field(default_factory=list)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    workflow_name: str | None = None
    version: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    lease: Lease | None = None


MAX_LIMIT = 2**63 - 1
"""The largest ``WorkflowFilter.limit``: what a signed 64-bit integer, as SQL uses, holds."""


class WorkflowFilter(BaseModel):
    """Which states :meth:`WorkflowStore.list` returns.

    ``limit=0`` means no limit. A negative limit, or one above
    :data:`MAX_LIMIT`, fails validation here, and a store handed one anyway
    (``model_construct``) raises ``InvalidArgumentError``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    status: WorkflowStatus | None = None
    limit: int = Field(default=0, ge=0, le=MAX_LIMIT)


class Signal(BaseModel):
    """A named message delivered to a running workflow."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    payload: Any = None
