"""Loads reuse the history fragments a store read or wrote before, and stay exact.

Counted, not timed: the data keys a load fetches are recorded.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow import EventType, HistoryEvent, WorkflowState
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.fragments import Fragments


def _state(workflow_id: str, events: int) -> WorkflowState:
    history = [HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(events)]
    return WorkflowState(workflow_id=workflow_id, history=history)


def _step(state: WorkflowState, marker: str) -> WorkflowState:
    step = state.model_copy(deep=True)
    step.history.append(
        HistoryEvent(id=len(step.history), type=EventType.TIMER_FIRED, result=marker)
    )
    return step


class _Fetches:
    """The data keys a store fetches."""

    def __init__(self, store: NatsStore) -> None:
        data = store._data
        assert data is not None
        self.keys: list[str] = []
        original = data.get

        async def get(key: str, *args: Any, **kwargs: Any) -> Any:
            self.keys.append(key)
            return await original(key, *args, **kwargs)

        data.get = get  # type: ignore[method-assign]


async def test_a_load_fetches_only_the_fragments_written_since_the_last(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as owner,
        NatsStore(nats_url, bucket=bucket) as client,
    ):
        state = _state("w", 3)
        await owner.save(state)
        for n in range(20):
            state = _step(state, f"owner {n}")
            await owner.append(state, 1)
        assert await client.load("w") == state
        fetches = _Fetches(client)
        state = _step(state, "signal")
        await client.append(state, 1)  # its own fragment is kept as it is written
        state = _step(state, "owner again")
        await owner.append(state, 1)
        assert await client.load("w") == state
        assert len(fetches.keys) == 1, fetches.keys  # the owner's new fragment alone
        assert await owner.load("w") == state


async def test_a_save_of_a_new_generation_is_loaded_whole(nats_url: str, bucket: str) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as writer,
        NatsStore(nats_url, bucket=bucket) as reader,
    ):
        await writer.save(_state("w", 5))
        await reader.load("w")
        replaced = _state("w", 2)
        replaced.history[1].result = "replaced"
        await writer.save(replaced)
        assert await reader.load("w") == replaced
        await writer.delete("w")
        assert await reader.load("w") is None
        again = _step(_state("w", 1), "new")
        await writer.save(again)
        assert await reader.load("w") == again


def test_fragments_are_bounded_in_bytes_the_least_recent_forgotten_first() -> None:
    fragments = Fragments(max_bytes=10)
    fragments.keep("a", "g", [b"1234"])
    fragments.keep("b", "g", [b"5678"])
    assert fragments.known("a", "g", 5) == [b"1234"]  # a is now the most recent
    fragments.keep("c", "g", [b"90ab"])
    assert fragments.known("b", "g", 5) == []
    assert fragments.known("a", "g", 5) == [b"1234"]
    fragments.keep("big", "g", [b"x" * 11])
    assert fragments.known("big", "g", 1) == []


def test_fragments_of_another_generation_or_position_are_not_reused() -> None:
    fragments = Fragments()
    fragments.keep("w", "g1", [b"a", b"b"])
    assert fragments.known("w", "g2", 2) == []
    assert fragments.known("w", "g1", 1) == [b"a"]
    fragments.extend("w", "g1", 1, [b"c"])  # a step on top of a record with one fragment
    assert fragments.known("w", "g1", 3) == []
    fragments.keep("w", "g1", [b"a"])
    fragments.extend("w", "g1", 1, [b"b"])
    assert fragments.known("w", "g1", 3) == [b"a", b"b"]


def test_steps_extend_in_place_and_keep_the_byte_count_true() -> None:
    fragments = Fragments(max_bytes=100)
    fragments.keep("w", "g", [b"ab"])
    kept = fragments._kept["w"].fragments
    for n in range(10):
        fragments.extend("w", "g", 1 + n, [b"cd"])
    assert fragments._kept["w"].fragments is kept  # no copy of the history per step
    assert fragments.known("w", "g", 20) == [b"ab"] + [b"cd"] * 10
    fragments.keep("v", "g", [b"x" * 80])  # 22 + 80 bytes, over the bound: w (least recent) goes
    assert fragments.known("w", "g", 1) == []
    assert fragments._bytes == 80
    fragments.extend("v", "g", 1, [b"y" * 21])  # the workflow alone would exceed the bound
    assert fragments.known("v", "g", 2) == []
    assert fragments._bytes == 0
