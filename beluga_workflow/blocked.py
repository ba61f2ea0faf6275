"""Stopping a run whose history the deployed code no longer matches, without failing it.

Like a workflow task that Temporal retries until fixed code is deployed, a
diverged run stays ``running``. Its blocked mark (the event and the reason) is
stored with it, the ``on_workflow_blocked`` hook and a warning report it, and
its lease is handed back so that a worker with matching code can take it at
once. The worker that saw the divergence remembers the run and does not claim
it again (no hot loop); an explicit ``recover()``, or a new worker, tries it
again.
"""

from __future__ import annotations

import logging

from beluga_workflow.divergence import BLOCKED_KEY, HistoryDivergenceError
from beluga_workflow.errors import BelugaWorkflowError, NonDeterminismError
from beluga_workflow.history import Journal, format_error
from beluga_workflow.lifecycle import Lifecycle

__all__ = ["block_run"]

logger = logging.getLogger("beluga_workflow.executor")


async def block_run(
    journal: Journal, error: NonDeterminismError, lifecycle: Lifecycle, workflow_name: str
) -> None:
    """Store ``error`` as the run's blocked mark, report it, and hand the run's lease back."""
    state = journal.state
    if isinstance(error, HistoryDivergenceError):
        mark = error.mark()
        event_id: int | None = error.event_id
    else:
        mark = {"event_id": None, "event_type": None, "reason": str(error)}
        event_id = None
    logger.warning("workflow %r is blocked: %s", state.workflow_id, error)
    try:
        await journal.record([], metadata={**state.metadata, BLOCKED_KEY: mark})
    except BelugaWorkflowError as exc:
        logger.warning(
            "could not store the blocked mark of workflow %r: %s",
            state.workflow_id,
            format_error(exc),
        )
    lifecycle.emit(
        "beluga_workflow_on_workflow_blocked",
        workflow_id=state.workflow_id,
        run_id=state.run_id,
        workflow_name=workflow_name,
        error=format_error(error),
        event_id=event_id,
    )
    await journal.release()
