"""Child workflows: started and awaited through recorded steps; canceled with their parent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    Executor,
    Signal,
    WorkflowCanceledError,
    WorkflowContext,
    WorkflowOptions,
    WorkflowStatus,
)
from beluga_workflow.children import RESULT_STEP, START_STEP, ParentClosePolicy
from beluga_workflow.errors import ChildWorkflowError
from beluga_workflow.store import WorkflowStore
from tests.executor.conftest import eventually

ran: list[str] = []


@pytest.fixture(autouse=True)
def fresh() -> None:
    ran.clear()


def note(label: str) -> str:
    ran.append(label)
    return label


async def child(ctx: WorkflowContext, label: str) -> str:
    return await ctx.execute_activity(note, f"child {label}")


async def failing_child(ctx: WorkflowContext, _: Any) -> None:
    raise ValueError("the child gave up")


async def waiting_child(ctx: WorkflowContext, _: Any) -> Any:
    return await ctx.wait_for_signal("go")


async def parent(ctx: WorkflowContext, labels: list[str]) -> list[str]:
    before = await ctx.execute_activity(note, "parent")
    results = [await ctx.execute_child(child, label) for label in labels]
    return [before, *results]


def steps(history: list[Any], name: str) -> int:
    return sum(
        1
        for event in history
        if event.type is EventType.ACTIVITY_COMPLETED and event.activity_name == name
    )


async def test_a_child_runs_as_its_own_run_and_its_start_and_result_are_recorded(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(parent, WorkflowOptions(id="p", input=["a", "b"]))
        assert await handle.result() == ["parent", "child a", "child b"]
    stored = await store.load("p")
    assert stored is not None
    assert steps(stored.history, START_STEP) == 2
    assert steps(stored.history, RESULT_STEP) == 2
    children = [state for state in await store.list() if state.workflow_id != "p"]
    assert len(children) == 2
    assert {state.result for state in children} == {"child a", "child b"}
    assert all(state.workflow_id.startswith(f"p/{handle.run_id[:12]}/") for state in children)
    assert ran == ["parent", "child a", "child b"]


async def test_a_resumed_parent_replays_its_child_instead_of_starting_it_again(
    store: WorkflowStore,
) -> None:
    async def parent_then_wait(ctx: WorkflowContext, _: Any) -> Any:
        result = await ctx.execute_child(child, "x", id="the-child")
        return [result, await ctx.wait_for_signal("done")]

    async with Executor(store, load_plugins=False) as first:
        await first.execute(parent_then_wait, WorkflowOptions(id="p"))

        async def child_result_recorded() -> bool:
            state = await store.load("p")
            return state is not None and steps(state.history, RESULT_STEP) == 1

        await eventually(child_result_recorded)
        await asyncio.sleep(0.2)  # the signal wait's own record lands before the close
    async with Executor(store, load_plugins=False) as second:
        second.register(parent_then_wait)
        second.register(child)
        report = await second.recover()
        assert [h.id for h in report.resumed] == ["p"], report.not_resumed
        await second.signal("p", Signal(name="done", payload=1))
        assert await report.resumed[0].result() == ["child x", 1]
    assert ran == ["child x"]
    child_state = await store.load("the-child")
    assert child_state is not None
    assert child_state.status is WorkflowStatus.COMPLETED


async def test_a_failed_child_raises_in_its_parent(store: WorkflowStore) -> None:
    async def catches(ctx: WorkflowContext, _: Any) -> str:
        try:
            await ctx.execute_child(failing_child)
        except ChildWorkflowError as error:
            return str(error)
        return "no error"

    async with Executor(store, load_plugins=False) as executor:
        message = await (await executor.execute(catches, WorkflowOptions(id="f"))).result()
    assert "failed" in message
    assert "the child gave up" in message


@pytest.mark.parametrize("policy", list(ParentClosePolicy))
async def test_a_child_still_running_when_its_parent_ends_follows_the_parent_close_policy(
    store: WorkflowStore, policy: ParentClosePolicy
) -> None:
    async def leaves_early(ctx: WorkflowContext, _: Any) -> str:
        started = await ctx.start_child(waiting_child, id="kid", parent_close=policy)
        return started.id

    async with Executor(store, load_plugins=False) as executor:
        assert (
            await (await executor.execute(leaves_early, WorkflowOptions(id="p"))).result() == "kid"
        )
        kid = await store.load("kid")
        assert kid is not None
        expected = (
            WorkflowStatus.CANCELED
            if policy is ParentClosePolicy.CANCEL
            else WorkflowStatus.RUNNING
        )
        assert kid.status is expected
        if policy is ParentClosePolicy.ABANDON:
            await executor.cancel("kid")


async def test_canceling_a_parent_cancels_the_child_it_waits_for(store: WorkflowStore) -> None:
    async def waits_for_child(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_child(waiting_child, id="kid")

    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(waits_for_child, WorkflowOptions(id="p"))

        async def kid_running() -> bool:
            state = await store.load("kid")
            return state is not None

        await eventually(kid_running)
        await asyncio.sleep(0.05)
        await executor.cancel("p")
        with pytest.raises(WorkflowCanceledError):
            await handle.result()
        kid_handle = await executor.get_handle("kid")
        with pytest.raises(WorkflowCanceledError):
            await asyncio.wait_for(kid_handle.result(), 10)


async def test_a_child_registered_only_on_another_worker_runs_there(store: WorkflowStore) -> None:
    async def parent_by_name(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_child("elsewhere:child", "remote", id="remote-kid")

    async with (
        Executor(store, load_plugins=False, worker_id="parents", poll_interval=0.05) as parents,
        Executor(store, load_plugins=False, worker_id="children") as children,
    ):
        children.register(child, name="elsewhere:child")
        handle = await parents.execute(parent_by_name, WorkflowOptions(id="p"))
        for _ in range(200):
            report = await children.claim(10)
            if report.resumed:
                break
            await asyncio.sleep(0.02)
        assert parents.running == 1
        assert await handle.result() == "child remote"
    assert ran == ["child remote"]


@pytest.mark.parametrize("policy", list(ParentClosePolicy))
async def test_canceling_a_parent_no_process_runs_cancels_its_children_per_policy(
    store: WorkflowStore, policy: ParentClosePolicy
) -> None:
    async def waits_for_child(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_child(waiting_child, id="kid", parent_close=policy)

    async with Executor(store, load_plugins=False) as runner:
        await runner.execute(waits_for_child, WorkflowOptions(id="p"))

        async def child_started() -> bool:
            state = await store.load("p")
            return state is not None and steps(state.history, START_STEP) == 1

        await eventually(child_started)
    async with Executor(store, load_plugins=False) as client:  # runs neither of them
        await client.cancel("p")
    parent_state = await store.load("p")
    kid = await store.load("kid")
    assert parent_state is not None
    assert kid is not None
    assert parent_state.status is WorkflowStatus.CANCELED
    expected = {
        ParentClosePolicy.CANCEL: WorkflowStatus.CANCELED,
        ParentClosePolicy.ABANDON: WorkflowStatus.RUNNING,
    }
    assert kid.status is expected[policy]


async def test_a_fork_leaves_the_children_it_copied_to_its_source(store: WorkflowStore) -> None:
    async def starts_then_waits(ctx: WorkflowContext, _: Any) -> Any:
        await ctx.start_child(waiting_child, id="kid")
        await ctx.execute_activity(note, "after")
        return await ctx.wait_for_signal("end")

    async with Executor(store, load_plugins=False) as executor:
        await executor.execute(starts_then_waits, WorkflowOptions(id="src"))

        async def two_steps() -> bool:
            state = await store.load("src")
            return state is not None and steps(state.history, "note") == 1

        await eventually(two_steps)
        fork = await executor.fork("src", 2, new_id="fork")
        await executor.signal("fork", Signal(name="end", payload="done"))
        assert await fork.result() == "done"
        kid = await store.load("kid")
        assert kid is not None
        assert kid.status is WorkflowStatus.RUNNING  # the source's child, not the fork's
        await executor.cancel("src")
        kid = await store.load("kid")
        assert kid is not None
        assert kid.status is WorkflowStatus.CANCELED
    assert ran == ["after"]


async def test_terminating_a_parent_another_executor_runs_cancels_its_children(
    store: WorkflowStore,
) -> None:
    from beluga_workflow import IdReusePolicy

    async def waits_for_child(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.execute_child(waiting_child, id="kid")

    async def replacement(ctx: WorkflowContext, _: Any) -> str:
        return "replaced"

    async with Executor(store, load_plugins=False, worker_id="a") as holder:
        holder.register(waiting_child)
        await holder.execute(waits_for_child, WorkflowOptions(id="p"))

        async def child_started() -> bool:
            state = await store.load("p")
            return state is not None and steps(state.history, START_STEP) == 1

        await eventually(child_started)
        async with Executor(store, load_plugins=False, worker_id="b") as starter:
            terminate = WorkflowOptions(id="p", id_reuse=IdReusePolicy.TERMINATE_EXISTING)
            assert await (await starter.execute(replacement, terminate)).result() == "replaced"
        kid = await store.load("kid")
        assert kid is not None
        assert kid.status is WorkflowStatus.CANCELED
