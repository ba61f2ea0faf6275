"""How cost grows: with the length of one history, and with the number of stored workflows."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time

from beluga_workflow import (
    Executor,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
)
from benchmarks.backends import Backend
from benchmarks.harness import Report, Row, failure, figure, one_core
from benchmarks.raw import kafka_end_offset_times, kafka_step_growth
from benchmarks.workflows import STEP_TIMES, timed_steps

__all__ = ["run_growth"]

WINDOW = 100
HISTORY_SECONDS = 40.0
"""At most about this long for one run of the long workflow."""


async def history_growth(store: WorkflowStore, steps: int) -> float:
    """Per-step time over the last ``WINDOW`` steps divided by that over the first."""
    STEP_TIMES.clear()
    async with Executor(store=store, load_plugins=False) as executor:
        handle = await executor.execute(timed_steps, WorkflowOptions(input=steps))
        await handle.result()
    gaps = [b - a for a, b in itertools.pairwise(STEP_TIMES)]
    window = min(WINDOW, len(gaps) // 2)
    return statistics.mean(gaps[-window:]) / statistics.mean(gaps[:window])


async def populate(store: WorkflowStore, count: int) -> list[str]:
    """``count`` small workflows, a third running, saved 500 at a time."""
    ids = [f"wf-{i:07d}" for i in range(count)]
    statuses = (WorkflowStatus.COMPLETED, WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING)
    for start in range(0, count, 500):
        await asyncio.gather(
            *(
                store.save(WorkflowState(workflow_id=i, status=statuses[n % 3], input={"n": n}))
                for n, i in enumerate(ids[start : start + 500], start)
            )
        )
    return ids


async def lookup_times(
    stores: list[tuple[WorkflowStore, list[str]]], calls: int
) -> list[tuple[float, float]]:
    """Per store, median seconds of list(status=running, limit=10) and of load(random id).

    The stores take turns call by call, so a passing change in the machine (a
    thread woken on another core, a neighbour's load) touches all of them alike.
    """
    listing: list[list[float]] = [[] for _ in stores]
    loading: list[list[float]] = [[] for _ in stores]
    wanted = WorkflowFilter(status=WorkflowStatus.RUNNING, limit=10)
    for _ in range(calls):
        for index, (store, ids) in enumerate(stores):
            started = time.perf_counter()
            await store.list(wanted)
            listing[index].append(time.perf_counter() - started)
            started = time.perf_counter()
            await store.load(random.choice(ids))
            loading[index].append(time.perf_counter() - started)
    return [
        (statistics.median(lists), statistics.median(loads))
        for lists, loads in zip(listing, loading, strict=True)
    ]


async def _history(report: Report, backend: Backend, steps: int, repeats: int, quick: bool) -> None:
    section = f"4. Growth with history: one workflow of {steps:,} steps"
    case = f"{backend.label}: per-step time, last {WINDOW} / first {WINDOW} steps"
    if not backend.available:
        report.add(Row(section, case, None, None, "", None, note="skipped: no server"))
        return
    note = "lower is better"
    if not quick:
        # A store too slow for the full length in the time budget runs a shorter
        # workflow once; the row says so.
        rate = await _probe_rate(backend)
        if steps > rate * HISTORY_SECONDS:
            steps = max(1_000, int(rate * HISTORY_SECONDS))
            repeats = 1
            note += f"; shortened to {steps:,} steps and one run to fit the time budget"
        elif steps > rate * HISTORY_SECONDS / 4:
            repeats = 1
            note += "; one run, to fit the time budget"
    ratios = []
    try:
        for _ in range(repeats):
            store = backend.open()
            try:
                ratios.append(await history_growth(store, steps))
            finally:
                await store.close()
    finally:
        await backend.cleanup()
    ratio = figure(ratios, "x")
    report.add(Row(section, case, None, None, "", ratio, "≤ 1.5x", ratio.median <= 1.5, note))
    if backend.name == "kafka":
        await _kafka_broker_growth(report, backend, section, steps, repeats)


async def _kafka_broker_growth(
    report: Report, backend: Backend, section: str, steps: int, repeats: int
) -> None:
    """The same growth for the raw client, to tell the broker's share from the store's."""
    ratios = []
    try:
        for _ in range(repeats):
            ratios.append(await kafka_step_growth(backend, steps, WINDOW))
    finally:
        await backend.cleanup()
    case = (
        f"Kafka raw client, the same records per step, end offset and read-back: "
        f"last {WINDOW} / first {WINDOW} steps"
    )
    note = f"lower is better; {steps:,} steps, as the row above"
    report.add(Row(section, case, None, None, "", figure(ratios, "x"), note=note))


async def _probe_rate(backend: Backend) -> float:
    """Steps per second of a short workflow, to size the long one."""
    store = backend.open()
    try:
        async with Executor(store=store, load_plugins=False) as executor:
            started = time.perf_counter()
            handle = await executor.execute(timed_steps, WorkflowOptions(input=100))
            await handle.result()
            return 100 / (time.perf_counter() - started)
    finally:
        await store.close()
        await backend.cleanup()


async def _stored(
    report: Report, backend: Backend, small: int, big: int, rounds: int, calls: int
) -> None:
    section = f"5. Growth with stored workflows: {small:,} against {big:,}"
    if not backend.available:
        report.add(Row(section, backend.label, None, None, "", None, note="skipped: no server"))
        return
    seconds: dict[int, list[tuple[float, float]]] = {small: [], big: []}
    broker: list[list[float]] = []
    with one_core():
        stores = {count: backend.open() for count in (small, big)}
        topics = list(backend.created[-2:])
        try:
            ids = {count: await populate(store, count) for count, store in stores.items()}
            for _ in range(rounds):
                pairs = [(stores[count], ids[count]) for count in (small, big)]
                little, large = await lookup_times(pairs, calls)
                seconds[small].append(little)
                seconds[big].append(large)
                if backend.name == "kafka":
                    broker.append(await kafka_end_offset_times(backend, topics, calls))
        finally:
            for store in stores.values():
                await store.close()
            await backend.cleanup()
    for index, what in enumerate(("list(status=running, limit=10)", "load(id)")):
        few = [pair[index] * 1e6 for pair in seconds[small]]
        many = [pair[index] * 1e6 for pair in seconds[big]]
        ratio = figure([b / a for a, b in zip(few, many, strict=True)], "x")
        report.add(
            Row(
                section,
                f"{backend.label}: {what}",
                figure(many, "µs"),
                figure(few, "µs"),
                f"{small:,} stored",
                ratio,
                "≤ 2x",
                ratio.median <= 2,
                "time per call; lower is better",
            )
        )
    if broker:
        few = [pair[0] * 1e6 for pair in broker]
        many = [pair[1] * 1e6 for pair in broker]
        ratio = figure([b / a for a, b in zip(few, many, strict=True)], "x")
        case = "Kafka raw client: one end-offsets request, the broker's share of a fresh read"
        note = "time per call; lower is better"
        report.add(
            Row(
                section,
                case,
                figure(many, "µs"),
                figure(few, "µs"),
                f"{small:,} stored",
                ratio,
                note=note,
            )
        )


async def run_growth(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    steps, repeats = (300, 1) if quick else (10_000, 3)
    small, big, rounds, calls = (100, 2_000, 1, 20) if quick else (1_000, 100_000, 5, 100)
    for backend in backends.values():
        if backend.durable:
            try:
                await _history(report, backend, steps, repeats, quick)
            except Exception as exc:
                report.add(failure(f"4. Growth with history: {steps:,} steps", backend.label, exc))
    for name in ("sqlite", "postgres", "redis", "nats", "kafka"):
        if name in backends:
            try:
                await _stored(report, backends[name], small, big, rounds, calls)
            except Exception as exc:
                section = f"5. Growth with stored workflows: {small:,} against {big:,}"
                report.add(failure(section, backends[name].label, exc))
