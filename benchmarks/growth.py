"""How cost grows: with the length of one history, and with the number of stored workflows."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time

from beluga_workflow import (
    Executor,
    StoreUnavailableError,
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
POPULATE_SECONDS = 300.0
"""At most about this long to store the many workflows of section 5."""
POPULATE_BATCH = 500
"""Saves in flight at once while storing them; fewer for a store that runs its saves one by one."""
SERIAL_BATCH = {"kafka": 20}
POPULATE_CHUNK = 1_000
"""Workflows stored between checks that the saves still go through."""


async def history_growth(store: WorkflowStore, steps: int) -> float:
    """Per-step time over the last ``WINDOW`` steps divided by that over the first."""
    STEP_TIMES.clear()
    async with Executor(store=store, load_plugins=False) as executor:
        handle = await executor.execute(timed_steps, WorkflowOptions(input=steps))
        await handle.result()
    gaps = [b - a for a, b in itertools.pairwise(STEP_TIMES)]
    window = min(WINDOW, len(gaps) // 2)
    return statistics.mean(gaps[-window:]) / statistics.mean(gaps[:window])


async def populate(
    store: WorkflowStore, count: int, first: int = 0, batch: int = POPULATE_BATCH
) -> list[str]:
    """``count`` small workflows from number ``first``, a third running, saved 500 at a time.

    Saves run concurrently (the fastest path every store offers: each keeps its
    own pipeline or connection pool busy); the ids are returned.
    """
    ids = [f"wf-{i:07d}" for i in range(first, first + count)]
    statuses = (WorkflowStatus.COMPLETED, WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING)
    for start in range(0, count, batch):
        await asyncio.gather(
            *(
                store.save(WorkflowState(workflow_id=i, status=statuses[n % 3], input={"n": n}))
                for n, i in enumerate(ids[start : start + batch], first + start)
            )
        )
    return ids


async def populate_within(
    store: WorkflowStore, count: int, seconds: float, batch: int = POPULATE_BATCH
) -> tuple[list[str], str]:
    """Up to ``count`` workflows, 1,000 at a time while ``seconds`` have not passed.

    A store too slow for the whole count in that time keeps what it stored
    (a multiple of 1,000), and the note says so; so does one whose saves start
    to give up as it grows (storing stops at the last thousand stored whole).
    """
    started = time.perf_counter()
    ids: list[str] = []
    cut = ""
    while len(ids) < count:
        if ids and time.perf_counter() - started > seconds:
            cut = f", {len(ids):,} instead of {count:,} to fit the time budget"
            break
        size = min(POPULATE_CHUNK, count - len(ids))
        try:
            ids += await populate(store, size, first=len(ids), batch=batch)
        except StoreUnavailableError as exc:
            cut = f"; stopped at {len(ids):,} stored: a save gave up ({type(exc).__name__})"
            break
    rate = len(ids) / (time.perf_counter() - started)
    return ids, f"; stored at {rate:,.0f} saves/s{cut}"


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
    little_times: list[tuple[float, float]] = []
    large_times: list[tuple[float, float]] = []
    broker: list[list[float]] = []
    with one_core():
        few_store, many_store = backend.open(), backend.open()
        topics = list(backend.created[-2:])
        try:
            batch = SERIAL_BATCH.get(backend.name, POPULATE_BATCH)
            few_ids = await populate(few_store, small, batch=batch)
            many_ids, stored = await populate_within(many_store, big, POPULATE_SECONDS, batch)
            big = len(many_ids)
            for _ in range(rounds):
                pairs = [(few_store, few_ids), (many_store, many_ids)]
                little, large = await lookup_times(pairs, calls)
                little_times.append(little)
                large_times.append(large)
                if backend.name == "kafka":
                    broker.append(await kafka_end_offset_times(backend, topics, calls))
        finally:
            for store in (few_store, many_store):
                await store.close()
            await backend.cleanup()
    for index, what in enumerate(("list(status=running, limit=10)", "load(id)")):
        few = [pair[index] * 1e6 for pair in little_times]
        many = [pair[index] * 1e6 for pair in large_times]
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
                f"time per call; lower is better{stored}",
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


async def run_growth(
    report: Report,
    backends: dict[str, Backend],
    quick: bool,
    *,
    history: bool = True,
    stored: bool = True,
) -> None:
    """Sections 4 (``history``) and 5 (``stored``), on every store that keeps data."""
    steps, repeats = (300, 1) if quick else (10_000, 3)
    small, big, rounds, calls = (100, 2_000, 1, 20) if quick else (1_000, 100_000, 5, 100)
    for backend in backends.values():
        if history and backend.durable:
            try:
                await _history(report, backend, steps, repeats, quick)
            except Exception as exc:
                report.add(failure(f"4. Growth with history: {steps:,} steps", backend.label, exc))
    for name in ("sqlite", "postgres", "redis", "nats", "kafka"):
        if stored and name in backends:
            try:
                await _stored(report, backends[name], small, big, rounds, calls)
            except Exception as exc:
                section = f"5. Growth with stored workflows: {small:,} against {big:,}"
                report.add(failure(section, backends[name].label, exc))
