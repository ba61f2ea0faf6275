"""Activities: recorded results, retries with every attempt in history, timeouts, payload checks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import (
    ActivityFailedError,
    ActivityTimeoutError,
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowFailedError,
)
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, HistoryEvent, WorkflowStatus
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retry import RetryPolicy

QUICK = RetryPolicy(max_attempts=3, initial_interval=0, jitter=0)


async def square(x: int) -> int:
    return x * x


def activity_events(history: list[HistoryEvent]) -> list[tuple[str, int | None]]:
    kinds = (EventType.ACTIVITY_STARTED, EventType.ACTIVITY_COMPLETED, EventType.ACTIVITY_FAILED)
    return [(e.type.value, e.attempt) for e in history if e.type in kinds]


async def test_each_activity_is_recorded_with_its_input_and_result(
    executor: Executor, store: InMemoryStore
) -> None:
    async def workflow(ctx: WorkflowContext, input: list[int]) -> list[int]:
        return [await ctx.execute_activity(square, x) for x in input]

    handle = await executor.execute(workflow, WorkflowOptions(id="squares", input=[2, 3]))
    assert await handle.result() == [4, 9]

    state = await store.load("squares")
    assert state is not None
    steps = [(e.type, e.activity_name, e.input, e.result) for e in state.history[1:-1]]
    assert steps == [
        (EventType.ACTIVITY_STARTED, "square", 2, None),
        (EventType.ACTIVITY_COMPLETED, "square", None, 4),
        (EventType.ACTIVITY_STARTED, "square", 3, None),
        (EventType.ACTIVITY_COMPLETED, "square", None, 9),
    ]
    assert [e.id for e in state.history] == list(range(1, len(state.history) + 1))


async def test_failed_attempts_are_retried_and_each_is_in_history(
    executor: Executor, store: InMemoryStore
) -> None:
    attempts = []

    async def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ConnectionError(f"try {len(attempts)} failed")
        return x + 1

    async def workflow(ctx: WorkflowContext, input: int) -> int:
        result: int = await ctx.execute_activity(flaky, input, retry=QUICK)
        return result

    assert await (await executor.execute(workflow, WorkflowOptions(id="r", input=1))).result() == 2
    state = await store.load("r")
    assert state is not None
    assert activity_events(state.history) == [
        ("activity_started", 1),
        ("activity_failed", 1),
        ("activity_started", 2),
        ("activity_failed", 2),
        ("activity_started", 3),
        ("activity_completed", 3),
    ]
    failures = [e for e in state.history if e.type is EventType.ACTIVITY_FAILED]
    assert [e.error for e in failures] == [
        "ConnectionError: try 1 failed",
        "ConnectionError: try 2 failed",
    ]
    assert all(e.fire_at is not None for e in failures)  # a retry was scheduled after each


async def test_an_activity_that_keeps_failing_fails_the_workflow_after_max_attempts(
    executor: Executor, store: InMemoryStore
) -> None:
    async def broken(_: Any) -> None:
        raise ValueError("always")

    async def workflow(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(broken, None, retry=QUICK)

    handle = await executor.execute(workflow, WorkflowOptions(id="broken"))
    with pytest.raises(WorkflowFailedError, match="failed after 3 attempt") as caught:
        await handle.result()
    assert isinstance(caught.value.__cause__, ActivityFailedError)
    state = await store.load("broken")
    assert state is not None
    assert state.status is WorkflowStatus.FAILED
    last_failure = [e for e in state.history if e.type is EventType.ACTIVITY_FAILED][-1]
    assert last_failure.attempt == 3
    assert last_failure.fire_at is None  # no further attempt


@pytest.mark.parametrize("kind", ["KeyError", KeyError, "LookupError", "builtins.KeyError"])
async def test_non_retryable_errors_fail_at_the_first_attempt(
    executor: Executor, store: InMemoryStore, kind: Any
) -> None:
    async def missing(_: Any) -> None:
        raise KeyError("nope")

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        policy = RetryPolicy(max_attempts=5, initial_interval=0, non_retryable_error_types=[kind])
        try:
            await ctx.execute_activity(missing, None, retry=policy)
        except ActivityFailedError as exc:
            return str(exc)
        return "no error"

    result = await (await executor.execute(workflow, WorkflowOptions(id="nr"))).result()
    assert "after 1 attempt" in result
    state = await store.load("nr")
    assert state is not None
    assert activity_events(state.history) == [("activity_started", 1), ("activity_failed", 1)]


async def test_an_attempt_that_exceeds_its_timeout_is_cancelled_and_reported(
    executor: Executor, store: InMemoryStore
) -> None:
    cancelled = []

    async def slow(_: Any) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        policy = RetryPolicy(max_attempts=2, initial_interval=0)
        try:
            await ctx.execute_activity(slow, None, timeout=0.05, retry=policy)
        except ActivityTimeoutError as exc:
            return str(exc)
        return "finished"

    result = await (await executor.execute(workflow, WorkflowOptions(id="slow"))).result()
    assert "timed out on attempt 2" in result
    assert cancelled == [True, True]
    state = await store.load("slow")
    assert state is not None
    failures = [e for e in state.history if e.type is EventType.ACTIVITY_FAILED]
    assert [e.attempt for e in failures] == [1, 2]
    assert all(e.error and e.error.startswith("ActivityTimeoutError:") for e in failures)


async def test_plain_functions_run_as_activities_in_a_worker_thread(executor: Executor) -> None:
    def blocking(_: Any) -> bool:
        return threading.current_thread() is not threading.main_thread()

    async def workflow(ctx: WorkflowContext, input: Any) -> Any:
        return await ctx.execute_activity(blocking)

    assert await (await executor.execute(workflow)).result() is True


async def test_an_activity_input_that_is_not_json_is_refused_at_the_call(
    executor: Executor, store: InMemoryStore
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity(square, {1, 2})
        except PayloadSerializationError as exc:
            return str(exc)
        return "accepted"

    result = await (await executor.execute(workflow, WorkflowOptions(id="bad-in"))).result()
    assert "activity input" in result
    state = await store.load("bad-in")
    assert state is not None
    assert activity_events(state.history) == []


@pytest.mark.parametrize("name", ["", 7, b"square"])
async def test_an_activity_name_that_is_not_a_non_empty_str_is_refused_at_the_call(
    executor: Executor, store: InMemoryStore, name: Any
) -> None:
    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity(square, 2, name=name)
        except InvalidArgumentError as exc:
            return str(exc)
        return "accepted"

    result = await (await executor.execute(workflow, WorkflowOptions(id="bad-name"))).result()
    assert "activity name must be a non-empty str" in result
    state = await store.load("bad-name")
    assert state is not None
    assert activity_events(state.history) == []


async def test_an_activity_result_that_is_not_json_fails_the_activity_without_storing_it(
    executor: Executor, store: InMemoryStore
) -> None:
    calls = []

    async def returns_nan(_: Any) -> float:
        calls.append(1)
        return float("nan")

    async def workflow(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity(returns_nan, None, retry=QUICK)
        except ActivityFailedError as exc:
            return f"{type(exc.__cause__).__name__} / {exc}"
        return "accepted"

    result = await (await executor.execute(workflow, WorkflowOptions(id="bad-out"))).result()
    assert result.startswith("PayloadSerializationError / ")
    assert "result of activity" in result
    assert calls == [1]  # a result that cannot be stored is not retried
    state = await store.load("bad-out")
    assert state is not None
    assert all(
        e.result is None for e in state.history if e.type is not EventType.WORKFLOW_COMPLETED
    )


async def test_activities_started_together_all_run_and_are_recorded(
    executor: Executor, store: InMemoryStore
) -> None:
    async def workflow(ctx: WorkflowContext, input: list[int]) -> list[int]:
        return list(await asyncio.gather(*(ctx.execute_activity(square, x) for x in input)))

    handle = await executor.execute(workflow, WorkflowOptions(id="fan", input=list(range(10))))
    assert await handle.result() == [x * x for x in range(10)]
    state = await store.load("fan")
    assert state is not None
    completed = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert sorted(completed) == [x * x for x in range(10)]


async def test_every_step_is_one_conditional_append_of_its_new_events() -> None:
    writes: list[tuple[str, int]] = []

    class CountingStore(InMemoryStore):
        async def save(self, state: Any) -> None:
            writes.append(("save", len(state.history)))
            await super().save(state)

        async def append(self, state: Any, new_events: int) -> None:
            writes.append(("append", new_events))
            await super().append(state, new_events)

        async def compare_and_save(self, state: Any, expected_version: int) -> int:
            writes.append(("compare_and_save", len(state.history)))
            return await super().compare_and_save(state, expected_version)

        async def compare_and_append(self, state: Any, new_events: int, expected: int) -> int:
            writes.append(("compare_and_append", new_events))
            return await super().compare_and_append(state, new_events, expected)

    async def workflow(ctx: WorkflowContext, input: int) -> int:
        for x in range(input):
            await ctx.execute_activity(square, x)
        return input

    async with Executor(CountingStore(), load_plugins=False) as executor:
        assert await (await executor.execute(workflow, WorkflowOptions(input=50))).result() == 50
    assert writes[0] == ("compare_and_save", 1)  # the start
    steps = [("compare_and_append", 2)] * 50
    assert writes[1:] == [*steps, ("compare_and_append", 1)]  # steps, then the end
