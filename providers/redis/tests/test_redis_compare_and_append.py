"""``compare_and_append`` on the real server: one script checks the version and the length."""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from beluga_workflow import (
    EventType,
    HistoryEvent,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow_redis import RedisStore


def _state(events: int, **fields: Any) -> WorkflowState:
    history = [HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(events)]
    return WorkflowState(workflow_id="w:1", history=history, **fields)


def _step(state: WorkflowState, events: int = 1, **fields: Any) -> WorkflowState:
    step = state.model_copy(deep=True, update=fields)
    start = len(step.history)
    step.history += [HistoryEvent(id=start + i, type=EventType.TIMER_FIRED) for i in range(events)]
    return step


async def test_it_creates_then_pushes_only_the_new_events_and_stores_the_next_version(
    redis_url: str, prefix: str
) -> None:
    async with RedisStore(redis_url, prefix=prefix) as store:
        state = _state(20, version=7)  # the version the state says is not what is stored
        assert await store.compare_and_append(state, 20, 0) == 1
        assert await store.load("w:1") == state.model_copy(update={"version": 1})
        marker = HistoryEvent(id=999, type=EventType.TIMER_FIRED)
        client = redis.Redis.from_url(redis_url)
        try:  # mark the stored first event: a rewrite of the history would undo it
            client.lset(f"{prefix}:events:w:1", 0, marker.model_dump_json())
            step = _step(state, 2, status=WorkflowStatus.COMPLETED, result={"total": 3})
            assert await store.compare_and_append(step, 2, 1) == 2
            assert client.llen(f"{prefix}:events:w:1") == 22
        finally:
            client.close()
        loaded = await store.load("w:1")
        assert loaded is not None
        assert loaded.history[0] == marker
        assert loaded.model_copy(update={"history": step.history}) == step.model_copy(
            update={"version": 2}
        )


async def test_what_is_written_is_the_state_at_the_call(redis_url: str, prefix: str) -> None:
    async with RedisStore(redis_url, prefix=prefix) as store:
        state = _state(2, metadata={"lease": 1})
        written = state.model_copy(deep=True, update={"version": 1})
        call = asyncio.create_task(store.compare_and_append(state, 2, 0))
        await asyncio.sleep(0)  # the call now waits for its connection
        assert not call.done()
        state.metadata["lease"] = 2
        state.status = WorkflowStatus.FAILED
        state.history.append(HistoryEvent(id=2, type=EventType.TIMER_FIRED))
        assert await call == 1
        assert await store.load("w:1") == written
