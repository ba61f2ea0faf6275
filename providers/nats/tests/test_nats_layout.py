"""The data layout on the real server: steps without purges, leftovers, races, old records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    HistoryEvent,
    StoreError,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.chunked import CommitRecord, history_text, split
from beluga_workflow.codec import encode_head
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.store import key_of


def _state(workflow_id: str, events: int, **fields: Any) -> WorkflowState:
    history = [HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(events)]
    return WorkflowState(workflow_id=workflow_id, history=history, **fields)


def _step(state: WorkflowState, marker: str, count: int = 1) -> WorkflowState:
    step = state.model_copy(deep=True)
    start = len(step.history)
    step.history += [
        HistoryEvent(id=start + i, type=EventType.TIMER_FIRED, result=marker) for i in range(count)
    ]
    return step


class _Purges:
    """Counts the stream purges a store issues."""

    def __init__(self, store: NatsStore) -> None:
        assert store._js is not None
        self.subjects: list[str] = []
        original = store._js.purge_stream

        async def purge_stream(*args: Any, **kwargs: Any) -> Any:
            self.subjects.append(kwargs.get("subject", ""))
            return await original(*args, **kwargs)

        store._js.purge_stream = purge_stream  # type: ignore[method-assign]


async def _data_keys(store: NatsStore) -> set[str]:
    _, data = await store._buckets()
    try:
        return set(await data.keys())
    except Exception:  # no keys at all
        return set()


async def test_a_step_purges_nothing_and_writes_one_data_key(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state("w", 3)
        await store.save(state)
        purges = _Purges(store)
        for number in range(5):
            before = await _data_keys(store)
            state = _step(state, f"s{number}")
            await store.append(state, 1)
            assert len(await _data_keys(store) - before) == 1
        state = state.model_copy(update={"status": WorkflowStatus.COMPLETED})
        await store.append(state, 0)  # a head-only step writes no data key
        assert purges.subjects == []
        async with NatsStore(nats_url, bucket=bucket) as other:
            assert await other.load("w") == state


async def test_a_chunk_left_at_the_next_position_is_never_read(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state("w", 2)
        await store.save(state)
        found = await store._get_meta("w")
        assert found is not None
        meta = found[0]
        _, data = await store._buckets()
        # What a writer that crashed before its commit leaves behind.
        await data.put(f"{key_of('w')}.{meta.gen}.e{meta.frags}", b',{"not": "an event"}')
        assert await store.load("w") == state
        async with NatsStore(nats_url, bucket=bucket) as other:
            state = _step(state, "after the crash")
            await other.append(state, 1)
            assert await store.load("w") == state
            state = _step(state, "next")
            await store.append(state, 1)  # its remembered record is stale: it reads again
            assert await other.load("w") == state


async def test_racing_steps_never_mix(nats_url: str, bucket: str) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as first,
        NatsStore(nats_url, bucket=bucket) as second,
    ):
        for round_ in range(10):
            workflow_id = f"race-{round_}"
            base = _state(workflow_id, 2)
            await first.save(base)
            await second.load(workflow_id)
            mine = [_step(base, "first", 2), _step(base, "second", 3)]
            mine[1].status = WorkflowStatus.COMPLETED
            results = await asyncio.gather(
                first.append(mine[0], 2), second.append(mine[1], 3), return_exceptions=True
            )
            winners = [i for i, result in enumerate(results) if result is None]
            lost = [r for r in results if r is not None]
            assert all(isinstance(r, ConcurrencyConflictError) for r in lost), results
            assert len(winners) <= 1
            expected = mine[winners[0]] if winners else base
            assert await first.load(workflow_id) == expected
            assert await second.load(workflow_id) == expected


async def test_a_chunk_written_after_its_record_was_replaced_is_not_read(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state("w", 4)
        await store.save(state)
        state = _step(state, "a")
        await store.append(state, 1)
        found = await store._get_meta("w")
        assert found is not None
        meta = found[0]
        fragment = f"{key_of('w')}.{meta.gen}.e0"
        # As if a save removed the generation and a stale writer then took the key again.
        await store._purge(fragment)
        _, data = await store._buckets()
        await data.update(fragment, b'[{"id": 0, "type": "timer_fired"}', last=0)
        async with NatsStore(nats_url, bucket=bucket) as fresh:  # no fragment read before
            with pytest.raises(StoreError, match="kept changing"):
                await fresh.load("w")


async def test_a_big_head_is_kept_apart_and_its_old_parts_removed(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state("big", 2, input="x" * 600_000)
        await store.save(state)
        found = await store._get_meta("big")
        assert found is not None
        assert found[0].head_parts >= 3
        state = _step(state, "one")
        await store.append(state, 1)
        keys = await _data_keys(store)
        heads = {k.split(".")[2] for k in keys if k.split(".")[2].startswith("h")}
        assert heads == {"h1"}
        state = _step(state.model_copy(update={"input": "small"}), "two")
        await store.append(state, 1)  # the head fits in the meta record again
        keys = await _data_keys(store)
        assert not any(k.split(".")[2].startswith("h") for k in keys)
        async with NatsStore(nats_url, bucket=bucket) as other:
            assert await other.load("big") == state


async def test_records_of_the_earlier_layout_are_read_and_extended(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        meta_kv, data = await store._buckets()
        state = _state("old", 5, input={"n": 1})
        # Written as the earlier layout did: the head apart, no inline head, no seq.
        record = CommitRecord.first(state)
        key = key_of("old")
        await data.put(f"{key}.{record.gen}.{record.head_part(0)}", encode_head(state).encode())
        record.head_parts = 1
        for chunk in split(history_text(state), 1 << 20):
            await data.put(f"{key}.{record.gen}.{record.fragment(record.frags)}", chunk)
            record.frags += 1
        await meta_kv.put(key, record.encode())
        assert await store.load("old") == state
        state = _step(state, "new")
        await store.append(state, 1)
        assert await store.load("old") == state
        assert f"{key}.{record.gen}.{record.head_part(0)}" not in await _data_keys(store)
