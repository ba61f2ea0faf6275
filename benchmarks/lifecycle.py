"""``python -m benchmarks.lifecycle``: what the identity and lifecycle features cost.

* continue-as-new: one iteration of a loop that continues as new after each
  step, against one step of a run that loops in place (its history grows);
* heartbeats: one ``activity.heartbeat()`` call, against the same loop
  without it, and how many store writes 20,000 heartbeats cause;
* a duplicate start (the default id policy hands back the stored run),
  against a new start that runs a one-step workflow.

Each on the in-memory store and an SQLite file. ``--quick`` runs tiny sizes
(figures not meaningful); ``--output FILE`` writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from beluga_workflow import Executor, WorkflowContext, WorkflowOptions, activity
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.store import WorkflowStore
from benchmarks.harness import Report, Row, measure

SECTION = "Lifecycle"


def step(value: int) -> int:
    return value


async def continuing(ctx: WorkflowContext, state: list[int]) -> int:
    count, until = state
    if count >= until:
        return count
    await ctx.execute_activity(step, count)
    ctx.continue_as_new([count + 1, until])


async def looping(ctx: WorkflowContext, until: int) -> int:
    for count in range(until):
        await ctx.execute_activity(step, count)
    return until


async def beating(beats: int) -> int:
    for beat in range(beats):
        activity.heartbeat(beat)
        if beat % 100 == 0:
            await asyncio.sleep(0)
    return beats


async def quiet(beats: int) -> int:
    for beat in range(beats):
        if beat % 100 == 0:
            await asyncio.sleep(0)
    return beats


async def heartbeat_run(ctx: WorkflowContext, arguments: list[Any]) -> int:
    beats, loud = arguments
    return int(await ctx.execute_activity(beating if loud else quiet, beats, heartbeat_timeout=60))


class CountingStore(InMemoryStore):
    """Counts conditional writes (the executor's only writes on this store)."""

    writes = 0

    async def compare_and_append(self, state: Any, new_events: int, expected_version: int) -> int:
        CountingStore.writes += 1
        return await super().compare_and_append(state, new_events, expected_version)


def _stores(folder: Path) -> dict[str, Callable[[], WorkflowStore]]:
    from beluga_workflow_sqlite import SQLiteStore

    def sqlite() -> WorkflowStore:
        store: WorkflowStore = SQLiteStore(str(folder / f"{uuid.uuid4().hex}.db"))
        return store

    return {"in-memory": InMemoryStore, "SQLite": sqlite}


async def _timed_run(make: Callable[[], WorkflowStore], workflow: Any, input: Any) -> float:
    store = make()
    try:
        async with Executor(store, load_plugins=False) as executor:
            started = time.perf_counter()
            await (await executor.execute(workflow, WorkflowOptions(input=input))).result()
            return time.perf_counter() - started
    finally:
        await store.close()


async def run_lifecycle(report: Report, quick: bool, folder: Path) -> None:
    iterations, beats, starts, repeats = (20, 2_000, 10, 1) if quick else (500, 20_000, 200, 5)
    for label, make in _stores(folder).items():

        async def continued(make: Callable[[], WorkflowStore] = make) -> float:
            seconds = await _timed_run(make, continuing, [0, iterations])
            return seconds / iterations * 1e6

        async def in_place(make: Callable[[], WorkflowStore] = make) -> float:
            return await _timed_run(make, looping, iterations) / iterations * 1e6

        mine, theirs, ratio = await measure(continued, in_place, repeats, "µs/iteration")
        report.add(
            Row(
                SECTION,
                f"{iterations} iterations continued as new, {label}",
                mine,
                theirs,
                "steps of one run",
                ratio,
                note="ratio: one continued iteration / one step of a growing run",
            )
        )

        async def loud(make: Callable[[], WorkflowStore] = make) -> float:
            return await _timed_run(make, heartbeat_run, [beats, True]) / beats * 1e6

        async def silent(make: Callable[[], WorkflowStore] = make) -> float:
            return await _timed_run(make, heartbeat_run, [beats, False]) / beats * 1e6

        mine, theirs, ratio = await measure(loud, silent, repeats, "µs/heartbeat")
        report.add(
            Row(
                SECTION,
                f"{beats:,} heartbeats in one activity, {label}",
                mine,
                theirs,
                "same loop without heartbeats",
                ratio,
            )
        )

        async def duplicate(make: Callable[[], WorkflowStore] = make) -> float:
            store = make()
            try:
                async with Executor(store, load_plugins=False) as executor:
                    options = WorkflowOptions(id="again", input=[0, 0])
                    await (await executor.execute(continuing, options)).result()
                    started = time.perf_counter()
                    for _ in range(starts):
                        await executor.execute(continuing, options)
                    return (time.perf_counter() - started) / starts * 1e6
            finally:
                await store.close()

        async def fresh(make: Callable[[], WorkflowStore] = make) -> float:
            store = make()
            try:
                async with Executor(store, load_plugins=False) as executor:
                    started = time.perf_counter()
                    for _ in range(starts):
                        options = WorkflowOptions(input=[0, 1])
                        await (await executor.execute(continuing, options)).result()
                    return (time.perf_counter() - started) / starts * 1e6
            finally:
                await store.close()

        mine, theirs, ratio = await measure(duplicate, fresh, repeats, "µs/start")
        report.add(
            Row(
                SECTION,
                f"duplicate start of a completed id, {label}",
                mine,
                theirs,
                "a new one-step run",
                ratio,
            )
        )

    CountingStore.writes = 0
    async with Executor(CountingStore(), load_plugins=False) as executor:
        await (await executor.execute(heartbeat_run, WorkflowOptions(input=[beats, True]))).result()
    report.add(
        Row(
            SECTION,
            f"store writes of a run whose activity sends {beats:,} heartbeats",
            None,
            None,
            "",
            None,
            note=f"{CountingStore.writes} writes (start, outcome, end, heartbeats at most 1/s)",
        )
    )


async def main(args: argparse.Namespace) -> None:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="beluga-lifecycle-") as folder:
        await run_lifecycle(report, args.quick, Path(folder))
    if args.output is not None:
        rows = [asdict(row) for row in report.rows]
        args.output.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check it runs")
    parser.add_argument("--output", type=Path, default=None, help="write the rows as JSON")
    asyncio.run(main(parser.parse_args()))
