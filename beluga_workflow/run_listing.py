"""Listing workflow runs: what a store's ``list()`` returns, without the engine's own records.

A store keeps queue boards and the schedule book beside the runs (see
:mod:`beluga_workflow.system_records`) and its ``list()`` returns them like
any record, as the store contract says. Every listing the engine shows or
acts on (``Client.list_workflows``, ``beluga-workflow list``, the dashboard,
retention, ``recover()`` and claim rounds) goes through :func:`list_runs`, so
none of them ever shows, prunes or runs one.

A ``limit`` counts runs only: when engine records take places in the store's
answer, the store is asked again for more, until ``limit`` runs are found or
the store has no more to give.
"""

from __future__ import annotations

from beluga_workflow.listing import StateList, unreadable_records
from beluga_workflow.models import MAX_LIMIT, WorkflowFilter, WorkflowState
from beluga_workflow.store import WorkflowStore
from beluga_workflow.system_records import is_system_record
from beluga_workflow.validation import require_filter

__all__ = ["list_runs"]


async def list_runs(store: WorkflowStore, filter: WorkflowFilter | None = None) -> StateList:
    """The runs ``store.list(filter)`` holds, engine records left out, at most ``filter.limit``.

    The result keeps the store's order and, in ``unreadable``, the records
    the store skipped (engine records left out there too). A bad filter
    raises ``InvalidArgumentError`` before the store is asked anything.
    """
    wanted = require_filter(filter)
    limit = wanted.limit
    asked = limit
    while True:
        listed = await store.list(wanted.model_copy(update={"limit": asked}))
        runs = _runs_in(listed)
        if limit == 0 or len(runs) >= limit:
            del runs[limit or len(runs) :]
            return runs
        answered = len(listed) + len(unreadable_records(listed))
        if answered < asked or asked >= MAX_LIMIT:
            return runs  # the store has no more to give
        asked = min(MAX_LIMIT, asked * 2)


def _runs_in(listed: list[WorkflowState]) -> StateList:
    runs = StateList(state for state in listed if not is_system_record(state))
    runs.unreadable = {
        workflow_id: error
        for workflow_id, error in unreadable_records(listed).items()
        if not is_system_record(workflow_id)
    }
    return runs
