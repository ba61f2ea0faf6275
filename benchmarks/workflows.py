"""The workloads, written once for beluga-workflow (and in dbos_peer.py for DBOS)."""

from __future__ import annotations

import time
from typing import Any

from beluga_workflow import WorkflowContext

STEP_TIMES: list[float] = []
"""When each ``timed_step`` ran (perf_counter), for the growth-with-history benchmark."""


async def small_step(i: int) -> dict[str, Any]:
    return {"step": i, "ok": True}


async def sequential_steps(ctx: WorkflowContext, steps: int) -> int:
    for i in range(steps):
        await ctx.execute_activity(small_step, i)
    return steps


async def timed_step(i: int) -> dict[str, Any]:
    STEP_TIMES.append(time.perf_counter())
    return {"step": i}


async def timed_steps(ctx: WorkflowContext, steps: int) -> int:
    for i in range(steps):
        await ctx.execute_activity(timed_step, i)
    return steps


async def waits(ctx: WorkflowContext, seconds: float) -> None:
    """A run that writes nothing for ``seconds``: it holds its lease by renewals alone."""
    await ctx.sleep(seconds)


def registered_name(fn: Any) -> str:
    """The name a worker registers ``fn`` under by default, and clients submit it by."""
    return f"{fn.__module__}:{fn.__qualname__}"


def mark(what: str, n: Any) -> None:
    """Tell the benchmark, on stdout, that ``what`` happened to sample ``n`` now (monotonic)."""
    print(f"{what} {n} {time.monotonic()!r}", flush=True)


async def echo_signals(ctx: WorkflowContext, count: int) -> int:
    """Marks each ``ping`` signal as the workflow receives it: signal-to-workflow latency."""
    for _ in range(count):
        n = await ctx.wait_for_signal("ping")
        if not ctx.is_replaying:
            mark("signal", n)
    return count


async def marked_activity(n: int) -> int:
    mark("activity", n)
    return n


async def first_activity(ctx: WorkflowContext, n: int) -> int:
    """Runs one activity that marks when it starts: start-to-first-activity latency."""
    return int(await ctx.execute_activity(marked_activity, n))


async def ends_on_signal(ctx: WorkflowContext, n: int) -> int:
    """Marks that it waits, then, on ``finish``, marks its end and returns: result() wake-up."""
    mark("waiting", n)
    await ctx.wait_for_signal("finish")
    mark("end", n)
    return n


LATENCY_WORKFLOWS = [echo_signals, first_activity, ends_on_signal]
