"""How cost grows: with the length of one history, and with the number of stored workflows."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from beluga_workflow import (
    Executor,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
    open_store,
)
from benchmarks.harness import Figure, Report, Row
from benchmarks.workflows import STEP_TIMES, timed_steps

__all__ = ["run_growth"]


async def history_growth(store: WorkflowStore, steps: int) -> float:
    """Per-step time over the last 100 steps divided by that over the first 100."""
    STEP_TIMES.clear()
    async with Executor(store=store, load_plugins=False) as executor:
        handle = await executor.execute(timed_steps, WorkflowOptions(input=steps))
        await handle.result()
    gaps = [b - a for a, b in itertools.pairwise(STEP_TIMES)]
    window = min(100, len(gaps) // 2)
    return statistics.mean(gaps[-window:]) / statistics.mean(gaps[:window])


async def populate(store: WorkflowStore, count: int) -> list[str]:
    ids = [f"wf-{i:07d}" for i in range(count)]
    statuses = [WorkflowStatus.COMPLETED, WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING]
    for start in range(0, count, 500):
        await asyncio.gather(
            *(
                store.save(
                    WorkflowState(workflow_id=i, status=random.choice(statuses), input={"n": 1})
                )
                for i in ids[start : start + 500]
            )
        )
    return ids


async def lookup_times(store: WorkflowStore, ids: list[str], calls: int) -> tuple[float, float]:
    """Median seconds of list(status=running, limit=10) and of load(random id)."""
    listing, loading = [], []
    wanted = WorkflowFilter(status=WorkflowStatus.RUNNING, limit=10)
    for _ in range(calls):
        started = time.perf_counter()
        await store.list(wanted)
        listing.append(time.perf_counter() - started)
        started = time.perf_counter()
        await store.load(random.choice(ids))
        loading.append(time.perf_counter() - started)
    return statistics.median(listing), statistics.median(loading)


async def run_growth(report: Report, work: Path, postgres_url: str | None, quick: bool) -> None:
    steps = 300 if quick else 10_000
    small, big = (100, 2_000) if quick else (1_000, 100_000)
    section_h = f"4. Growth with history: one workflow of {steps:,} steps"
    section_n = f"5. Growth with stored workflows: {small:,} against {big:,}"

    backends: list[tuple[str, Any, dict[str, Any]]] = [
        ("SQLite", lambda: f"sqlite:///{work / f'growth-{uuid.uuid4().hex[:8]}.db'}", {}),
    ]
    if postgres_url is not None:
        backends.append(("PostgreSQL", lambda: postgres_url, {"schema": None}))

    for name, spec, options in backends:
        schema_names: list[str] = []

        def open_fresh(
            spec: Any = spec,
            options: dict[str, Any] = options,
            schema_names: list[str] = schema_names,
        ) -> WorkflowStore:
            opts = dict(options)
            if "schema" in opts:
                opts["schema"] = f"bench_{uuid.uuid4().hex[:8]}"
                schema_names.append(opts["schema"])
            return open_store(spec(), **opts)

        store = open_fresh()
        ratio = await history_growth(store, steps)
        await store.close()
        figure = Figure(ratio, ratio, ratio, "x")
        report.add(
            Row(
                section_h,
                f"{name}: per-step time, last 100 / first 100 steps",
                None,
                None,
                "",
                figure,
                "≤ 1.5x",
                ratio <= 1.5,
            )
        )

        timings = {}
        for count in (small, big):
            store = open_fresh()
            ids = await populate(store, count)
            timings[count] = await lookup_times(store, ids, 50 if quick else 200)
            await store.close()
        for index, what in enumerate(("list(status=running, limit=10)", "load(id)")):
            little, large = timings[small][index], timings[big][index]
            ratio = large / little
            report.add(
                Row(
                    section_n,
                    f"{name}: {what}",
                    Figure(large * 1e6, large * 1e6, large * 1e6, "µs"),
                    Figure(little * 1e6, little * 1e6, little * 1e6, "µs"),
                    f"{small:,} stored",
                    Figure(ratio, ratio, ratio, "x"),
                    "≤ 2x (lower is better)",
                    ratio <= 2,
                )
            )
        for schema in schema_names:
            assert postgres_url is not None
            async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
