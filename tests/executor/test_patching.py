"""``ctx.patched``: old runs keep the old path, new runs take the new one, across restarts."""

from __future__ import annotations

from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import WorkflowFailedError
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


class Flows:
    """Three versions of one workflow: before the change, patched, and with the patch deprecated."""

    def __init__(self) -> None:
        self.hold = Checkpoint()
        self.ran: list[str] = []

    async def step(self, label: str) -> str:
        self.ran.append(label)
        return label

    async def v1(self, ctx: WorkflowContext, input: Any) -> list[str]:
        done = [await ctx.execute_activity(self.step, "a", name="step")]
        done.append(await ctx.execute_activity(self.step, "c", name="step"))
        done.append(await ctx.execute_activity(self.hold.activity, "b", name="hold"))
        return done

    async def v2(self, ctx: WorkflowContext, input: Any) -> list[str]:
        done = [await ctx.execute_activity(self.step, "a", name="step")]
        if await ctx.patched("add-x"):
            done.append(await ctx.execute_activity(self.step, "x", name="step"))
        assert await ctx.patched("add-x") == ("x" in done)  # fixed for the life of the run
        done.append(await ctx.execute_activity(self.step, "c", name="step"))
        done.append(await ctx.execute_activity(self.hold.activity, "b", name="hold"))
        return done

    async def v3(self, ctx: WorkflowContext, input: Any) -> list[str]:
        done = [await ctx.execute_activity(self.step, "a", name="step")]
        ctx.deprecate_patch("add-x")
        done.append(await ctx.execute_activity(self.step, "x", name="step"))
        done.append(await ctx.execute_activity(self.step, "c", name="step"))
        done.append(await ctx.execute_activity(self.hold.activity, "b", name="hold"))
        return done


async def _stop_at_hold(store: InMemoryStore, flows: Flows, version: Any, run_id: str) -> None:
    executor = Executor(store, load_plugins=False)
    executor.register(version, name="flow")
    await executor.execute("flow", WorkflowOptions(id=run_id))
    await flows.hold.reached.wait()
    flows.hold.reached.clear()
    await executor.close()


async def _resume(store: InMemoryStore, version: Any) -> dict[str, Any]:
    async with Executor(store, load_plugins=False) as executor:
        executor.register(version, name="flow")
        resumed = (await executor.recover()).resumed
        return {handle.id: await handle.result() for handle in resumed}


async def test_old_runs_keep_the_old_path_new_runs_take_the_new_one_across_restarts() -> None:
    store = InMemoryStore()
    flows = Flows()
    await _stop_at_hold(store, flows, flows.v1, "old")  # started before the change
    await _stop_at_hold(store, flows, flows.v2, "new")  # started with it
    assert flows.ran == ["a", "c", "a", "x", "c"]
    new = await store.load("new")
    assert new is not None
    markers = [e for e in new.history if e.type is EventType.MARKER_RECORDED]
    assert [(m.change_id, m.position) for m in markers] == [("add-x", ".0#2")]

    flows.hold.released.set()
    assert await _resume(store, flows.v2) == {"old": ["a", "c", "b"], "new": ["a", "x", "c", "b"]}
    assert flows.ran == ["a", "c", "a", "x", "c"]  # nothing recorded ran again, on either path
    for run_id in ("old", "new"):
        state = await store.load(run_id)
        assert state is not None
        assert state.status is WorkflowStatus.COMPLETED
    old = await store.load("old")
    assert old is not None
    assert not any(e.type is EventType.MARKER_RECORDED for e in old.history)


async def test_a_deprecated_patch_replays_runs_that_hold_its_marker() -> None:
    store = InMemoryStore()
    flows = Flows()
    await _stop_at_hold(store, flows, flows.v2, "marked")
    flows.hold.released.set()
    assert await _resume(store, flows.v3) == {"marked": ["a", "x", "c", "b"]}
    assert flows.ran == ["a", "x", "c"]

    async with Executor(store, load_plugins=False) as executor:  # a new run records no marker
        executor.register(flows.v3, name="flow")
        handle = await executor.execute("flow", WorkflowOptions(id="fresh"))
        assert await handle.result() == ["a", "x", "c", "b"]
    fresh = await store.load("fresh")
    assert fresh is not None
    assert not any(e.type is EventType.MARKER_RECORDED for e in fresh.history)


async def test_a_run_that_recorded_nothing_past_the_patch_takes_the_new_path() -> None:
    """Nothing it recorded contradicts the new code there, so it is free to take it."""
    store = InMemoryStore()
    flows = Flows()

    async def v0(ctx: WorkflowContext, input: Any) -> list[str]:
        done = [await ctx.execute_activity(flows.step, "a", name="step")]
        done.append(await ctx.execute_activity(flows.hold.activity, "c", name="hold"))
        return done

    async def v0_patched(ctx: WorkflowContext, input: Any) -> list[str]:
        done = [await ctx.execute_activity(flows.step, "a", name="step")]
        if await ctx.patched("add-x"):
            done.append(await ctx.execute_activity(flows.step, "x", name="step"))
        done.append(await ctx.execute_activity(flows.hold.activity, "c", name="hold"))
        return done

    await _stop_at_hold(store, flows, v0, "at-the-patch")  # "c" was in flight: not recorded
    flows.hold.released.set()
    assert await _resume(store, v0_patched) == {"at-the-patch": ["a", "x", "c"]}


async def test_a_change_id_must_be_a_non_empty_str() -> None:
    async def flow(ctx: WorkflowContext, input: Any) -> bool:
        return await ctx.patched("")

    async with Executor(InMemoryStore(), load_plugins=False) as executor:
        handle = await executor.execute(flow, WorkflowOptions(id="bad"))
        with pytest.raises(WorkflowFailedError, match="InvalidArgumentError: change id"):
            await handle.result()
