"""Push, then poll: on a store that says what changed, the engine wakes at once.

Every executor here polls only every 5 s, so anything that happens within a
fraction of that was pushed. ``WatchedStore`` is an in-memory store that
reports its writes, as the ``watch`` capability promises (the contract suite
checks the shipped stores' own ``watch``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from beluga_workflow import Signal, Worker, WorkflowContext, WorkflowOptions, WorkflowState
from beluga_workflow.executor import Executor
from beluga_workflow.providers.inmemory import InMemoryStore

SLOW_POLL = 5.0
PROMPT = 0.5


class WatchedStore(InMemoryStore):
    """An in-memory store whose writes are reported to every watcher; it counts loads."""

    def __init__(self) -> None:
        super().__init__()
        self._queues: list[asyncio.Queue[str | None]] = []
        self.loads = 0

    async def watch(self) -> AsyncIterator[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            yield None
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def _tell(self, workflow_id: str) -> None:
        for queue in self._queues:
            queue.put_nowait(workflow_id)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.loads += 1
        return await super().load(workflow_id)

    async def save(self, state: WorkflowState) -> None:
        await super().save(state)
        self._tell(state.workflow_id)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().append(state, new_events)
        self._tell(state.workflow_id)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        version = await super().compare_and_save(state, expected_version)
        self._tell(state.workflow_id)
        return version

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        self._tell(state.workflow_id)
        return version


def executor(store: WatchedStore, **options: Any) -> Executor:
    return Executor(store, load_plugins=False, poll_interval=SLOW_POLL, **options)


async def waits_for_go(ctx: WorkflowContext, _: Any) -> Any:
    return await ctx.wait_for_signal("go", timeout=60)


async def test_a_signal_from_another_process_wakes_the_waiting_run_at_once() -> None:
    store = WatchedStore()
    async with executor(store, worker_id="a") as owner, executor(store, worker_id="b") as other:
        handle = await owner.execute(waits_for_go, WorkflowOptions(id="w"))
        await asyncio.sleep(0.1)  # the run waits
        sent = time.monotonic()
        await other.signal("w", Signal(name="go", payload="now"))
        assert await asyncio.wait_for(handle.result(), PROMPT) == "now"
    assert time.monotonic() - sent < PROMPT


async def test_a_handle_in_another_process_wakes_when_the_run_finishes() -> None:
    store = WatchedStore()
    async with executor(store, worker_id="a") as owner, executor(store, worker_id="b") as other:
        await owner.execute(waits_for_go, WorkflowOptions(id="w"))
        awaiting = await other.get_handle("w")
        result = asyncio.ensure_future(awaiting.result())
        await asyncio.sleep(0.1)
        await owner.signal("w", Signal(name="go", payload="done"))
        assert await asyncio.wait_for(result, PROMPT) == "done"


async def test_an_idle_worker_claims_a_submitted_run_at_once() -> None:
    store = WatchedStore()

    async def quick(ctx: WorkflowContext, x: int) -> int:
        return x + 1

    worker = Worker(store, workflows=[quick], poll_interval=SLOW_POLL, load_plugins=False)
    serving = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.1)  # its first round found nothing; now it waits
        async with executor(store) as client:
            name = f"{__name__}:{quick.__qualname__}"
            handle = await client.submit(name, WorkflowOptions(id="q", input=1))
            assert await asyncio.wait_for(handle.result(), PROMPT) == 2
    finally:
        worker.stop()
        await serving


async def test_a_run_is_not_woken_by_the_notices_of_its_own_writes() -> None:
    store = WatchedStore()

    async def steps(ctx: WorkflowContext, n: int) -> int:
        for i in range(n):
            await ctx.execute_activity(lambda x: x, i, name="step")
        return n

    async with executor(store, worker_id="a") as owner:
        handle = await owner.execute(steps, WorkflowOptions(id="s", input=50))
        assert await handle.result() == 50
        await asyncio.sleep(0.05)
    assert store.loads <= 2, f"{store.loads} loads: the run read itself back after its writes"
