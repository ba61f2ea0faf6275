"""A signal written into the store by another executor while a run is live is never lost."""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow import (
    EventType,
    Signal,
    WorkflowContext,
    WorkflowOptions,
    WorkflowStatus,
)
from beluga_workflow.executor import Executor
from beluga_workflow.providers.inmemory import InMemoryStore

RAN: list[str] = []
FIRST_DONE = asyncio.Event()


async def note(what: str) -> str:
    RAN.append(what)
    FIRST_DONE.set()
    return what


async def two_steps_then_signal(ctx: WorkflowContext, _: Any) -> Any:
    await ctx.execute_activity(note, "first")
    await ctx.sleep(0.3)
    await ctx.execute_activity(note, "second")
    return await ctx.wait_for_signal("go", timeout=30)


async def test_a_signal_stored_by_another_executor_survives_and_is_delivered() -> None:
    RAN.clear()
    FIRST_DONE.clear()
    store = InMemoryStore()
    async with Executor(store, load_plugins=False, workflows=[two_steps_then_signal]) as live:
        handle = await live.execute(two_steps_then_signal, WorkflowOptions(id="w"))
        await asyncio.wait_for(FIRST_DONE.wait(), timeout=10)
        assert RAN == ["first"]
        # Another process (an executor that does not run "w") sends the signal.
        async with Executor(store, load_plugins=False) as other:
            await other.signal("w", Signal(name="go", payload={"by": "other"}))
        stored = await store.load("w")
        assert stored is not None
        assert any(e.type is EventType.SIGNAL_RECEIVED for e in stored.history)

        # The live run's next write meets the moved-on history: it takes the signal
        # in, places its own events after it and goes on, without a restart.
        assert await asyncio.wait_for(handle.result(), timeout=10) == {"by": "other"}
        stored = await store.load("w")
        assert stored is not None
        assert stored.status is WorkflowStatus.COMPLETED
        assert [e.signal_payload for e in stored.history if e.signal_name == "go"] == [
            {"by": "other"}
        ]
        assert [e.id for e in stored.history] == list(range(1, len(stored.history) + 1))
    assert RAN == ["first", "second"]
