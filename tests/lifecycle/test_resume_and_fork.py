"""Repair: resume a failed or canceled run from its history; fork a run from step N."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow import (
    Executor,
    InvalidArgumentError,
    WorkflowAlreadyRunningError,
    WorkflowContext,
    WorkflowError,
    WorkflowFailedError,
    WorkflowNotFoundError,
    WorkflowOptions,
    WorkflowStatus,
)
from beluga_workflow.errors import WorkflowAlreadyExistsError, WorkflowCanceledError
from beluga_workflow.repair import step_count
from beluga_workflow.store import WorkflowStore
from tests.executor.conftest import eventually

log: list[str] = []
broken = {"b": True}
gate: asyncio.Event | None = None


@pytest.fixture(autouse=True)
def fresh() -> None:
    global gate
    log.clear()
    broken["b"] = True
    gate = asyncio.Event()


def step(label: str) -> str:
    if label == "b" and broken["b"]:
        log.append("b failed")
        raise RuntimeError("b is broken")
    log.append(label)
    return label


async def three_steps(ctx: WorkflowContext, _: Any) -> list[str]:
    return [await ctx.execute_activity(step, label) for label in ("a", "b", "c")]


async def wait_for_gate(label: str) -> str:
    assert gate is not None
    await gate.wait()
    log.append(label)
    return label


async def gated(ctx: WorkflowContext, _: Any) -> list[str]:
    first = await ctx.execute_activity(step, "a")
    return [first, await ctx.execute_activity(wait_for_gate, "gate")]


async def numbered(ctx: WorkflowContext, count: int) -> list[str]:
    done = []
    for index in range(count):
        draw = round(ctx.random().random(), 6)  # a fork draws what its source drew
        done.append(await ctx.execute_activity(step, f"s{index + 1}:{draw}"))
    return done


async def test_a_failed_run_resumes_from_its_history_and_retries_the_failed_step(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        failed = await executor.execute(three_steps, WorkflowOptions(id="r"))
        with pytest.raises(WorkflowFailedError, match="b is broken"):
            await failed.result()
        before = await store.load("r")
        assert before is not None
        broken["b"] = False
        resumed = await executor.resume("r")
        assert resumed.run_id == failed.run_id
        assert await resumed.result() == ["a", "b", "c"]
    assert log == ["a", "b failed", "b", "c"]  # "a" was replayed, not run again
    after = await store.load("r")
    assert after is not None
    assert after.status is WorkflowStatus.COMPLETED
    assert after.history[:3] == before.history[:3]  # started, and step a as first recorded
    assert after.metadata["resumes"] == 1


async def test_a_canceled_run_resumes_and_finishes(store: WorkflowStore) -> None:
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(gated, WorkflowOptions(id="c"))

        async def step_a_stored() -> bool:
            state = await store.load("c")
            return state is not None and step_count(state.history) == 1

        await eventually(step_a_stored)
        await executor.cancel("c")
        with pytest.raises(WorkflowCanceledError):
            await handle.result()
        resumed = await executor.resume("c")
        assert gate is not None
        gate.set()
        assert await resumed.result() == ["a", "gate"]
    assert log == ["a", "gate"]


async def test_only_failed_or_canceled_runs_resume(store: WorkflowStore) -> None:
    async with Executor(store, load_plugins=False) as executor:
        broken["b"] = False
        done = await executor.execute(three_steps, WorkflowOptions(id="done"))
        await done.result()
        stored = await store.load("done")
        with pytest.raises(WorkflowError, match="completed"):
            await executor.resume("done")
        running = await executor.execute(gated, WorkflowOptions(id="running"))
        with pytest.raises(WorkflowAlreadyRunningError):
            await executor.resume("running")
        with pytest.raises(WorkflowNotFoundError):
            await executor.resume("missing")
        assert gate is not None
        gate.set()
        await running.result()
    assert await store.load("done") == stored


async def test_a_client_that_does_not_know_the_workflow_resumes_it_for_a_worker(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False, worker_id="w") as worker:
        failed = await worker.execute(three_steps, WorkflowOptions(id="rc"))
        with pytest.raises(WorkflowFailedError):
            await failed.result()
        broken["b"] = False
        async with Executor(store, load_plugins=False, worker_id="client") as client:
            handle = await client.resume("rc")
            assert client.running == 0
            stored = await store.load("rc")
            assert stored is not None
            assert stored.status is WorkflowStatus.RUNNING
            assert stored.lease is None
            report = await worker.recover()
            assert [h.id for h in report.resumed] == ["rc"]
            assert await handle.result() == ["a", "b", "c"]
    assert log == ["a", "b failed", "b", "c"]


async def test_a_fork_from_step_n_keeps_steps_up_to_n_and_runs_only_the_later_ones(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        source = await executor.execute(numbered, WorkflowOptions(id="src", input=4))
        original = await source.result()
        before = await store.load("src")
        assert before is not None
        assert step_count(before.history) == 4
        log.clear()
        fork = await executor.fork("src", 2, new_id="forked")
        assert fork.id == "forked"
        assert await fork.result() == original
        assert log == original[2:]  # steps 3 and 4 ran again, 1 and 2 were replayed
        log.clear()
        everything = await executor.fork("src", 0)
        assert await everything.result() == original
        assert log == original
    assert await store.load("src") == before
    forked = await store.load("forked")
    assert forked is not None
    assert forked.metadata["forked_from"] == {
        "workflow_id": "src",
        "run_id": source.run_id,
        "step": 2,
        "children": 0,
    }
    assert forked.history[1:5] == before.history[1:5]


async def test_a_fork_of_a_step_that_was_not_recorded_or_onto_a_used_id_is_refused(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        source = await executor.execute(numbered, WorkflowOptions(id="src", input=2))
        await source.result()
        for bad in (-1, 3, "1"):
            with pytest.raises(InvalidArgumentError, match="from_step"):
                await executor.fork("src", bad)  # type: ignore[arg-type]
        with pytest.raises(WorkflowAlreadyExistsError):
            await executor.fork("src", 1, new_id="src")
        with pytest.raises(WorkflowNotFoundError):
            await executor.fork("missing", 0)
    assert [state.workflow_id for state in await store.list()] == ["src"]
