"""Step interceptors: entered around every step, in its task, carrying headers; never harmful."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.executor import Executor
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.interceptors import HEADERS_KEY, Step, StepInterceptor, StepKind
from beluga_workflow.models import Signal, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy

current_step: contextvars.ContextVar[str | None] = contextvars.ContextVar("step", default=None)


class Tracer:
    """Records each step entered and left, with the step that was current around it."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []

    @contextlib.contextmanager
    def intercept(self, step: Step) -> Iterator[None]:
        parent = current_step.get()
        if step.kind is StepKind.START:
            step.headers["trace"] = f"trace-of-{step.workflow_id}"  # type: ignore[index]
        token = current_step.set(f"{step.kind}:{step.name}")
        self.log.append(("enter", step.kind, step.name, str(step.attempt), str(parent)))
        try:
            yield
        except BaseException as error:
            self.log.append(("error", step.kind, type(error).__name__))
            raise
        finally:
            current_step.reset(token)
            self.log.append(("exit", step.kind, step.name, step.headers.get("trace", "")))

    @hookimpl
    def beluga_workflow_step_interceptors(self) -> list[StepInterceptor]:
        return [self.intercept]


flaky_calls: list[int] = []


async def flaky(x: int) -> int:
    flaky_calls.append(x)
    if len(flaky_calls) == 1:
        raise ValueError("first attempt fails")
    return x * 2


async def inside(_: Any) -> str | None:
    return current_step.get()


async def workflow(ctx: WorkflowContext, x: int) -> list[Any]:
    doubled = await ctx.execute_activity(
        flaky, x, retry=RetryPolicy(max_attempts=2, initial_interval=0.01)
    )
    await ctx.sleep(0.01)
    seen = await ctx.execute_activity(inside, None)
    payload = await ctx.wait_for_signal("go")
    return [doubled, seen, payload]


async def test_every_step_is_wrapped_in_its_task_and_headers_travel_with_the_run() -> None:
    flaky_calls.clear()
    tracer = Tracer()
    store = InMemoryStore()
    async with Executor(store, hooks=[tracer], load_plugins=False) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="wf", input=3))
        stored = await store.load("wf")
        assert stored is not None
        assert stored.metadata[HEADERS_KEY] == {"trace": "trace-of-wf"}
        while ("exit", StepKind.TIMER, "sleep", "trace-of-wf") not in tracer.log:
            await handle_poll()
        await executor.signal("wf", Signal(name="go", payload="p"))
        result = await handle.result()
    # The activity ran while the workflow step was current, and saw the activity's own step.
    assert result == [6, "activity:inside", "p"]
    entered = [entry for entry in tracer.log if entry[0] == "enter"]
    name = "tests.executor.test_interceptors:workflow"
    assert ("enter", StepKind.START, name, "None", "None") in entered
    assert ("enter", StepKind.ACTIVITY, "flaky", "1", f"workflow:{name}") in entered
    assert ("enter", StepKind.ACTIVITY, "flaky", "2", f"workflow:{name}") in entered
    assert ("enter", StepKind.TIMER, "sleep", "None", f"workflow:{name}") in entered
    assert ("enter", StepKind.SIGNAL, "go", "None", "None") in entered
    assert ("error", StepKind.ACTIVITY, "ValueError") in tracer.log
    # Every step, in this process, saw the headers stored when the run started.
    exits = [entry for entry in tracer.log if entry[0] == "exit"]
    assert exits
    assert all(entry[3] == "trace-of-wf" for entry in exits)
    assert exits[-1][1] is StepKind.WORKFLOW


async def handle_poll() -> None:
    await asyncio.sleep(0.005)


class Broken:
    """Interceptors that raise entering, raise leaving, or swallow the step's error."""

    @hookimpl
    def beluga_workflow_step_interceptors(self) -> list[StepInterceptor]:
        def raising_enter(step: Step) -> contextlib.AbstractContextManager[None]:
            raise RuntimeError("enter exploded")

        @contextlib.asynccontextmanager
        async def raising_exit(step: Step) -> AsyncIterator[None]:
            yield
            raise RuntimeError("exit exploded")

        class Swallowing:
            def __enter__(self) -> None:
                return None

            def __exit__(self, *exc: object) -> bool:
                return True  # tries to hide the step's error

        return [raising_enter, raising_exit, lambda step: Swallowing()]


async def always_fails(_: Any) -> None:
    raise ValueError("the activity's own error")


async def fails(ctx: WorkflowContext, _: Any) -> None:
    await ctx.execute_activity(always_fails, None)


async def succeeds(ctx: WorkflowContext, x: int) -> int:
    return int(await ctx.execute_activity(flaky_free, x))


async def flaky_free(x: int) -> int:
    return x + 1


async def test_a_broken_interceptor_changes_no_outcome(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="beluga_workflow.interceptors")
    async with Executor(InMemoryStore(), hooks=[Broken()], load_plugins=False) as executor:
        ok = await executor.execute(succeeds, WorkflowOptions(id="ok", input=1))
        assert await ok.result() == 2
        bad = await executor.execute(fails, WorkflowOptions(id="bad"))
        with pytest.raises(Exception, match="the activity's own error"):
            await bad.result()
        assert bad.status is WorkflowStatus.FAILED
    assert "enter exploded" in caplog.text
    assert "exit exploded" in caplog.text


async def test_without_interceptors_nothing_is_added_to_the_run() -> None:
    store = InMemoryStore()
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(succeeds, WorkflowOptions(id="plain", input=1))
        assert await handle.result() == 2
    stored = await store.load("plain")
    assert stored is not None
    assert HEADERS_KEY not in stored.metadata


class Named:
    """An interceptor that notes entering and leaving under its name."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    @contextlib.asynccontextmanager
    async def intercept(self, step: Step) -> AsyncIterator[None]:
        if step.kind is StepKind.ACTIVITY:
            self.log.append(f"enter {self.name}")
        yield
        if step.kind is StepKind.ACTIVITY:
            self.log.append(f"exit {self.name}")

    @hookimpl
    def beluga_workflow_step_interceptors(self) -> list[StepInterceptor]:
        return [self.intercept]


async def test_the_first_hook_object_is_the_outermost_interceptor() -> None:
    log: list[str] = []
    hooks = [Named("outer", log), Named("inner", log)]
    async with Executor(InMemoryStore(), hooks=hooks, load_plugins=False) as executor:
        handle = await executor.execute(succeeds, WorkflowOptions(id="order", input=1))
        assert await handle.result() == 2
    assert log == ["enter outer", "enter inner", "exit inner", "exit outer"]
