"""``compare_and_append`` on the real server: the meta record's compare-and-set checks it."""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow import (
    EventType,
    HistoryEvent,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow_nats import NatsStore


def _state(events: int, **fields: Any) -> WorkflowState:
    history = [HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(events)]
    return WorkflowState(workflow_id="w/1", history=history, **fields)


def _step(state: WorkflowState, events: int = 1, **fields: Any) -> WorkflowState:
    step = state.model_copy(deep=True, update=fields)
    start = len(step.history)
    step.history += [HistoryEvent(id=start + i, type=EventType.TIMER_FIRED) for i in range(events)]
    return step


async def _record(store: NatsStore) -> tuple[str, int, int]:
    """The stored record's generation, fragment count and version."""
    found = await store._get_meta("w/1")
    assert found is not None
    return found[0].gen, found[0].frags, found[0].version


async def test_it_creates_then_writes_one_fragment_and_stores_the_next_version(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state(20, version=7)  # the version the state says is not what is stored
        assert await store.compare_and_append(state, 20, 0) == 1
        assert await store.load("w/1") == state.model_copy(update={"version": 1})
        generation, fragments, _ = await _record(store)
        step = _step(state, 2, status=WorkflowStatus.COMPLETED, result={"total": 3})
        assert await store.compare_and_append(step, 2, 1) == 2
        assert await _record(store) == (generation, fragments + 1, 2)  # nothing rewritten
        async with NatsStore(nats_url, bucket=bucket) as other:
            assert await other.load("w/1") == step.model_copy(update={"version": 2})


async def test_what_is_written_is_the_state_at_the_call(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state(2, metadata={"lease": 1})
        written = state.model_copy(deep=True, update={"version": 1})
        call = asyncio.create_task(store.compare_and_append(state, 2, 0))
        await asyncio.sleep(0)  # the call now waits for its connection
        assert not call.done()
        state.metadata["lease"] = 2
        state.status = WorkflowStatus.FAILED
        state.history.append(HistoryEvent(id=2, type=EventType.TIMER_FIRED))
        assert await call == 1
        assert await store.load("w/1") == written
