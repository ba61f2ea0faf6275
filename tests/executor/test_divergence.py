"""Each kind of code change that diverges from a run's history is named, blocks the run, and heals.

A run is started with one version of a workflow and stopped with an
activity in flight; an executor with changed code resumes it. Replay must
name the recorded event the change collides with, leave the run running
(blocked, never failed), and an executor with the original code must then
finish it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.divergence import HistoryDivergenceError, blocked_mark
from beluga_workflow.errors import NonDeterminismError
from beluga_workflow.executor import Executor
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.models import EventType, HistoryEvent, Signal, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint, eventually

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

HOLD = Checkpoint()


async def step(value: str) -> str:
    return value.upper()


async def original(ctx: WorkflowContext, input: Any) -> list[Any]:
    a = await ctx.execute_activity(step, "a", name="a")
    await ctx.sleep(0.01)
    go = await ctx.wait_for_signal("go")
    b = await ctx.execute_activity(step, "b", name="b")
    c = await ctx.execute_activity(HOLD.activity, "c", name="c")
    return [a, go, b, c]


async def renamed(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "a", name="first")


async def changed_input(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "A", name="a")


async def reordered(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "b", name="b")
    await ctx.execute_activity(step, "a", name="a")


async def removed(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.sleep(0.01)


async def added_in_the_middle(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "a", name="a")
    await ctx.sleep(0.01)
    await ctx.execute_activity(step, "x", name="x")


async def changed_timer(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "a", name="a")
    await ctx.sleep(0.02)


async def changed_signal_name(ctx: WorkflowContext, input: Any) -> Any:
    await ctx.execute_activity(step, "a", name="a")
    await ctx.sleep(0.01)
    await ctx.wait_for_signal("start")


def _first_activity(history: list[HistoryEvent]) -> HistoryEvent:
    return next(e for e in history if e.type is EventType.ACTIVITY_STARTED)


def _sleep(history: list[HistoryEvent]) -> HistoryEvent:
    return next(e for e in history if e.type is EventType.TIMER_STARTED and not e.signal_name)


def _third_call(history: list[HistoryEvent]) -> HistoryEvent:
    """The signal wait, or (when the signal was there first and no wait was recorded) ``b``."""
    return next(e for e in history if e.position == ".0#3")


CHANGES: dict[str, tuple[Any, Callable[[list[HistoryEvent]], HistoryEvent], str]] = {
    "renamed activity": (renamed, _first_activity, "activity 'first'"),
    "changed input": (changed_input, _first_activity, 'with input "A"'),
    "reordered activities": (reordered, _first_activity, "activity 'b'"),
    "removed activity": (removed, _first_activity, "a timer of 0.01s"),
    "activity added in the middle": (added_in_the_middle, _third_call, "activity 'x'"),
    "changed timer": (changed_timer, _sleep, "a timer of 0.02s"),
    "changed signal name": (changed_signal_name, _third_call, "a wait for signal 'start'"),
}


class BlockedHook:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    @hookimpl
    def beluga_workflow_on_workflow_blocked(self, workflow_id: str, event_id: int | None) -> None:
        self.calls.append((workflow_id, event_id))


@pytest.mark.parametrize("signal_first", [False, True], ids=["wait-recorded", "signal-first"])
@pytest.mark.parametrize("change", list(CHANGES))
async def test_each_divergence_is_named_leaves_the_run_resumable_and_matching_code_heals_it(
    change: str, signal_first: bool
) -> None:
    global HOLD
    HOLD = Checkpoint()  # bound to this test's event loop
    changed, expected_event, asked_for = CHANGES[change]
    store = InMemoryStore()
    first = Executor(store, load_plugins=False)
    first.register(original, name="flow")
    await first.execute("flow", WorkflowOptions(id="run"))
    if not signal_first:

        async def waiting() -> bool:
            state = await store.load("run")
            return state is not None and state.history[-1].signal_name == "go"

        await eventually(waiting)
    await first.signal("run", Signal(name="go", payload="went"))
    await HOLD.reached.wait()
    await first.close()
    stopped = await store.load("run")
    assert stopped is not None
    event = expected_event(stopped.history)

    hook = BlockedHook()
    second = Executor(store, hooks=[hook], load_plugins=False)
    second.register(changed, name="flow")
    (handle,) = (await second.recover()).resumed
    with pytest.raises(NonDeterminismError) as caught:
        await handle.result()
    error = caught.value
    assert isinstance(error, HistoryDivergenceError)
    assert error.event_id == event.id
    assert f"at event {event.id} ({event.type.value})" in str(error)
    assert error.requested is not None
    assert asked_for in error.requested
    assert hook.calls == [("run", event.id)]
    state = await store.load("run")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING
    mark = blocked_mark(state)
    assert mark is not None
    assert mark["event_id"] == event.id
    assert HOLD.calls == ["c"]  # the changed code ran nothing
    await second.close()

    HOLD.released.set()
    async with Executor(store, load_plugins=False) as fixed:
        fixed.register(original, name="flow")
        (handle,) = (await fixed.recover()).resumed
        assert await handle.result() == ["A", "went", "B", "c"]
    state = await store.load("run")
    assert state is not None
    assert state.status is WorkflowStatus.COMPLETED
    assert blocked_mark(state) is None


async def test_a_run_that_returns_before_its_recorded_calls_is_blocked_naming_the_first() -> None:
    store = InMemoryStore()
    hold = Checkpoint()

    async def long(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(step, "a", name="a")
        await ctx.execute_activity(step, "b", name="b")
        await ctx.execute_activity(hold.activity, "c", name="c")

    async def short(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity(step, "a", name="a")
        return "early"

    first = Executor(store, load_plugins=False)
    first.register(long, name="flow")
    await first.execute("flow", WorkflowOptions(id="r"))
    await hold.reached.wait()
    await first.close()
    async with Executor(store, load_plugins=False) as second:
        second.register(short, name="flow")
        (handle,) = (await second.recover()).resumed
        with pytest.raises(HistoryDivergenceError, match="at event 4") as caught:
            await handle.result()
        assert caught.value.requested is None
    state = await store.load("r")
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING
