"""Which runs a dashboard page shows: filtered, newest first, one page of them.

Stores filter by status natively; the workflow name and the id search are
applied here on what the store listed, so they work the same on every store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from beluga_workflow.models import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow.run_listing import list_runs as list_workflow_runs
from beluga_workflow.store import WorkflowStore

__all__ = ["PAGE_SIZE", "RunPage", "RunQuery", "list_runs"]

PAGE_SIZE = 25


@dataclass(frozen=True)
class RunQuery:
    """The filters of the runs page.

    Status, workflow name (exact), id search (substring, any case), and a
    range of last-update times: ``updated_after`` included, ``updated_before`` not.
    """

    status: WorkflowStatus | None = None
    workflow_name: str = ""
    search: str = ""
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    page: int = 1
    page_size: int = PAGE_SIZE

    def matches(self, state: WorkflowState) -> bool:
        if self.workflow_name and state.workflow_name != self.workflow_name:
            return False
        if self.updated_after is not None and state.updated_at < self.updated_after:
            return False
        if self.updated_before is not None and state.updated_at >= self.updated_before:
            return False
        return not self.search or self.search.lower() in state.workflow_id.lower()


@dataclass(frozen=True)
class RunPage:
    """One page of matching runs, how many match in all, and the workflow names seen."""

    runs: list[WorkflowState]
    total: int
    page: int
    pages: int
    workflow_names: list[str]


async def list_runs(store: WorkflowStore, query: RunQuery) -> RunPage:
    """The runs ``query`` asks for, most recently updated first (ties by id)."""
    states = await list_workflow_runs(store, WorkflowFilter(status=query.status))
    names = sorted({state.workflow_name for state in states if state.workflow_name})
    matching = [state for state in states if query.matches(state)]
    matching.sort(key=lambda state: (-state.updated_at.timestamp(), state.workflow_id))
    pages = max(1, -(-len(matching) // query.page_size))
    page = min(max(1, query.page), pages)
    start = (page - 1) * query.page_size
    return RunPage(
        runs=matching[start : start + query.page_size],
        total=len(matching),
        page=page,
        pages=pages,
        workflow_names=names,
    )
