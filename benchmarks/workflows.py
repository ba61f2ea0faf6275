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
