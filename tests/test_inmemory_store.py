"""In-memory specifics; the store's general semantics are checked by the contract suite."""

from __future__ import annotations

import asyncio
import threading

import pytest

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    HistoryEvent,
    StoreClosedError,
    SupportsAppend,
    SupportsCompareAndAppend,
    SupportsCompareAndSave,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow.providers.inmemory import InMemoryStore


def test_it_satisfies_the_protocols() -> None:
    store = InMemoryStore()
    assert isinstance(store, WorkflowStore)
    assert isinstance(store, SupportsAppend)
    assert isinstance(store, SupportsCompareAndSave)
    assert isinstance(store, SupportsCompareAndAppend)


def test_saves_from_many_threads_are_all_kept() -> None:
    store = InMemoryStore()

    def writer(thread: int) -> None:
        async def write_all() -> None:
            for n in range(200):
                await store.save(WorkflowState(workflow_id=f"{thread}-{n}", input=n))

        asyncio.run(write_all())

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(asyncio.run(store.list())) == 8 * 200


async def test_append_adds_only_new_events_and_equals_save() -> None:
    store = InMemoryStore()
    state = WorkflowState(
        workflow_id="w", history=[HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED)]
    )
    await store.save(state)
    state.history.append(HistoryEvent(id=2, type=EventType.ACTIVITY_STARTED, input={"n": 1}))
    state.result = {"partial": True}
    await store.append(state, 1)
    state.history[1].input["n"] = 99  # the caller's object is not the stored one
    loaded = await store.load("w")
    assert loaded is not None
    assert [e.id for e in loaded.history] == [1, 2]
    assert loaded.history[1].input == {"n": 1}
    assert loaded.result == {"partial": True}


async def test_append_with_a_stale_view_writes_the_whole_state() -> None:
    store = InMemoryStore()
    state = WorkflowState(
        workflow_id="w",
        history=[
            HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED),
            HistoryEvent(id=2, type=EventType.TIMER_FIRED),
        ],
    )
    await store.append(state, 1)  # nothing stored yet
    loaded = await store.load("w")
    assert loaded is not None
    assert [e.id for e in loaded.history] == [1, 2]


async def test_compare_and_save_lets_exactly_one_writer_win() -> None:
    store = InMemoryStore()
    results = await asyncio.gather(
        *(store.compare_and_save(WorkflowState(workflow_id="w", input=i), 0) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 1) == 1
    assert sum(1 for r in results if isinstance(r, ConcurrencyConflictError)) == 4
    loaded = await store.load("w")
    assert loaded is not None
    assert loaded.version == 1


async def test_closed_store_refuses_work_and_close_is_idempotent() -> None:
    store = InMemoryStore()
    await store.close()
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.load("w")
