"""A failing store: the executor retries writes, and never lets a workflow run ahead of them."""

from __future__ import annotations

from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import StoreError, StoreUnavailableError
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowState, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=0)


class UnreliableStore(InMemoryStore):
    """An in-memory store whose writes fail while ``failures_left`` > 0 or ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 0
        self.down = False
        self.failed_writes = 0

    def _maybe_fail(self) -> None:
        if self.down or self.failures_left > 0:
            self.failures_left = max(0, self.failures_left - 1)
            self.failed_writes += 1
            raise StoreUnavailableError("test store is unreachable")

    async def save(self, state: WorkflowState) -> None:
        self._maybe_fail()
        await super().save(state)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        self._maybe_fail()
        await super().append(state, new_events)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        self._maybe_fail()
        return await super().compare_and_save(state, expected_version)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        self._maybe_fail()
        return await super().compare_and_append(state, new_events, expected_version)


def counting_workflow(ran: list[int], store: UnreliableStore, fail_after: int | None = None) -> Any:
    async def step(x: int) -> int:
        ran.append(x)
        if x == fail_after:
            store.down = True  # the store goes away while this activity runs
        return x

    async def workflow(ctx: WorkflowContext, input: int) -> list[int]:
        return [await ctx.execute_activity(step, x) for x in range(input)]

    return workflow


async def test_brief_store_failures_are_retried_and_nothing_is_lost() -> None:
    store = UnreliableStore()
    ran: list[int] = []
    workflow = counting_workflow(ran, store)
    async with Executor(store, store_retry=FAST_RETRY, load_plugins=False) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="w", input=4))
        store.failures_left = 2  # the next two writes fail
        assert await handle.result() == [0, 1, 2, 3]
    assert store.failed_writes == 2
    assert ran == [0, 1, 2, 3]
    state = await store.load("w")
    assert state is not None
    completed = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert completed == [0, 1, 2, 3]


async def test_a_store_that_stays_down_stops_the_workflow_visibly_and_it_resumes_later() -> None:
    store = UnreliableStore()
    ran: list[int] = []
    workflow = counting_workflow(ran, store, fail_after=2)
    first = Executor(store, store_retry=FAST_RETRY, load_plugins=False, worker_id="worker-1")
    async with first as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="w", input=5))
        with pytest.raises(StoreError, match="could not be stored"):
            await handle.result()
        assert handle.status is WorkflowStatus.RUNNING
    assert ran == [0, 1, 2]  # nothing ran past the step that could not be stored
    assert store.failed_writes == FAST_RETRY.max_attempts
    store.down = False
    state = await store.load("w")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING
    assert [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED] == [0, 1]

    workflow = counting_workflow(ran, store)
    # The same worker (its id) started again takes its run back at once; another would
    # wait for the lease the halted run still holds to run out.
    async with Executor(store, load_plugins=False, worker_id="worker-1") as executor:
        executor.register(workflow, name=state.workflow_name)
        (resumed,) = (await executor.recover()).resumed
        assert await resumed.result() == [0, 1, 2, 3, 4]
    assert ran == [0, 1, 2, 2, 3, 4]  # the unstored step ran again; the others did not


async def test_a_store_that_is_down_at_start_makes_execute_raise_and_stores_nothing() -> None:
    store = UnreliableStore()
    store.down = True

    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        raise AssertionError("must not run")

    async with Executor(store, store_retry=FAST_RETRY, load_plugins=False) as executor:
        with pytest.raises(StoreUnavailableError, match="failed 3 time"):
            await executor.execute(workflow, WorkflowOptions(id="never"))
    store.down = False
    assert await store.load("never") is None
