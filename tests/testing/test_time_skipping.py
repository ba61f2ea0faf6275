"""The time-skipping environment: timers, backoff, timeouts fire at once; now() follows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import InvalidArgumentError, WorkflowTimeoutError
from beluga_workflow.models import EventType
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.testing import WorkflowEnvironment

DAY = 24 * 3600.0


def test_a_day_of_sleep_and_an_hour_of_backoff_pass_without_waiting() -> None:
    attempts: list[int] = []

    def flaky(_: Any) -> str:  # a plain function: it runs on a thread, which time waits for
        attempts.append(len(attempts) + 1)
        time.sleep(0.01)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return "ok"

    async def slow(ctx: WorkflowContext, input: Any) -> dict[str, Any]:
        began = ctx.now()
        await ctx.sleep(DAY)
        slept = ctx.now()
        policy = RetryPolicy(max_attempts=3, initial_interval=1800, max_interval=3600, jitter=0)
        result = await ctx.execute_activity(flaky, None, retry=policy)
        with contextlib.suppress(TimeoutError):
            await ctx.wait_for_signal("never", timeout=7 * DAY)
        return {
            "result": result,
            "slept": (slept - began).total_seconds(),
            "total": (ctx.now() - began).total_seconds(),
        }

    async def scenario(env: WorkflowEnvironment) -> dict[str, Any]:
        handle = await env.executor.execute(slow, WorkflowOptions(id="slow"))
        outcome: dict[str, Any] = await handle.result()
        state = await env.store.load("slow")
        assert state is not None
        fired = [e for e in state.history if e.type is EventType.TIMER_FIRED]
        assert len(fired) == 2
        return outcome

    env = WorkflowEnvironment(workflows=[slow])
    began = time.monotonic()
    outcome = env.run(scenario)
    assert time.monotonic() - began < 30  # it did not wait a day (or an hour)
    assert outcome["result"] == "ok"
    assert attempts == [1, 2, 3]
    assert outcome["slept"] >= DAY
    # A day, two backoffs of 1800 s and 3600 s, and a week of waiting for a signal:
    assert outcome["total"] >= DAY + 1800 + 3600 + 7 * DAY
    assert env.skipped >= outcome["total"] - 5


def test_a_workflow_timeout_fires_on_the_skipping_clock() -> None:
    async def forever(ctx: WorkflowContext, input: Any) -> None:
        await ctx.sleep(10 * DAY)

    async def scenario(env: WorkflowEnvironment) -> None:
        options = WorkflowOptions(id="late", timeout=timedelta(hours=2))
        handle = await env.executor.execute(forever, options)
        with pytest.raises(WorkflowTimeoutError):
            await handle.result()
        assert timedelta(hours=2) <= env.now() - handle_started[0] < timedelta(days=1)

    handle_started: list[Any] = []
    env = WorkflowEnvironment(workflows=[forever])

    async def with_start(env: WorkflowEnvironment) -> None:
        handle_started.append(env.now())
        await scenario(env)

    env.run(with_start)


def test_the_clock_can_be_moved_by_hand(workflow_environment: WorkflowEnvironment) -> None:
    async def waits(ctx: WorkflowContext, input: Any) -> float:
        began = ctx.now()
        await ctx.sleep(3600)
        return (ctx.now() - began).total_seconds()

    async def scenario(env: WorkflowEnvironment) -> float:
        env.executor.register(waits)
        before = env.now()
        env.advance(600)
        assert env.now() - before >= timedelta(seconds=600)
        handle = await env.executor.execute(waits)
        await asyncio.sleep(0)
        result: float = await handle.result()
        with pytest.raises(InvalidArgumentError):
            env.advance(-1)
        return result

    assert workflow_environment.run(scenario) >= 3600
