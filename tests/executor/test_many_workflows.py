"""Many workflows at once in one process, each with its own activities, timers and signals."""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow.context import WorkflowContext
from beluga_workflow.executor import Executor
from beluga_workflow.models import Signal, WorkflowFilter, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore

COUNT = 1000


async def double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def workflow(ctx: WorkflowContext, input: int) -> int:
    doubled = await ctx.execute_activity(double, input)
    await ctx.sleep(0.01)
    bonus = await ctx.wait_for_signal("bonus")
    two = await ctx.execute_activity(double, 1)
    return int(doubled) + int(bonus) + int(two)


async def test_a_thousand_concurrent_workflows_all_complete_correctly() -> None:
    store = InMemoryStore()
    async with Executor(store, load_plugins=False) as executor:
        handles = await asyncio.gather(
            *(
                executor.execute(workflow, WorkflowOptions(id=f"wf-{i}", input=i))
                for i in range(COUNT)
            )
        )
        await asyncio.gather(
            *(executor.signal(f"wf-{i}", Signal(name="bonus", payload=i)) for i in range(COUNT))
        )
        results = await asyncio.gather(*(handle.result() for handle in handles))
        await executor.join()

    assert results == [3 * i + 2 for i in range(COUNT)]
    completed = await store.list(WorkflowFilter(status=WorkflowStatus.COMPLETED))
    assert len(completed) == COUNT
    assert {state.result for state in completed} == {3 * i + 2 for i in range(COUNT)}
    assert all(len(state.history) == 9 for state in completed)


async def test_join_waits_for_every_running_workflow(store: InMemoryStore) -> None:
    finished: list[Any] = []

    async def napping(ctx: WorkflowContext, input: float) -> None:
        await ctx.sleep(input)
        finished.append(input)

    async with Executor(store, load_plugins=False) as executor:
        for delay in (0.03, 0.01, 0.02):
            await executor.execute(napping, WorkflowOptions(input=delay))
        await executor.join()
        assert sorted(finished) == [0.01, 0.02, 0.03]
