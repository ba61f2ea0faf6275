"""``compare_and_append`` on the real server: the meta record's compare-and-set checks it."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    HistoryEvent,
    InvalidArgumentError,
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


async def test_a_head_only_write_moves_the_version_on(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _state(3)
        await store.compare_and_append(state, 3, 0)
        _, fragments, _ = await _record(store)
        renewed = state.model_copy(update={"metadata": {"lease": "until 12:00"}})
        assert await store.compare_and_append(renewed, 0, 1) == 2
        assert (await _record(store))[1:] == (fragments, 2)
        assert await store.load("w/1") == renewed.model_copy(update={"version": 2})
        with pytest.raises(ConcurrencyConflictError):  # the head read before is stale now
            await store.compare_and_append(state, 0, 1)


@pytest.mark.parametrize(
    ("new_events", "expected_version"),
    [(1, 1), (1, 3), (2, 2), (0, 2)],
    ids=["stale version", "version ahead", "stale length", "stale length, head only"],
)
async def test_a_stale_version_or_length_conflicts_and_changes_nothing(
    nats_url: str, bucket: str, new_events: int, expected_version: int
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        stored = _state(3)
        await store.compare_and_append(stored, 3, 0)
        await store.compare_and_append(_step(stored), 1, 1)  # now 4 events, version 2
        before = await store.load("w/1")
        with pytest.raises(ConcurrencyConflictError, match="w/1"):
            await store.compare_and_append(
                _step(stored, 2, status=WorkflowStatus.FAILED), new_events, expected_version
            )
        assert await store.load("w/1") == before


async def test_with_nothing_stored_only_version_zero_creates(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        with pytest.raises(ConcurrencyConflictError):
            await store.compare_and_append(_state(2), 1, 1)
        assert await store.load("w/1") is None
        state = _state(2)  # its first event is not stored: the whole state is saved
        assert await store.compare_and_append(state, 1, 0) == 1
        assert await store.load("w/1") == state.model_copy(update={"version": 1})


@pytest.mark.parametrize(
    ("state", "new_events", "expected_version"),
    [
        (_state(1), 1, -1),
        (_state(1), 1, True),
        (_state(1), 1, "1"),
        (_state(1), 1, 1.0),
        (_state(1), 2, 1),
        (_state(1), True, 1),
        (_state(1, result=math.nan), 0, 1),
        (_step(_state(1)).model_copy(update={"workflow_id": ""}), 1, 1),
        ("w/1", 0, 1),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    nats_url: str, bucket: str, state: Any, new_events: Any, expected_version: Any
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        await store.compare_and_append(_state(1), 1, 0)
        before = await store.load("w/1")
        with pytest.raises(InvalidArgumentError):
            await store.compare_and_append(state, new_events, expected_version)
        assert await store.load("w/1") == before


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


async def test_of_twenty_racing_writers_from_two_stores_exactly_one_wins(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as first,
        NatsStore(nats_url, bucket=bucket) as second,
    ):
        base = _state(2)
        await first.compare_and_append(base, 2, 0)
        await second.load("w/1")
        steps = [_step(base, i % 3, input=i) for i in range(20)]  # head-only ones too
        results = await asyncio.gather(
            *(
                (first, second)[i % 2].compare_and_append(step, len(step.history) - 2, 1)
                for i, step in enumerate(steps)
            ),
            return_exceptions=True,
        )
        winners = [i for i, result in enumerate(results) if result == 2]
        losers = [r for r in results if isinstance(r, ConcurrencyConflictError)]
        assert (len(winners), len(losers)) == (1, 19), results
        expected = steps[winners[0]].model_copy(update={"version": 2})
        assert await first.load("w/1") == expected
        assert await second.load("w/1") == expected
