"""Values no store could write or read back are refused where they enter, never retried.

A result with a lone surrogate, or nested past ``MAX_PAYLOAD_DEPTH``, fails its
activity once (recorded, so recovery does not run the activity again); a bad
workflow result fails the workflow; bad inputs and signal payloads are refused
by the call. One unreadable record does not stop ``recover()`` for the others.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import CorruptStateError, Signal
from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import (
    ActivityFailedError,
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowFailedError,
)
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.payloads import MAX_PAYLOAD_DEPTH
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy
from beluga_workflow_contract_tests.poison import poison_in_memory
from tests.executor.conftest import eventually

RETRY = RetryPolicy(max_attempts=3, initial_interval=0, jitter=0)
STORE_RETRY = RetryPolicy(max_attempts=2, initial_interval=0, jitter=0)
"""Keeps a test quick even when a write is (wrongly) retried as a store outage."""


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


UNSTORABLE = {
    "lone surrogate": "\ud800",
    "surrogate in a key": {"key \udc80": 1},
    "too deep": nested(MAX_PAYLOAD_DEPTH + 1),
}


async def failures_stored(store: InMemoryStore, workflow_id: str) -> bool:
    state = await store.load(workflow_id)
    return state is not None and any(e.type is EventType.ACTIVITY_FAILED for e in state.history)


def executor_on(store: InMemoryStore, *workflows: Any) -> Executor:
    return Executor(store, workflows=workflows, load_plugins=False, store_retry=STORE_RETRY)


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_an_activity_result_no_store_can_keep_fails_once_and_is_not_rerun(
    store: InMemoryStore, value: Any
) -> None:
    calls: list[int] = []

    async def side_effect(_: Any) -> Any:
        calls.append(1)
        return value

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity(side_effect, retry=RETRY, name="side_effect")
        except ActivityFailedError as exc:
            failure = str(exc)
        else:
            failure = "accepted"
        await ctx.wait_for_signal("finish")
        return failure

    first = executor_on(store, workflow)
    await first.execute(workflow, WorkflowOptions(id="unstorable"))
    await eventually(lambda: failures_stored(store, "unstorable"))
    await first.close()
    assert calls == [1]  # not retried, although its policy allows three attempts

    async with executor_on(store, workflow) as second:
        (handle,) = (await second.recover()).resumed
        await second.signal("unstorable", Signal(name="finish"))
        failure = await handle.result()
    assert "after 1 attempt(s): PayloadSerializationError: " in failure
    assert "result of activity 'side_effect'" in failure
    assert calls == [1]  # recovery replayed the recorded failure
    state = await store.load("unstorable")
    assert state is not None
    assert state.status is WorkflowStatus.COMPLETED
    assert [e.attempt for e in state.history if e.type is EventType.ACTIVITY_FAILED] == [1]


async def test_an_activity_error_message_with_a_lone_surrogate_is_stored_escaped(
    store: InMemoryStore,
) -> None:
    async def fails(_: Any) -> None:
        raise ValueError("bad byte \udcff here")

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity(fails)
        except ActivityFailedError as exc:
            return str(exc)
        return "accepted"

    async with executor_on(store) as executor:
        message = await (await executor.execute(workflow, WorkflowOptions(id="msg"))).result()
    assert "ValueError: bad byte \\udcff here" in message
    state = await store.load("msg")
    assert state is not None
    assert state.status is WorkflowStatus.COMPLETED


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_a_workflow_result_no_store_can_keep_fails_the_workflow(
    store: InMemoryStore, value: Any
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> Any:
        return value

    async with executor_on(store) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="bad-result"))
        with pytest.raises(WorkflowFailedError, match="workflow result"):
            await handle.result()
    state = await store.load("bad-result")
    assert state is not None
    assert state.status is WorkflowStatus.FAILED
    assert state.result is None


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_a_workflow_input_no_store_can_keep_is_refused_by_execute(
    store: InMemoryStore, value: Any
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        return None

    async with executor_on(store) as executor:
        with pytest.raises(PayloadSerializationError, match="workflow input"):
            await executor.execute(workflow, WorkflowOptions(id="bad-input", input=value))
    assert await store.list() == []


@pytest.mark.parametrize("workflow_id", ["nul\x00inside", "lone \ud800"])
async def test_an_id_no_store_can_keep_is_refused_by_execute(
    store: InMemoryStore, workflow_id: str
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        return None

    async with executor_on(store) as executor:
        with pytest.raises(InvalidArgumentError, match="workflow_id must"):
            await executor.execute(workflow, WorkflowOptions(id=workflow_id))
    assert await store.list() == []


async def collect(ctx: WorkflowContext, input: Any) -> list[Any]:
    items = []
    while (item := await ctx.wait_for_signal("item")) != "stop":
        items.append(item)
    return items


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_a_signal_payload_no_store_can_keep_is_refused_at_the_call(
    store: InMemoryStore, value: Any
) -> None:
    running = executor_on(store, collect)
    handle = await running.execute(collect, WorkflowOptions(id="here"))
    await running.execute(collect, WorkflowOptions(id="elsewhere"))
    async with executor_on(store) as bystander:  # "elsewhere" is only stored for this one
        before = {s.workflow_id: s.history for s in await store.list()}
        with pytest.raises(PayloadSerializationError, match="payload of signal 'item'"):
            await running.signal("here", Signal(name="item", payload=value))
        with pytest.raises(PayloadSerializationError, match="payload of signal 'item'"):
            await bystander.signal("elsewhere", Signal(name="item", payload=value))
        assert {s.workflow_id: s.history for s in await store.list()} == before
    await running.signal("here", Signal(name="item", payload="stop"))
    assert await handle.result() == []
    await running.close()


async def test_recover_resumes_the_others_and_reports_an_unreadable_record_by_id(
    store: InMemoryStore,
) -> None:
    first = executor_on(store, collect)
    for workflow_id in ("a", "b"):
        await first.execute(collect, WorkflowOptions(id=workflow_id))
    await first.close()  # both stay running in the store
    poison_in_memory(store, "damaged")

    async with executor_on(store, collect) as second:
        report = await second.recover()
        assert sorted(handle.id for handle in report.resumed) == ["a", "b"]
        assert list(report.not_resumed) == ["damaged"]
        assert isinstance(report.not_resumed["damaged"], CorruptStateError)
        for handle in report.resumed:
            await second.signal(handle.id, Signal(name="item", payload="stop"))
            assert await handle.result() == []
    with pytest.raises(CorruptStateError, match="'damaged'"):
        await store.load("damaged")


async def test_recover_on_sqlite_skips_a_record_an_older_release_could_store(
    tmp_path: Path,
) -> None:
    """A payload nested 250 levels deep was accepted once, and no JSON decoder reads it back."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Executor(url, workflows=[collect], load_plugins=False) as first:
        for workflow_id in ("fine", "deep"):
            await first.execute(collect, WorkflowOptions(id=workflow_id))
    with contextlib.closing(sqlite3.connect(tmp_path / "runs.db")) as db, db:
        head = db.execute("SELECT head FROM workflows WHERE workflow_id = 'deep'").fetchone()[0]
        deep = head.replace('"input":null', '"input":' + "[" * 250 + "]" * 250, 1)
        assert deep != head
        db.execute("UPDATE workflows SET head = ? WHERE workflow_id = 'deep'", (deep,))

    async with Executor(url, workflows=[collect], load_plugins=False) as second:
        report = await second.recover()
        assert [handle.id for handle in report.resumed] == ["fine"]
        assert list(report.not_resumed) == ["deep"]
        assert isinstance(report.not_resumed["deep"], CorruptStateError)
        await second.signal("fine", Signal(name="item", payload="stop"))
        assert await report.resumed[0].result() == []


async def test_names_no_store_can_keep_are_refused_by_the_call_not_by_the_store(
    store: InMemoryStore,
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> list[str]:
        refused = []
        for call in (
            lambda: ctx.execute_activity(collect, name="lone \ud800"),
            lambda: ctx.wait_for_signal("lone \udfff"),
        ):
            try:
                await call()
            except InvalidArgumentError as exc:
                refused.append(str(exc).split(" must ")[0])
        await ctx.wait_for_signal("finish")
        return refused

    async with executor_on(store) as executor:
        with pytest.raises(InvalidArgumentError, match="workflow name must be encodable"):
            executor.register(workflow, name="lone \ud800")
        handle = await executor.execute(workflow, WorkflowOptions(id="names"))
        with pytest.raises(InvalidArgumentError, match="signal name must be encodable"):
            await executor.signal("names", Signal.model_construct(name="lone \ud800"))
        await executor.signal("names", Signal(name="finish"))
        assert await handle.result() == ["activity name", "signal name"]
