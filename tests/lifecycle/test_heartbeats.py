"""Activity heartbeats: a heartbeat timeout fails a silent attempt; details reach the next one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from beluga_workflow import (
    ActivityFailedError,
    Executor,
    RetryPolicy,
    WorkflowContext,
    WorkflowError,
    WorkflowFailedError,
    WorkflowOptions,
    activity,
)
from beluga_workflow.heartbeats import HEARTBEATS
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.store import WorkflowStore

RETRY_ONCE = RetryPolicy(max_attempts=2, initial_interval=0.01)
seen: list[Any] = []


@pytest.fixture(autouse=True)
def fresh() -> None:
    seen.clear()


async def stalls_on_first_attempt(count: int) -> Any:
    info = activity.info()
    seen.append((info.attempt, info.heartbeat_details))
    if info.attempt == 1:
        for done in range(1, count + 1):
            activity.heartbeat({"done": done})
            await asyncio.sleep(0.01)
        await asyncio.sleep(60)  # hangs without a heartbeat
    return info.heartbeat_details


def plain_stalls_on_first_attempt(count: int) -> Any:
    info = activity.info()
    seen.append((info.attempt, info.heartbeat_details))
    if info.attempt == 1:
        for done in range(1, count + 1):
            activity.heartbeat({"done": done})
        time.sleep(1.5)
    return info.heartbeat_details


async def with_heartbeats(ctx: WorkflowContext, plain: bool) -> Any:
    fn = plain_stalls_on_first_attempt if plain else stalls_on_first_attempt
    return await ctx.execute_activity(fn, 3, heartbeat_timeout=0.3, retry=RETRY_ONCE)


@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
async def test_an_attempt_that_stops_heartbeating_fails_and_the_retry_gets_its_details(
    store: WorkflowStore, plain: bool
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(with_heartbeats, WorkflowOptions(id="h", input=plain))
        assert await handle.result() == {"done": 3}
    assert seen == [(1, None), (2, {"done": 3})]
    stored = await store.load("h")
    assert stored is not None
    failed = [event for event in stored.history if event.type.value == "activity_failed"]
    assert len(failed) == 1
    assert failed[0].error is not None
    assert failed[0].error.startswith("ActivityHeartbeatTimeoutError")
    assert HEARTBEATS not in stored.metadata  # the call ended: its details went with it


async def test_a_heartbeat_timeout_without_retries_fails_the_activity(
    store: WorkflowStore,
) -> None:
    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        try:
            return await ctx.execute_activity(stalls_on_first_attempt, 1, heartbeat_timeout=0.2)
        except ActivityFailedError as error:
            return str(error)

    async with Executor(store, load_plugins=False) as executor:
        result = await (await executor.execute(workflow, WorkflowOptions(id="n"))).result()
    assert "no heartbeat for 0.2s" in result


async def test_heartbeats_reach_the_store_at_a_bounded_rate() -> None:
    writes = 0

    class CountingStore(InMemoryStore):
        async def compare_and_append(
            self, state: Any, new_events: int, expected_version: int
        ) -> int:
            nonlocal writes
            writes += 1
            return await super().compare_and_append(state, new_events, expected_version)

    async def busy(_: Any) -> int:
        for done in range(5000):
            activity.heartbeat(done)
            if done % 50 == 0:
                await asyncio.sleep(0.001)
        return 0

    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_activity(busy, None, heartbeat_timeout=30)

    store = CountingStore()
    async with Executor(store, load_plugins=False) as executor:
        await (await executor.execute(workflow, WorkflowOptions(id="b"))).result()
    assert writes <= 5  # start, one or two heartbeat writes, the outcome, the end


async def test_heartbeat_outside_an_activity_and_bad_details_are_refused(
    store: WorkflowStore,
) -> None:
    with pytest.raises(WorkflowError, match="not inside an activity"):
        activity.heartbeat(1)
    assert not activity.in_activity()

    async def bad(_: Any) -> None:
        activity.heartbeat(object())

    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_activity(bad, None)

    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="x"))
        with pytest.raises(WorkflowFailedError, match="PayloadSerializationError"):
            await handle.result()

        async def negative(ctx: WorkflowContext, _: Any) -> Any:
            return await ctx.execute_activity(stalls_on_first_attempt, 1, heartbeat_timeout=-1)

        refused = await executor.execute(negative, WorkflowOptions(id="neg"))
        with pytest.raises(WorkflowFailedError, match="heartbeat_timeout must be a positive"):
            await refused.result()
    assert seen == []
