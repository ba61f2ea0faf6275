"""Replay by call positions: plain awaits, threads, helpers and identical calls never diverge.

Also: histories stored before calls had positions still replay.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowState, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint, eventually

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

HISTORIES = Path(__file__).parent / "histories"


async def test_plain_awaits_threads_helpers_and_identical_calls_replay_without_divergence(
    store: InMemoryStore,
) -> None:
    ran: list[str] = []
    hold = Checkpoint()

    async def note(label: str) -> str:
        ran.append(label)
        if label == "last":
            await hold.activity(label)
        return label

    async def helper(ctx: WorkflowContext, label: str) -> str:
        await asyncio.sleep(0.01)
        result: str = await ctx.execute_activity(note, label)
        return result

    async def workflow(ctx: WorkflowContext, input: Any) -> list[Any]:
        out = [await ctx.execute_activity(note, "one")]
        await asyncio.sleep(0.05)  # not a context call: replay waits for what comes next
        await asyncio.to_thread(time.sleep, 0.02)
        out.append(await helper(ctx, "two"))
        out.append(
            list(await asyncio.gather(*(ctx.execute_activity(note, "same") for _ in range(3))))
        )
        out.append(list(await asyncio.gather(helper(ctx, "x"), helper(ctx, "x"))))
        out.append(await ctx.execute_activity(note, "last"))
        return out

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="w"))
    await hold.reached.wait()
    await first.close()
    before = list(ran)

    hold.released.set()
    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        assert await handle.result() == ["one", "two", ["same"] * 3, ["x", "x"], "last"]
    assert ran == [*before, "last"]  # only the call in flight ran again


async def test_a_loaded_loop_changes_nothing_two_hundred_runs_replay_together(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def note(value: Any) -> Any:
        return value

    async def workflow(ctx: WorkflowContext, input: int) -> list[Any]:
        out = []
        for index in range(5):
            await asyncio.sleep(0)
            out.append(await ctx.execute_activity(note, [input, index]))
            await asyncio.sleep(0.001 * (input % 3))
        out.extend(
            await asyncio.gather(
                ctx.execute_activity(note, input), ctx.execute_activity(note, input)
            )
        )
        await ctx.execute_activity(hold.activity, input)
        return out

    first = Executor(store, workflows=[workflow], load_plugins=False)
    for number in range(200):
        await first.execute(workflow, WorkflowOptions(id=f"w{number}", input=number))
    await eventually(lambda: len(hold.calls) == 200, tries=20000)
    await first.close()

    hold.released.set()
    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        resumed = (await second.recover()).resumed
        assert len(resumed) == 200
        results = await asyncio.gather(*(handle.result() for handle in resumed))
    for handle, result in zip(resumed, results, strict=True):
        number = int(handle.id[1:])
        assert result == [[number, i] for i in range(5)] + [number, number]


async def test_a_history_stored_before_positions_existed_still_replays(
    store: InMemoryStore,
) -> None:
    """The history file was written by the engine as it was before calls had positions."""
    state = WorkflowState.model_validate(
        json.loads((HISTORIES / "legacy_before_positions.json").read_text())
    )
    assert all(event.position is None for event in state.history)
    await store.save(state)
    ran: list[Any] = []

    async def double(x: int) -> int:
        ran.append(x)
        return x * 2

    async def hold(x: Any) -> Any:
        ran.append(x)
        return x

    async def legacy_flow(ctx: WorkflowContext, input: Any) -> list[Any]:
        a = await ctx.execute_activity(double, 1, name="double")
        pair = await asyncio.gather(
            ctx.execute_activity(double, 5, name="double"),
            ctx.execute_activity(double, 5, name="double"),
        )
        await ctx.sleep(0.01)
        got = await ctx.wait_for_signal("go")
        b = await ctx.execute_activity(hold, got, name="hold")
        return [a, list(pair), b]

    async with Executor(store, load_plugins=False) as executor:
        executor.register(legacy_flow, name="legacy_flow")
        (handle,) = (await executor.recover()).resumed
        assert await handle.result() == [2, [10, 10], 7]
    assert ran == [7]  # every recorded step replayed, only the one in flight ran
    stored = await store.load("legacy")
    assert stored is not None
    assert stored.status is WorkflowStatus.COMPLETED
    new_calls = [e for e in stored.history if e.type is EventType.ACTIVITY_STARTED and e.position]
    assert [e.input for e in new_calls] == [7]
