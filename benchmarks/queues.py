"""Queues and schedules: dispatch throughput against DBOS queues, and schedule tick jitter.

* Runs started per second through a queue with a concurrency limit: a client
  submits a batch of one-step workflows onto the queue and one worker in the
  same process serves it; the figure is the batch over the time from the first
  submit to the last result. DBOS Transact enqueues the same workflow on a
  ``Queue`` with the same limit and polling interval, in a process of its own,
  on the same backend, pair by pair.
* Schedule tick jitter: one worker ticks a schedule every 0.5 s; for each tick
  the delay from the tick to the moment its run was stored, p50 and p99.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from beluga_workflow import (
    Executor,
    Queue,
    QueueOptions,
    Schedule,
    ScheduleBook,
    Worker,
    WorkflowContext,
    WorkflowOptions,
    open_store,
)
from beluga_workflow.system_records import without_system_records
from benchmarks.backends import Backend
from benchmarks.harness import Figure, Report, Row, failure, measure

__all__ = ["run_queues"]

SECTION_QUEUE = "12. Queue dispatch: runs started per second through a queue with a limit"
SECTION_TICKS = "13. Schedule tick jitter: from a tick to its run stored"
QUEUE_STORES = ("sqlite", "postgres", "redis")
NO_DBOS = ("redis",)
"""Backends DBOS Transact cannot keep its queues on: ours is measured alone there."""
CONCURRENCY = 10
POLL = 0.1
"""Both sides poll their queue this often (ours is woken sooner by a store that can watch)."""
CLIENT_POLL = 0.02


async def one_step(i: int) -> dict[str, Any]:
    return {"step": i, "ok": True}


async def queued_job(ctx: WorkflowContext, i: int) -> int:
    await ctx.execute_activity(one_step, i)
    return i


NAME = "bench-queued-job"


async def ours_dispatch_rate(spec: dict[str, Any], runs: int) -> float:
    queue = Queue(name="bench", concurrency=CONCURRENCY)
    worker = Worker(
        spec, queues=[queue], poll_interval=POLL, lease_duration=10.0, load_plugins=False
    )
    worker.executor.register(queued_job, NAME)
    serving = asyncio.create_task(worker.run())
    try:
        async with Executor(spec, load_plugins=False, poll_interval=CLIENT_POLL) as client:
            placement = QueueOptions(name="bench")
            warm = await client.submit(NAME, WorkflowOptions(input=-1, queue=placement))
            await warm.result()
            started = time.perf_counter()
            handles = [
                await client.submit(NAME, WorkflowOptions(input=i, queue=placement))
                for i in range(runs)
            ]
            await asyncio.gather(*(h.result() for h in handles))
            elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        await serving
    return runs / elapsed


def dbos_dispatch_rate(url: str, runs: int) -> float:
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.dbos_queue_peer", "--url", url),
            *("--runs", str(runs), "--concurrency", str(CONCURRENCY), "--poll", str(POLL)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the DBOS queue run failed: {completed.stderr[-2000:]}")
    seconds = json.loads(completed.stdout.strip().splitlines()[-1])[0]
    return runs / float(seconds)


async def _dbos_url(backend: Backend) -> tuple[str, str | None]:
    """A fresh DBOS system database on the backend, and the PostgreSQL database to drop."""
    if backend.name == "sqlite":
        path = backend.new_path("dbos-queue")  # type: ignore[attr-defined]
        return f"sqlite:///{path}", None
    assert backend.url is not None
    database = f"bench_dbos_{uuid.uuid4().hex[:8]}"
    return backend.url.rsplit("/", 1)[0] + f"/{database}", database


async def _drop_database(backend: Backend, database: str | None) -> None:
    if database is None or backend.url is None:
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(backend.url, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _queue_rows(report: Report, backend: Backend, quick: bool) -> None:
    runs = 20 if quick else 200
    repeats = 1 if quick else 3

    async def ours() -> float:
        return await ours_dispatch_rate(backend.spec(), runs)

    async def dbos() -> float:
        url, database = await _dbos_url(backend)
        try:
            return await asyncio.to_thread(dbos_dispatch_rate, url, runs)
        finally:
            await _drop_database(backend, database)

    if backend.name in NO_DBOS:
        mine, _, _ = await measure(ours, None, repeats, "runs/s")
        report.add(
            Row(
                SECTION_QUEUE,
                f"{backend.label}, {runs} one-step runs, concurrency {CONCURRENCY}",
                mine,
                None,
                "",
                None,
                note="DBOS has no Redis backend",
            )
        )
        return
    figures = await measure(ours, dbos, repeats, "runs/s")
    mine, theirs, ratio = figures
    report.add(
        Row(
            SECTION_QUEUE,
            f"{backend.label}, {runs} one-step runs, concurrency {CONCURRENCY}",
            mine,
            theirs,
            "DBOS Queue",
            ratio,
            "ahead of DBOS",
            None if ratio is None else ratio.median > 1.0,
        )
    )


async def tick_delays(spec: dict[str, Any], ticks: int, every: float = 0.5) -> list[float]:
    """Seconds from each tick to its run stored, for ``ticks`` ticks of one worker."""
    store = open_store(spec)
    book = ScheduleBook(store)
    await book.create(Schedule(name="jitter", workflow=NAME, input=0, every=every))
    worker = Worker(spec, schedules=True, poll_interval=POLL, load_plugins=False)
    worker.executor.register(queued_job, NAME)
    serving = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(every * (ticks + 0.5))
        await book.pause("jitter")
        states = without_system_records(await store.list())
    finally:
        worker.stop()
        await serving
        await store.close()
    delays = []
    for state in states:
        if state.metadata.get("schedule") == "jitter":
            tick = datetime.fromisoformat(str(state.metadata["tick"]))
            delays.append((state.created_at - tick).total_seconds())
    return delays


def _percentile(values: list[float], share: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


async def _tick_rows(report: Report, backend: Backend, quick: bool) -> None:
    ticks = 6 if quick else 40
    delays = [d * 1000 for d in await tick_delays(backend.spec(), ticks)]
    if not delays:
        raise RuntimeError("no tick started a run")
    for label, share in (("p50", 0.5), ("p99", 0.99)):
        value = _percentile(delays, share)
        shown = Figure(value, min(delays), max(delays), "ms")
        report.add(
            Row(
                SECTION_TICKS,
                f"{backend.label}, {len(delays)} ticks every 0.5 s, {label}",
                shown,
                None,
                "",
                None,
                note="lower is better",
            )
        )


async def run_queues(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    for name in QUEUE_STORES:
        backend = backends.get(name)
        if backend is None or not backend.available:
            continue
        for section, rows in ((SECTION_QUEUE, _queue_rows), (SECTION_TICKS, _tick_rows)):
            try:
                await rows(report, backend, quick)
            except Exception as exc:  # one failing backend does not end the run
                report.add(failure(section, backend.label, exc))
            finally:
                await backend.cleanup()
