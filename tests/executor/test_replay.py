"""Resuming workflows from their recorded history, in one process (close() stands in for a crash).

The crash tests do the same across real processes; these check the finer
points: what is replayed, what runs again, and divergence detection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.divergence import blocked_mark
from beluga_workflow.errors import NonDeterminismError, WorkflowNotRegisteredError
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy
from tests.executor.conftest import Checkpoint, eventually

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


async def test_a_resumed_workflow_replays_finished_activities_and_runs_the_rest(
    store: InMemoryStore,
) -> None:
    ran: list[int] = []
    hold = Checkpoint()

    async def step(x: int) -> int:
        ran.append(x)
        if x == 2:
            await hold.activity(x)
        return x * 10

    async def workflow(ctx: WorkflowContext, input: int) -> list[int]:
        return [await ctx.execute_activity(step, x) for x in range(input)]

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="w", input=5))
    await hold.reached.wait()
    await first.close()  # the process "dies" while step 2 runs
    assert ran == [0, 1, 2]

    hold.released.set()
    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        report = await second.recover()
        assert [h.id for h in report.resumed] == ["w"]
        assert await report.resumed[0].result() == [0, 10, 20, 30, 40]
    assert ran == [0, 1, 2, 2, 3, 4]  # only the step in flight ran again


async def test_now_and_random_are_the_same_on_replay(store: InMemoryStore) -> None:
    hold = Checkpoint()

    async def note(value: Any) -> Any:
        return value

    async def workflow(ctx: WorkflowContext, input: Any) -> list[Any]:
        seen = []
        for _ in range(3):
            moment = {"now": ctx.now().isoformat(), "draw": ctx.random().random()}
            seen.append(await ctx.execute_activity(note, moment))
        await ctx.execute_activity(hold.activity, None)
        return seen

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="d"))
    await hold.reached.wait()
    await first.close()
    stopped = await store.load("d")
    assert stopped is not None
    recorded = [e.input for e in stopped.history if (e.activity_name or "").endswith("note")]

    hold.released.set()
    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        # Replay checks each activity's input against history, so equal values mean
        # now() and random() gave the replay exactly what they gave the first run.
        assert await handle.result() == recorded[::2]
    assert len({item["draw"] for item in recorded[::2]}) == 3
    assert len({item["now"] for item in recorded[::2]}) == 3


async def test_a_changed_workflow_is_blocked_not_failed_naming_the_event(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def charge(x: int) -> str:
        return "charged"

    async def refund(x: int) -> str:
        return "refunded"

    async def ship(x: int) -> str:
        return await hold.activity("shipped")  # type: ignore[no-any-return]

    async def order(ctx: WorkflowContext, input: int) -> list[str]:
        return [await ctx.execute_activity(charge, input), await ctx.execute_activity(ship, input)]

    async def changed_order(ctx: WorkflowContext, input: int) -> list[str]:
        return [await ctx.execute_activity(refund, input), await ctx.execute_activity(ship, input)]

    first = Executor(store, load_plugins=False)
    first.register(order, name="order")
    await first.execute("order", WorkflowOptions(id="o", input=7))
    await hold.reached.wait()
    await first.close()

    second = Executor(store, load_plugins=False)
    second.register(changed_order, name="order")
    (handle,) = (await second.recover()).resumed
    with pytest.raises(NonDeterminismError) as caught:
        await handle.result()
    message = str(caught.value)
    assert "at event 2 (activity_started)" in message
    assert "history has activity" in message
    assert "charge'" in message
    assert "instead waits for activity" in message
    assert "refund'" in message
    state = await store.load("o")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING  # left resumable, not failed
    assert state.error is None
    assert blocked_mark(state) == {
        "event_id": 2,
        "event_type": "activity_started",
        "reason": message,
    }
    assert state.lease is None  # handed back for a worker with matching code
    assert hold.calls == ["shipped"]  # nothing ran for the changed code
    assert (await second.claim(10)).resumed == []  # its rounds leave it alone
    await second.close()

    hold.released.set()
    async with Executor(store, load_plugins=False) as fixed:
        fixed.register(order, name="order")
        (handle,) = (await fixed.recover()).resumed
        assert await handle.result() == ["charged", "shipped"]
    state = await store.load("o")
    assert state is not None
    assert blocked_mark(state) is None


async def test_a_workflow_that_now_returns_before_its_recorded_steps_is_non_deterministic(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def step(x: int) -> int:
        return x

    async def long(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(step, 1)
        await ctx.execute_activity(step, 2)
        await ctx.execute_activity(hold.activity, 3)

    async def short(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(step, 1)
        return "done early"

    first = Executor(store, load_plugins=False)
    first.register(long, name="flow")
    await first.execute("flow", WorkflowOptions(id="f"))
    await hold.reached.wait()
    await first.close()

    async with Executor(store, load_plugins=False) as second:
        second.register(short, name="flow")
        (handle,) = (await second.recover()).resumed
        with pytest.raises(NonDeterminismError, match="at event 4"):
            await handle.result()


async def test_concurrent_branches_resume_in_their_recorded_order(store: InMemoryStore) -> None:
    ran: list[str] = []
    hold = Checkpoint()

    async def step(label: str) -> str:
        ran.append(label)
        if label == "a3":
            await hold.activity(label)
        return label.upper()

    async def branch(ctx: WorkflowContext, prefix: str, count: int) -> list[str]:
        return [await ctx.execute_activity(step, f"{prefix}{i}") for i in range(count)]

    async def workflow(ctx: WorkflowContext, input: Any) -> list[list[str]]:
        return list(await asyncio.gather(branch(ctx, "a", 4), branch(ctx, "b", 3)))

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="g"))
    await hold.reached.wait()
    await eventually(lambda: "b2" in ran)
    await eventually(lambda: "b2" in ran and len(hold.calls) == 1)
    await first.close()

    hold.released.set()
    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        assert await handle.result() == [["A0", "A1", "A2", "A3"], ["B0", "B1", "B2"]]
    assert sorted(ran) == sorted(["a0", "a1", "a2", "a3", "a3", "b0", "b1", "b2"])


async def test_retries_resume_at_the_next_attempt(store: InMemoryStore) -> None:
    attempts: list[int] = []
    hold = Checkpoint()

    async def flaky(_: Any) -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise ConnectionError("first attempt fails")
        return "ok"

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        policy = RetryPolicy(max_attempts=3, initial_interval=30, jitter=0)
        result: str = await ctx.execute_activity(flaky, None, retry=policy)
        return result

    first = Executor(store, workflows=[workflow], load_plugins=False)
    await first.execute(workflow, WorkflowOptions(id="retry"))
    await eventually(lambda: attempts == [1])
    await asyncio.sleep(0.01)
    await first.close()  # stopped during the 30 s backoff

    state = await store.load("retry")
    assert state is not None
    failed = state.history[-1]
    assert failed.type is EventType.ACTIVITY_FAILED
    assert failed.fire_at is not None
    # Pretend the backoff has passed while no process ran.
    failed.fire_at = failed.timestamp
    await store.save(state)

    async with Executor(store, workflows=[workflow], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        assert await handle.result() == "ok"
    assert attempts == [1, 2]
    state = await store.load("retry")
    assert state is not None
    started = [e.attempt for e in state.history if e.type is EventType.ACTIVITY_STARTED]
    assert started == [1, 2]
    del hold


async def test_unregistered_workflows_are_reported_and_the_others_resumed(
    store: InMemoryStore,
) -> None:
    hold = Checkpoint()

    async def known(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(hold.activity, "x")
        return "known done"

    async def unknown(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(hold.activity, "y")
        return "unknown done"

    first = Executor(store, load_plugins=False)
    await first.execute(known, WorkflowOptions(id="known"))
    await first.execute(unknown, WorkflowOptions(id="unknown"))
    await eventually(lambda: len(hold.calls) == 2)
    await first.close()

    hold.released.set()
    async with Executor(store, workflows=[known], load_plugins=False) as second:
        report = await second.recover()
        assert [h.id for h in report.resumed] == ["known"]
        assert isinstance(report.not_resumed["unknown"], WorkflowNotRegisteredError)
        assert "unknown" in str(report.not_resumed["unknown"])
        assert await report.resumed[0].result() == "known done"
    state = await store.load("unknown")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING  # left for an executor that knows it
