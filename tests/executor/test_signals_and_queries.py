"""Signals (kept until asked for, each delivered once, durable) and queries."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import (
    InvalidArgumentError,
    PayloadSerializationError,
    UnknownQueryError,
    WorkflowError,
    WorkflowNotFoundError,
)
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, HistoryEvent, Signal, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint, eventually


async def collect_until_stop(ctx: WorkflowContext, input: Any) -> list[Any]:
    items: list[Any] = []
    async for item in ctx.signals("item"):
        if item == "stop":
            return items
        items.append(item)
    return items


def signal_events(history: list[HistoryEvent]) -> list[Any]:
    return [e.signal_payload for e in history if e.type is EventType.SIGNAL_RECEIVED]


async def test_signals_sent_before_and_while_waiting_arrive_once_each_in_order(
    executor: Executor, store: InMemoryStore
) -> None:
    hold = Checkpoint()

    async def workflow(ctx: WorkflowContext, input: Any) -> list[Any]:
        await ctx.execute_activity(hold.activity, None)  # signals arrive before it waits
        return await collect_until_stop(ctx, input)

    handle = await executor.execute(workflow, WorkflowOptions(id="s"))
    await hold.reached.wait()
    await executor.signal("s", Signal(name="item", payload={"n": 1}))
    await executor.signal("s", Signal(name="other", payload="ignored"))
    hold.released.set()
    await executor.signal("s", Signal(name="item", payload=[2]))
    await executor.signal("s", Signal(name="stop", payload=None))  # a different name: kept
    await executor.signal("s", Signal(name="item", payload="stop"))

    assert await handle.result() == [{"n": 1}, [2]]
    state = await store.load("s")
    assert state is not None
    assert signal_events(state.history) == [{"n": 1}, "ignored", [2], None, "stop"]


async def test_waiting_for_a_signal_can_time_out(executor: Executor, store: InMemoryStore) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.wait_for_signal("never", timeout=0.01)
        except TimeoutError as exc:
            return str(exc)
        return "received"

    result = await (await executor.execute(workflow, WorkflowOptions(id="t"))).result()
    assert "no signal 'never' arrived within 0.01s" in result
    state = await store.load("t")
    assert state is not None
    timer_events = [(e.type, e.signal_name) for e in state.history[1:-1]]
    assert timer_events == [
        (EventType.TIMER_STARTED, "never"),
        (EventType.TIMER_FIRED, "never"),
    ]


async def test_a_signal_within_the_timeout_is_returned(executor: Executor) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> Any:
        return await ctx.wait_for_signal("go", timeout=30)

    async def waiting() -> bool:
        history = await executor.query("w", "history")
        return bool(history[-1].type is EventType.TIMER_STARTED)

    handle = await executor.execute(workflow, WorkflowOptions(id="w"))
    await eventually(waiting)  # the wait has started its timer
    await executor.signal("w", Signal(name="go", payload=42))
    assert await handle.result() == 42


async def test_a_signal_to_a_stopped_workflow_is_stored_and_delivered_on_recovery(
    store: InMemoryStore,
) -> None:
    first = Executor(store, workflows=[collect_until_stop], load_plugins=False)
    await first.execute(collect_until_stop, WorkflowOptions(id="stopped"))
    await first.signal("stopped", Signal(name="item", payload="before"))
    await first.close()

    async with Executor(store, load_plugins=False) as bystander:  # does not run it
        await bystander.signal("stopped", Signal(name="item", payload="while stopped"))
        await bystander.signal("stopped", Signal(name="item", payload="stop"))
    state = await store.load("stopped")
    assert state is not None
    assert signal_events(state.history) == ["before", "while stopped", "stop"]

    async with Executor(store, workflows=[collect_until_stop], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        assert await handle.result() == ["before", "while stopped"]


async def test_signals_are_refused_for_unknown_finished_or_bad_input(
    executor: Executor, store: InMemoryStore
) -> None:
    async def quick(ctx: WorkflowContext, input: Any) -> str:
        return "done"

    await (await executor.execute(quick, WorkflowOptions(id="done"))).result()
    with pytest.raises(WorkflowNotFoundError):
        await executor.signal("missing", Signal(name="x"))
    with pytest.raises(WorkflowError, match="completed"):
        await executor.signal("done", Signal(name="x"))

    handle = await executor.execute(collect_until_stop, WorkflowOptions(id="live"))
    before = await store.load("live")
    with pytest.raises(PayloadSerializationError, match="payload of signal 'item'"):
        await executor.signal("live", Signal(name="item", payload=object()))
    with pytest.raises(InvalidArgumentError):
        await executor.signal("live", "item")  # type: ignore[arg-type]
    after = await store.load("live")
    assert before is not None
    assert after is not None
    assert after.history == before.history  # nothing stored
    await executor.signal("live", Signal(name="item", payload="stop"))
    assert await handle.result() == []


async def test_queries_answer_status_result_history_and_workflow_handlers(
    executor: Executor,
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> int:
        progress = {"count": 0}
        ctx.set_query_handler("progress", lambda: progress["count"])
        async for _ in ctx.signals("tick"):
            progress["count"] += 1
            if progress["count"] == 2:
                return progress["count"]
        return -1

    handle = await executor.execute(workflow, WorkflowOptions(id="q"))
    await executor.signal("q", Signal(name="tick"))

    async def progressed() -> bool:
        with contextlib.suppress(UnknownQueryError):
            return bool(await executor.query("q", "progress") == 1)
        return False

    await eventually(progressed)
    assert await executor.query("q", "status") is WorkflowStatus.RUNNING
    with pytest.raises(UnknownQueryError, match="no query 'nope'"):
        await executor.query("q", "nope")

    await executor.signal("q", Signal(name="tick"))
    assert await handle.result() == 2
    assert await executor.query("q", "status") is WorkflowStatus.COMPLETED
    assert await executor.query("q", "result") == 2
    history = await executor.query("q", "history")
    assert history[0].type is EventType.WORKFLOW_STARTED
    assert history[-1].type is EventType.WORKFLOW_COMPLETED
    with pytest.raises(UnknownQueryError, match="not running in this executor"):
        await executor.query("q", "progress")
    with pytest.raises(WorkflowNotFoundError):
        await executor.query("missing", "status")


async def test_built_in_query_names_cannot_be_taken_by_a_workflow(executor: Executor) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            ctx.set_query_handler("status", lambda: "mine")
        except InvalidArgumentError as exc:
            return str(exc)
        return "taken"

    assert "answered by the executor" in await (await executor.execute(workflow)).result()


async def test_a_wait_with_timeout_resumes_on_its_stored_timer(store: InMemoryStore) -> None:
    async def approval(ctx: WorkflowContext, input: Any) -> Any:
        return await ctx.wait_for_signal("approve", timeout=30)

    first = Executor(store, workflows=[approval], load_plugins=False)
    await first.execute(approval, WorkflowOptions(id="a"))

    async def timer_stored() -> bool:
        state = await store.load("a")
        return state is not None and state.history[-1].type is EventType.TIMER_STARTED

    await eventually(timer_stored)
    await first.close()

    async with Executor(store, workflows=[approval], load_plugins=False) as second:
        (handle,) = (await second.recover()).resumed
        await second.signal("a", Signal(name="approve", payload="yes"))
        assert await handle.result() == "yes"
    state = await store.load("a")
    assert state is not None
    kinds = [e.type for e in state.history]
    assert kinds.count(EventType.TIMER_STARTED) == 1  # the stored timer was reused
    assert EventType.TIMER_FIRED not in kinds


async def test_a_handle_from_another_executor_waits_for_the_stored_result(
    store: InMemoryStore,
) -> None:
    async with (
        Executor(store, load_plugins=False) as runner,
        Executor(store, load_plugins=False, poll_interval=0.01) as watcher,
    ):
        await runner.execute(collect_until_stop, WorkflowOptions(id="elsewhere"))
        handle = await watcher.get_handle("elsewhere")
        assert handle.status is WorkflowStatus.RUNNING
        await runner.signal("elsewhere", Signal(name="item", payload="stop"))
        assert await handle.result() == []
        assert handle.status.is_terminal  # the handle saw the stored status change
        assert await watcher.query("elsewhere", "status") is WorkflowStatus.COMPLETED
        with pytest.raises(WorkflowNotFoundError):
            await watcher.get_handle("nobody")
