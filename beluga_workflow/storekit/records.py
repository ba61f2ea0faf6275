"""What a store writes for a state, taken from it once, when the call is made.

Every store keeps a state as a *head* (every field but the history, as JSON),
the columns listing and concurrency need, and the history as one JSON text
per event. Encoding happens in the caller's task, before any await: the write
may run later (after waiting for a connection, on another thread), when the
caller has changed the state or moved on. A step encodes only its new
events; the stored ones before ``kept`` are encoded only if a store needs the
whole history after all (the state turned out not to be stored yet), and
nobody changes them, as the caller says they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from beluga_workflow.codec import decode_state_parts, encode_head, stored_text
from beluga_workflow.models import HistoryEvent, WorkflowState

__all__ = [
    "StateRecord",
    "decode_state_parts",
    "encode_head",
    "epoch_microseconds",
    "stored_text",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def epoch_microseconds(moment: datetime) -> int:
    """``moment`` as whole microseconds since 1970: a sort key exact for every timestamp."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One state, encoded for a write; ``events`` are those from ``kept`` on."""

    workflow_id: str
    status: str
    created_at: datetime
    version: int
    history_len: int
    head: str
    """Every field but the history, as JSON (see :func:`~beluga_workflow.codec.encode_head`)."""
    kept: int
    """How many events before ``events`` are stored already (0: ``events`` is the whole history)."""
    events: list[str]
    """The JSON of each event from ``kept`` on."""
    history: list[HistoryEvent]

    @classmethod
    def of(cls, state: WorkflowState, kept: int = 0) -> StateRecord:
        """Encode ``state``, whose first ``kept`` events are stored (checked by the caller)."""
        history = state.history
        return cls(
            workflow_id=state.workflow_id,
            status=state.status.value,
            created_at=state.created_at,
            version=state.version,
            history_len=len(history),
            head=encode_head(state),
            kept=kept,
            events=[history[i].model_dump_json() for i in range(kept, len(history))],
            history=history,
        )

    @property
    def created_text(self) -> str:
        """The creation time as ISO text with microseconds: sorts as the times do."""
        return self.created_at.isoformat(timespec="microseconds")

    @property
    def created_microseconds(self) -> int:
        return epoch_microseconds(self.created_at)

    def all_events(self) -> list[str]:
        """Every event's JSON: the stored ones encoded now, then ``events``."""
        if not self.kept:
            return self.events
        return [event.model_dump_json() for event in self.history[: self.kept]] + self.events

    def events_text(self) -> str:
        """``events`` as JSON list items joined by commas (no brackets)."""
        return ",".join(self.events)
