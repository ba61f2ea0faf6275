"""What a client starts or waits for is woken by the store's push, not by polls.

A worker claims the run the store just said changed before it reads its
listing of runs (whose ``list`` takes a second here, as listing every running
run does on a big store), and a client waiting for an event or a result wakes
when the store says the run changed. Every poll interval is 5 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from beluga_workflow import Client, Worker, WorkflowContext, WorkflowFilter, WorkflowState
from tests.executor.conftest import eventually
from tests.executor.test_wakeups import PROMPT, SLOW_POLL, WatchedStore

STARTED: list[float] = []


class SlowListing(WatchedStore):
    def __init__(self) -> None:
        super().__init__()
        self.slow = False

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        if self.slow:
            await asyncio.sleep(1.0)
        return await super().list(filter)


async def begin(_: Any) -> None:
    STARTED.append(time.monotonic())


async def starts_at_once(ctx: WorkflowContext, _: Any) -> None:
    await ctx.execute_activity(begin, None)


async def held(ctx: WorkflowContext, _: Any) -> Any:
    return await ctx.wait_for_signal("go", timeout=60)


async def test_a_pushed_new_run_starts_before_the_slow_listing_returns() -> None:
    STARTED.clear()
    store = SlowListing()
    worker = Worker(store, workflows=[starts_at_once], poll_interval=SLOW_POLL, load_plugins=False)
    serving = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.1)  # its first round found nothing; now it waits
        store.slow = True
        async with Client(store, load_plugins=False) as client:
            sent = time.monotonic()
            handle = await client.start(f"{__name__}:starts_at_once")
            await asyncio.wait_for(handle.result(), 5)
        assert STARTED[0] - sent < PROMPT  # well before the 1 s listing ended
    finally:
        worker.stop()
        await serving


async def test_a_hinted_run_another_worker_holds_is_left_to_it() -> None:
    store = WatchedStore()
    first = Worker(store, workflows=[held], poll_interval=SLOW_POLL, load_plugins=False)
    second = Worker(store, workflows=[held], poll_interval=SLOW_POLL, load_plugins=False)
    serving = [asyncio.create_task(first.run())]
    try:
        async with Client(store, load_plugins=False) as client:
            handle = await client.start(f"{__name__}:held", id="h")
            await eventually(lambda: first.running == 1)
            serving.append(asyncio.create_task(second.run()))
            await client.signal("h", "go", 1)  # a change the second worker is told of
            assert await asyncio.wait_for(handle.result(), 5) == 1
        assert second.running == 0
        stored = await store.load("h")
        assert stored is not None
        assert stored.lease is None or stored.lease.owner == first.worker_id
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*serving)


async def publishes_then_waits(ctx: WorkflowContext, _: Any) -> Any:
    await ctx.sleep(0.2)
    await ctx.set_event("stage", "ready")
    return await ctx.wait_for_signal("go", timeout=60)


async def test_a_client_waiting_for_an_event_or_a_result_is_woken_by_push() -> None:
    store = WatchedStore()
    worker = Worker(
        store, workflows=[publishes_then_waits], poll_interval=SLOW_POLL, load_plugins=False
    )
    serving = asyncio.create_task(worker.run())
    try:
        async with Client(store, poll_interval=SLOW_POLL, load_plugins=False) as client:
            handle = await client.start(f"{__name__}:publishes_then_waits", id="p")
            began = time.monotonic()
            assert await client.wait_for_event("p", "stage", timeout=30) == "ready"
            assert time.monotonic() - began < 0.2 + PROMPT  # not a 5 s poll
            waiting = asyncio.ensure_future(handle.result())
            await asyncio.sleep(0.05)
            sent = time.monotonic()
            await client.signal("p", "go", "now")
            assert await asyncio.wait_for(waiting, 30) == "now"
            assert time.monotonic() - sent < PROMPT
    finally:
        worker.stop()
        await serving
