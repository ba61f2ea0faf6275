"""Runs to show in the dashboard: finished ones with payloads and errors, and running ones."""

from __future__ import annotations

from datetime import timedelta

from beluga_workflow import EventType, HistoryEvent, WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow.models import utc_now

RUNNING = "order-waiting"
FAILED = "order-failed"
TO_CANCEL = "order-doomed"
BULK = 30


async def seed(store: WorkflowStore) -> None:
    """Save ``BULK`` completed runs, one failed, two running (waiting for a signal)."""
    now = utc_now()
    for index in range(BULK):
        moment = now - timedelta(minutes=index + 10)
        await store.save(
            WorkflowState(
                workflow_id=f"bulk-{index:02d}",
                run_id=f"run-bulk-{index}",
                status=WorkflowStatus.COMPLETED,
                workflow_name="reports:nightly",
                input={"day": index},
                result={"rows": index * 10},
                created_at=moment,
                updated_at=moment,
                history=[
                    HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED, timestamp=moment),
                    HistoryEvent(
                        id=2,
                        type=EventType.WORKFLOW_COMPLETED,
                        timestamp=moment,
                        result={"rows": index * 10},
                    ),
                ],
            )
        )
    failing = now - timedelta(minutes=2)
    await store.save(
        WorkflowState(
            workflow_id=FAILED,
            run_id="run-failed",
            status=WorkflowStatus.FAILED,
            workflow_name="shop:order",
            input={"order": "A-2", "items": [{"sku": "x", "qty": 2}]},
            error="ActivityFailedError: activity 'charge' failed after 1 attempt(s): card declined",
            created_at=failing,
            updated_at=failing,
            history=[
                HistoryEvent(
                    id=1, type=EventType.WORKFLOW_STARTED, timestamp=failing, input={"order": "A-2"}
                ),
                HistoryEvent(
                    id=2,
                    type=EventType.ACTIVITY_STARTED,
                    timestamp=failing,
                    activity_name="charge",
                    attempt=1,
                    input={"amount": 42},
                ),
                HistoryEvent(
                    id=3,
                    type=EventType.ACTIVITY_FAILED,
                    timestamp=failing,
                    activity_name="charge",
                    attempt=1,
                    error="ValueError: card declined",
                    duration=0.25,
                ),
                HistoryEvent(
                    id=4,
                    type=EventType.WORKFLOW_FAILED,
                    timestamp=failing,
                    error="ActivityFailedError: card declined",
                ),
            ],
        )
    )
    for workflow_id in (RUNNING, TO_CANCEL):
        await store.save(
            WorkflowState(
                workflow_id=workflow_id,
                run_id=f"run-{workflow_id}",
                status=WorkflowStatus.RUNNING,
                workflow_name="shop:order",
                input={"order": workflow_id},
                created_at=now,
                updated_at=now,
                history=[
                    HistoryEvent(
                        id=1,
                        type=EventType.WORKFLOW_STARTED,
                        timestamp=now,
                        input={"order": workflow_id},
                    )
                ],
            )
        )
