"""Calls of one store overlap, and a store reads its own writes without its consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    HistoryEvent,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow_kafka import KafkaStore


def _step(state: WorkflowState, marker: int) -> WorkflowState:
    """A copy of ``state`` with one more event."""
    after = state.model_copy(deep=True)
    event = HistoryEvent(id=len(after.history) + 1, type=EventType.ACTIVITY_COMPLETED)
    event.result = marker
    after.history.append(event)
    return after


def _url(broker: object, topic: str) -> str:
    return f"kafka://{broker.address}/{topic}"  # type: ignore[attr-defined]


async def test_a_store_reads_its_own_writes_while_its_consumer_fetches_nothing(
    broker: object, topic: str
) -> None:
    async with KafkaStore(_url(broker, topic), operation_timeout=3.0) as store:
        await store.save(WorkflowState(workflow_id="opened"))
        assert store._consumer is not None
        store._consumer.pause(*store._partitions)
        state = WorkflowState(workflow_id="w", status=WorkflowStatus.RUNNING)
        await store.save(state)
        for marker in range(20):
            state = _step(state, marker)
            await store.append(state, 1)
        assert await store.load("w") == state
        listed = await store.list()
        assert [s.workflow_id for s in listed] == ["opened", "w"]
        await store.delete("opened")
        assert await store.load("opened") is None


async def test_a_write_awaiting_its_acknowledgement_does_not_hold_up_another_workflow(
    broker: object, topic: str
) -> None:
    async with KafkaStore(_url(broker, topic)) as store:
        slow, fast = WorkflowState(workflow_id="slow"), WorkflowState(workflow_id="fast")
        await store.save(slow)
        await store.save(fast)
        producer: Any = store._producer
        real_send = producer.send
        acks_released = asyncio.Event()

        async def send(topic: str, **record: Any) -> Awaitable[Any]:
            acked = await real_send(topic, **record)
            if b"slow" not in record["key"]:
                return acked  # type: ignore[no-any-return]

            async def held() -> Any:
                await acks_released.wait()
                return await acked

            return asyncio.ensure_future(held())

        producer.send = send
        slow, fast = _step(slow, 1), _step(fast, 2)
        waiting = asyncio.ensure_future(store.append(slow, 1))
        await asyncio.sleep(0.1)
        await asyncio.wait_for(store.append(fast, 1), timeout=5)
        assert await store.load("fast") == fast
        assert not waiting.done()
        acks_released.set()
        await waiting
        assert await store.load("slow") == slow


async def test_two_writes_of_one_workflow_in_one_store_take_turns(
    broker: object, topic: str
) -> None:
    """Both extend the same history: the second sees the first and is refused."""
    async with KafkaStore(_url(broker, topic)) as store:
        base = WorkflowState(workflow_id="w")
        await store.save(base)
        ours, theirs = _step(base, 1), _step(base, 2)
        results = await asyncio.gather(
            store.append(ours, 1), store.append(theirs, 1), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, ConcurrencyConflictError)]
        assert len(refused) == 1, results
        winner = ours if results[0] is None else theirs
        assert await store.load("w") == winner


async def test_another_instance_writes_reach_this_stores_writes_through_the_consumer(
    broker: object, topic: str
) -> None:
    url = _url(broker, topic)
    async with KafkaStore(url) as first, KafkaStore(url) as second:
        base = WorkflowState(workflow_id="w")
        await first.save(base)
        assert await second.load("w") == base
        moved = _step(base, 1)
        await first.append(moved, 1)
        await asyncio.sleep(0.5)  # no read of `second` in between: only its consumer fetches
        with pytest.raises(ConcurrencyConflictError, match="has 1 stored events, not the 0"):
            await second.append(_step(base, 2), 1)
        assert await second.load("w") == moved
