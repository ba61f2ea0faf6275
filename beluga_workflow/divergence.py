"""What replay reports when a workflow's code no longer matches a run's history.

A divergence is not the workflow's failure: the code changed under a run in
progress. The executor leaves such a run ``running`` and marks it *blocked*
(the mark is kept in the run's metadata, so ``show`` and ``list`` can say
which event it is stuck at), and the run resumes as soon as a worker with
matching (or patched) code resumes it.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow.errors import NonDeterminismError
from beluga_workflow.models import WorkflowState

__all__ = ["BLOCKED_KEY", "HistoryDivergenceError", "blocked_mark"]

BLOCKED_KEY = "blocked"
"""``WorkflowState.metadata`` key of a run's blocked mark (see :func:`blocked_mark`)."""


class HistoryDivergenceError(NonDeterminismError):
    """The workflow asked for something other than what history recorded at that place.

    ``event_id`` and ``event_type`` name the recorded event; ``recorded`` and
    ``requested`` describe what history has and what the code asked for
    (``None`` when it asked for nothing: it returned or waits elsewhere).
    """

    def __init__(
        self,
        message: str,
        *,
        workflow_id: str,
        event_id: int,
        event_type: str,
        recorded: str,
        requested: str | None,
    ) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.event_id = event_id
        self.event_type = event_type
        self.recorded = recorded
        self.requested = requested

    def mark(self) -> dict[str, Any]:
        """The blocked mark stored with the run: JSON naming the event and the reason."""
        return {"event_id": self.event_id, "event_type": self.event_type, "reason": str(self)}


def blocked_mark(state: WorkflowState) -> dict[str, Any] | None:
    """The run's blocked mark, if replay last stopped it at a divergence."""
    mark = state.metadata.get(BLOCKED_KEY)
    return mark if isinstance(mark, dict) else None
