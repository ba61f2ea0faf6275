"""In-memory watch(): writes from any thread reach every watcher; backlogs are capped."""

from __future__ import annotations

import asyncio
import threading

import pytest

from beluga_workflow import StoreClosedError, WorkflowState, watching
from beluga_workflow.providers.inmemory import InMemoryStore


async def test_a_write_from_another_thread_and_loop_wakes_the_watcher() -> None:
    store = InMemoryStore()
    watcher = store.watch()
    assert await anext(watcher) is None

    thread = threading.Thread(
        target=asyncio.run, args=(store.save(WorkflowState(workflow_id="from-a-thread")),)
    )
    thread.start()
    async with asyncio.timeout(5):
        assert await anext(watcher) == "from-a-thread"
    thread.join()
    await watcher.aclose()


async def test_a_watcher_that_falls_behind_gets_none_instead_of_its_backlog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watching, "MAX_BACKLOG", 3)
    store = InMemoryStore()
    watcher = store.watch()
    assert await anext(watcher) is None

    for n in range(5):
        await store.save(WorkflowState(workflow_id=f"wf-{n}"))

    assert [await anext(watcher), await anext(watcher)] == [None, "wf-4"]
    await watcher.aclose()


async def test_watch_of_a_closed_store_raises_store_closed() -> None:
    store = InMemoryStore()
    await store.close()

    with pytest.raises(StoreClosedError):
        await anext(store.watch())


async def test_a_closed_watcher_is_no_longer_told() -> None:
    store = InMemoryStore()
    watcher = store.watch()
    assert await anext(watcher) is None
    await watcher.aclose()

    await store.save(WorkflowState(workflow_id="after"))

    assert not store._watchers._subscriptions


def test_a_watcher_left_behind_by_a_closed_loop_never_breaks_a_write() -> None:
    store = InMemoryStore()
    abandoned = asyncio.new_event_loop()
    left: list[asyncio.Future[str | None]] = []

    async def watch_and_wait() -> None:
        watcher = store.watch()
        assert await anext(watcher) is None
        left.append(asyncio.ensure_future(anext(watcher)))  # still waiting when the loop closes
        await asyncio.sleep(0)

    abandoned.run_until_complete(watch_and_wait())
    abandoned.close()

    asyncio.run(store.save(WorkflowState(workflow_id="later")))

    assert asyncio.run(store.load("later")) is not None
