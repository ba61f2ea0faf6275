"""The example of SPEC section 3, as a user would write it."""

from __future__ import annotations

from typing import Any

from beluga_workflow.context import WorkflowContext
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore


async def my_workflow(ctx: WorkflowContext, input: Any) -> str:
    return f"processed: {input}"


async def test_seed_example_prints_the_processed_input() -> None:
    store = InMemoryStore()
    executor = Executor(store=store)
    handle = await executor.execute(my_workflow, WorkflowOptions(id="test-wf-1", input="hello"))

    assert await handle.result() == "processed: hello"
    assert handle.id == "test-wf-1"
    assert handle.status is WorkflowStatus.COMPLETED
    stored = await store.load("test-wf-1")
    assert stored is not None
    assert stored.status is WorkflowStatus.COMPLETED
    assert stored.result == "processed: hello"
    assert stored.run_id == handle.run_id
    assert stored.workflow_name == f"{__name__}:my_workflow"
    assert [event.type for event in stored.history] == [
        EventType.WORKFLOW_STARTED,
        EventType.WORKFLOW_COMPLETED,
    ]
    await executor.close()
