"""In-memory executor overhead: a durable step against a plain awaited call."""

from __future__ import annotations

import time

from beluga_workflow import Executor, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from benchmarks.harness import Report, Row, measure
from benchmarks.workflows import sequential_steps, small_step

__all__ = ["run_overhead"]


async def run_overhead(report: Report, quick: bool) -> None:
    steps, repeats = (200, 1) if quick else (1_000, 5)

    async def ours() -> float:
        async with Executor(store=InMemoryStore(), load_plugins=False) as executor:
            started = time.perf_counter()
            handle = await executor.execute(sequential_steps, WorkflowOptions(input=steps))
            await handle.result()
            return (time.perf_counter() - started) / steps * 1e6

    async def plain() -> float:
        started = time.perf_counter()
        for i in range(steps):
            await small_step(i)
        return (time.perf_counter() - started) / steps * 1e6

    mine, theirs, ratio = await measure(ours, plain, repeats, "µs/step")
    report.add(
        Row(
            "7. In-memory executor overhead",
            f"{steps:,}-step workflow on InMemoryStore",
            mine,
            theirs,
            "plain async loop",
            ratio,
            note="ratio is ours/plain per step: the cost of recording a durable step in memory",
        )
    )
