"""Cancellation and workflow timeouts: stored outcomes, the errors result() raises, restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import (
    WorkflowCanceledError,
    WorkflowFailedError,
    WorkflowNotFoundError,
    WorkflowTimeoutError,
)
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint


async def test_cancel_stops_the_running_activity_and_stores_canceled(
    executor: Executor, store: InMemoryStore
) -> None:
    hold = Checkpoint()
    activity_cancelled = asyncio.Event()

    async def long_activity(_: Any) -> None:
        try:
            await hold.activity(None)
        except asyncio.CancelledError:
            activity_cancelled.set()
            raise

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(long_activity, None)
        return "finished"

    handle = await executor.execute(workflow, WorkflowOptions(id="c"))
    await hold.reached.wait()
    await executor.cancel("c")

    assert activity_cancelled.is_set()
    assert handle.status is WorkflowStatus.CANCELED
    with pytest.raises(WorkflowCanceledError, match="'c' was canceled"):
        await handle.result()
    state = await store.load("c")
    assert state is not None
    assert state.status is WorkflowStatus.CANCELED
    assert state.history[-1].type is EventType.WORKFLOW_CANCELED


async def test_cancel_reaches_a_workflow_no_process_runs_and_ignores_finished_ones(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(hold.activity, None)

    first = Executor(store, load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="idle"))
    await hold.reached.wait()
    await first.close()

    async with Executor(store, load_plugins=False) as other:
        await other.cancel("idle")
        state = await store.load("idle")
        assert state is not None
        assert state.status is WorkflowStatus.CANCELED
        assert state.history[-1].type is EventType.WORKFLOW_CANCELED
        await other.cancel("idle")  # already finished: nothing changes
        assert await store.load("idle") == state
        with pytest.raises(WorkflowCanceledError):
            await (await other.get_handle("idle")).result()
        with pytest.raises(WorkflowNotFoundError):
            await other.cancel("missing")
        assert (await other.recover()).resumed == []  # canceled runs are not resumed


async def test_a_workflow_past_its_timeout_fails_with_workflow_timeout_error(
    executor: Executor, store: InMemoryStore
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        await ctx.sleep(30)

    handle = await executor.execute(workflow, WorkflowOptions(id="slow", timeout=0.05))
    with pytest.raises(WorkflowTimeoutError, match=r"'slow' did not finish within 0\.05s"):
        await handle.result()
    assert issubclass(WorkflowTimeoutError, WorkflowFailedError)
    state = await store.load("slow")
    assert state is not None
    assert state.status is WorkflowStatus.FAILED
    assert state.history[-1].type is EventType.WORKFLOW_FAILED


async def test_the_timeout_deadline_is_stored_and_holds_across_a_restart(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(hold.activity, None)
        return "finished"

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="t", timeout=0.2))
    await hold.reached.wait()
    await first.close()
    await asyncio.sleep(0.25)  # the deadline passes while no process runs it
    hold.released.set()

    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        with pytest.raises(WorkflowTimeoutError):
            await handle.result()
    assert hold.calls == [None]  # the activity was not started again past the deadline
