"""Ids are idempotency keys: what starting an id that already names a run does, per policy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow import (
    Executor,
    WorkflowCanceledError,
    WorkflowContext,
    WorkflowFailedError,
    WorkflowOptions,
    WorkflowStatus,
)
from beluga_workflow.errors import StoreError, WorkflowAlreadyExistsError, WorkflowIdConflictError
from beluga_workflow.idpolicy import IdReusePolicy, archive_id
from beluga_workflow.store import WorkflowStore

ran: list[Any] = []


def note(value: Any) -> Any:
    ran.append(value)
    return value


async def once(ctx: WorkflowContext, input: Any) -> Any:
    return await ctx.execute_activity(note, input)


async def other(ctx: WorkflowContext, input: Any) -> Any:
    return input


async def fails_unless_told(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(note, input)
    if input != "ok":
        raise ValueError("told to fail")
    return input


gate: asyncio.Event | None = None


async def wait_for_gate(_: Any) -> str:
    assert gate is not None
    await gate.wait()
    return "opened"


async def waits(ctx: WorkflowContext, input: Any) -> Any:
    return await ctx.execute_activity(wait_for_gate, input)


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    global gate
    ran.clear()
    gate = asyncio.Event()


def policy(id: str, input: Any, reuse: IdReusePolicy) -> WorkflowOptions:
    return WorkflowOptions(id=id, input=input, id_reuse=reuse)


async def test_starting_a_completed_id_again_returns_that_run_and_runs_nothing(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        first = await executor.execute(once, WorkflowOptions(id="k", input=1))
        assert await first.result() == 1
        again = await executor.execute(once, WorkflowOptions(id="k", input=1))
        assert again.run_id == first.run_id
        assert await again.result() == 1
        submitted = await executor.submit(executor.register(once), WorkflowOptions(id="k", input=1))
        assert submitted.run_id == first.run_id
    assert ran == [1]
    stored = await store.load("k")
    assert stored is not None
    assert stored.run_id == first.run_id
    assert len(stored.history) == 4


async def test_starting_a_running_id_again_returns_the_running_run(store: WorkflowStore) -> None:
    async with Executor(store, load_plugins=False) as executor:
        first = await executor.execute(waits, WorkflowOptions(id="r", input=0))
        second = await executor.execute(waits, WorkflowOptions(id="r", input=0))
        assert second.run_id == first.run_id
        assert second.status is WorkflowStatus.RUNNING
        assert gate is not None
        gate.set()
        assert await second.result() == "opened"
        assert await first.result() == "opened"


async def test_the_same_id_with_another_workflow_or_input_is_refused_and_changes_nothing(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        first = await executor.execute(once, WorkflowOptions(id="c", input={"a": 1, "b": 2}))
        await first.result()
        before = await store.load("c")
        same = await executor.execute(once, WorkflowOptions(id="c", input={"b": 2, "a": 1}))
        assert same.run_id == first.run_id  # key order does not make another input
        with pytest.raises(WorkflowIdConflictError, match="another input"):
            await executor.execute(once, WorkflowOptions(id="c", input={"a": 1}))
        with pytest.raises(WorkflowIdConflictError, match="is a run of"):
            await executor.execute(other, WorkflowOptions(id="c", input={"a": 1, "b": 2}))
    assert await store.load("c") == before


async def test_reject_duplicate_refuses_any_stored_run(store: WorkflowStore) -> None:
    async with Executor(store, load_plugins=False) as executor:
        first = await executor.execute(once, WorkflowOptions(id="d", input=1))
        await first.result()
        with pytest.raises(WorkflowAlreadyExistsError, match="completed"):
            await executor.execute(once, policy("d", 1, IdReusePolicy.REJECT_DUPLICATE))
    stored = await store.load("d")
    assert stored is not None
    assert stored.run_id == first.run_id
    assert ran == [1]


async def test_allow_after_failure_starts_anew_only_after_a_failure_and_keeps_the_old_run(
    store: WorkflowStore,
) -> None:
    reuse = IdReusePolicy.ALLOW_AFTER_FAILURE
    async with Executor(store, load_plugins=False) as executor:
        failed = await executor.execute(fails_unless_told, policy("f", "no", reuse))
        with pytest.raises(WorkflowFailedError):
            await failed.result()
        retried = await executor.execute(fails_unless_told, policy("f", "ok", reuse))
        assert retried.run_id != failed.run_id
        assert await retried.result() == "ok"
        with pytest.raises(WorkflowAlreadyExistsError, match="completed"):
            await executor.execute(fails_unless_told, policy("f", "ok", reuse))
    stored = await store.load("f")
    assert stored is not None
    assert stored.run_id == retried.run_id
    assert stored.metadata["previous_run_id"] == failed.run_id
    archived = await store.load(archive_id("f", failed.run_id))
    assert archived is not None
    assert archived.status is WorkflowStatus.FAILED
    assert [event.type.value for event in archived.history][-1] == "workflow_failed"
    assert ran == ["no", "ok"]


async def test_terminate_existing_cancels_the_running_run_and_starts_anew(
    store: WorkflowStore,
) -> None:
    reuse = IdReusePolicy.TERMINATE_EXISTING
    async with Executor(store, load_plugins=False) as executor:
        first = await executor.execute(waits, WorkflowOptions(id="t", input=0))
        await asyncio.sleep(0.05)
        second = await executor.execute(other, policy("t", "new", reuse))
        assert second.run_id != first.run_id
        assert await second.result() == "new"
        with pytest.raises(WorkflowCanceledError):
            await first.result()
    archived = await store.load(archive_id("t", first.run_id))
    assert archived is not None
    assert archived.status is WorkflowStatus.CANCELED
    stored = await store.load("t")
    assert stored is not None
    assert stored.result == "new"


async def test_terminate_existing_ends_a_run_another_executor_holds(
    store: WorkflowStore,
) -> None:
    reuse = IdReusePolicy.TERMINATE_EXISTING
    async with Executor(store, load_plugins=False, worker_id="a") as holder:
        first = await holder.execute(waits, WorkflowOptions(id="u", input=0))
        async with Executor(store, load_plugins=False, worker_id="b") as starter:
            second = await starter.execute(other, policy("u", "new", reuse))
            assert await second.result() == "new"
        archived = await store.load(archive_id("u", first.run_id))
        assert archived is not None
        assert archived.status is WorkflowStatus.CANCELED
        assert gate is not None
        gate.set()  # the old run's next write finds it replaced: it stops, recording nothing
        with pytest.raises(StoreError, match="replaced"):
            await asyncio.wait_for(first.result(), 10)
    stored = await store.load("u")
    assert stored is not None
    assert stored.run_id == second.run_id
    assert stored.result == "new"
