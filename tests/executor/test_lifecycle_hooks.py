"""Lifecycle hooks: called for live events, from plugins and per-executor objects; never harmful."""

from __future__ import annotations

import logging
from typing import Any

import pluggy
import pytest

from beluga_workflow import hookspecs
from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.executor import Executor
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.lifecycle import HOOK_NAMES, Lifecycle
from beluga_workflow.models import Signal, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy
from tests.executor.conftest import Checkpoint


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @hookimpl
    def beluga_workflow_on_workflow_start(self, workflow_id: str, input: Any) -> None:
        self.calls.append(("workflow_start", workflow_id, input))

    @hookimpl
    def beluga_workflow_on_workflow_complete(self, workflow_id: str, result: Any) -> None:
        self.calls.append(("workflow_complete", workflow_id, result))

    @hookimpl
    def beluga_workflow_on_workflow_fail(self, error: str) -> None:
        self.calls.append(("workflow_fail", error))

    @hookimpl
    def beluga_workflow_on_workflow_cancel(self, workflow_id: str) -> None:
        self.calls.append(("workflow_cancel", workflow_id))

    @hookimpl
    def beluga_workflow_on_activity_start(self, activity_name: str, attempt: int) -> None:
        self.calls.append(("activity_start", activity_name, attempt))

    @hookimpl
    def beluga_workflow_on_activity_complete(self, activity_name: str, result: Any) -> None:
        self.calls.append(("activity_complete", activity_name, result))

    @hookimpl
    def beluga_workflow_on_activity_retry(self, attempt: int, error: str) -> None:
        self.calls.append(("activity_retry", attempt, error))

    @hookimpl
    def beluga_workflow_on_activity_fail(self, attempt: int) -> None:
        self.calls.append(("activity_fail", attempt))

    @hookimpl
    def beluga_workflow_on_signal(self, signal_name: str, payload: Any) -> None:
        self.calls.append(("signal", signal_name, payload))


def _raising_hooks() -> object:
    """An object implementing every lifecycle hook by raising."""

    class Raising:
        pass

    def boom(self: object) -> None:
        raise RuntimeError("hook exploded")

    for name in HOOK_NAMES:
        setattr(Raising, name, hookimpl(boom))
    return Raising()


async def add_one(x: int) -> int:
    return x + 1


async def test_hooks_see_the_workflow_activity_and_signal_events_in_order() -> None:
    recorder = Recorder()
    attempts = []

    async def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise OSError("once")
        return x

    async def workflow(ctx: WorkflowContext, input: int) -> int:
        first = await ctx.execute_activity(add_one, input)
        second = await ctx.execute_activity(flaky, first, retry=RetryPolicy(initial_interval=0))
        bonus = await ctx.wait_for_signal("bonus")
        return int(second) + int(bonus)

    async with Executor(InMemoryStore(), hooks=[recorder], load_plugins=False) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="h", input=1))
        await executor.signal("h", Signal(name="bonus", payload=10))
        assert await handle.result() == 12

    flaky_name = flaky.__qualname__
    assert ("signal", "bonus", 10) in recorder.calls  # sent while the workflow ran
    assert [call for call in recorder.calls if call[0] != "signal"] == [
        ("workflow_start", "h", 1),
        ("activity_start", "add_one", 1),
        ("activity_complete", "add_one", 2),
        ("activity_start", flaky_name, 1),
        ("activity_retry", 1, "OSError: once"),
        ("activity_start", flaky_name, 2),
        ("activity_complete", flaky_name, 2),
        ("workflow_complete", "h", 12),
    ]


async def test_failing_hooks_are_logged_and_never_break_a_workflow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()

    async def workflow(ctx: WorkflowContext, input: int) -> int:
        result: int = await ctx.execute_activity(add_one, input)
        return result

    caplog.set_level(logging.ERROR, logger="beluga_workflow.lifecycle")
    hooks = [_raising_hooks(), recorder]
    async with Executor(InMemoryStore(), hooks=hooks, load_plugins=False) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="b", input=1))
        assert await handle.result() == 2
        assert handle.status is WorkflowStatus.COMPLETED
    assert ("workflow_complete", "b", 2) in recorder.calls  # later hooks still ran
    messages = [record.getMessage() for record in caplog.records]
    assert any("beluga_workflow_on_activity_complete" in m and "raised" in m for m in messages)


async def test_failures_and_cancellations_reach_their_hooks() -> None:
    recorder = Recorder()
    hold = Checkpoint()

    async def broken(_: Any) -> None:
        raise ValueError("bad")

    async def failing(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(broken, None)

    async def waiting(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(hold.activity, None)

    async with Executor(InMemoryStore(), hooks=[recorder], load_plugins=False) as executor:
        with pytest.raises(Exception, match="bad"):
            await (await executor.execute(failing, WorkflowOptions(id="f"))).result()
        await executor.execute(waiting, WorkflowOptions(id="c"))
        await hold.reached.wait()
        await executor.cancel("c")

    assert ("activity_fail", 1) in recorder.calls
    assert any(
        call[0] == "workflow_fail" and "ValueError: bad" in call[1] for call in recorder.calls
    )
    assert ("workflow_cancel", "c") in recorder.calls


def test_installed_plugins_hooks_are_called_with_the_executors_own() -> None:
    plugin_calls = []

    class InstalledPlugin:
        @hookimpl
        def beluga_workflow_on_signal(self, signal_name: str) -> None:
            plugin_calls.append(("plugin", signal_name))

    class Local:
        @hookimpl
        def beluga_workflow_on_signal(self, signal_name: str) -> None:
            plugin_calls.append(("local", signal_name))

    installed = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    installed.add_hookspecs(hookspecs)
    installed.register(InstalledPlugin())
    lifecycle = Lifecycle([Local()], plugin_manager=installed)
    lifecycle.emit(
        "beluga_workflow_on_signal", workflow_id="w", run_id="r", signal_name="go", payload=None
    )
    assert plugin_calls == [("plugin", "go"), ("local", "go")]


def test_hook_objects_with_unknown_hook_names_are_refused() -> None:
    class Misspelled:
        @hookimpl
        def beluga_workflow_on_workflow_started(self) -> None: ...

    with pytest.raises(InvalidArgumentError, match="unknown lifecycle hook"):
        Executor(InMemoryStore(), hooks=[Misspelled()], load_plugins=False)
