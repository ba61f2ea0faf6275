"""A store holding runs and, stored before them, the engine's own records (a board, the book)."""

from __future__ import annotations

from beluga_workflow import WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow.models import utc_now
from beluga_workflow.queues.board import board_id
from beluga_workflow.schedules import Schedule, ScheduleBook
from beluga_workflow.system_records import update_record

ENGINE_IDS = [board_id("emails"), board_id("reports"), "~beluga/schedules"]
"""The engine records :func:`seed` stores, as queues and schedules store them."""


async def seed(store: WorkflowStore, runs: int) -> list[str]:
    """Store the engine records, then ``runs`` completed runs (created after them); their ids.

    A store that lists in order of creation puts the engine records first.
    """
    await update_record(store, ENGINE_IDS[0], "board", lambda _: {"slots": {}, "starts": []})
    await update_record(store, ENGINE_IDS[1], "board", lambda _: {"slots": {}, "starts": []})
    await ScheduleBook(store).create(Schedule(name="nightly", workflow="report", every=3600))
    moment = utc_now()
    ids = [f"run-{index:02d}" for index in range(runs)]
    for workflow_id in ids:
        await store.save(
            WorkflowState(
                workflow_id=workflow_id,
                run_id=f"{workflow_id}-1",
                status=WorkflowStatus.COMPLETED,
                workflow_name="report",
                created_at=moment,
                updated_at=moment,
            )
        )
    return ids
