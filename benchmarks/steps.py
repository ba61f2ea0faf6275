"""Durable steps per second: against DBOS Transact, the raw backend, and with concurrency."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from beluga_workflow import Executor, WorkflowOptions, WorkflowStore
from benchmarks.backends import Backend, SQLiteBackend
from benchmarks.harness import Figure, Report, Row, failure, measure
from benchmarks.raw import step_rate
from benchmarks.workflows import sequential_steps

__all__ = ["run_steps"]

SECTION = "1-3. Durable steps per second (workflows of sequential small activities)"
TARGET_DBOS = "ours ≥ 2x DBOS"
TARGET_RAW = "≥ 0.5"
TARGET_CONCURRENT = "well above 1x"
CONCURRENT = 50
SECONDS_PER_FIGURE = 2.0
SECONDS_CONCURRENT = 4.0


async def ours_rate(open_store: Callable[[], WorkflowStore], workflows: int, steps: int) -> float:
    """Steps/s of ``workflows`` runs of the ``steps``-step workflow, one after another."""
    store = open_store()
    try:
        async with Executor(store=store, load_plugins=False) as executor:
            warm = await executor.execute(sequential_steps, WorkflowOptions(input=1))
            await warm.result()
            started = asyncio.get_running_loop().time()
            for _ in range(workflows):
                handle = await executor.execute(sequential_steps, WorkflowOptions(input=steps))
                await handle.result()
            elapsed = asyncio.get_running_loop().time() - started
    finally:
        await store.close()
    return workflows * steps / elapsed


async def ours_concurrent_rate(open_store: Callable[[], WorkflowStore], steps: int) -> float:
    """Aggregate steps/s of ``CONCURRENT`` workflows started together in one process."""
    store = open_store()
    try:
        async with Executor(store=store, load_plugins=False) as executor:
            started = asyncio.get_running_loop().time()
            handles = [
                await executor.execute(sequential_steps, WorkflowOptions(input=steps))
                for _ in range(CONCURRENT)
            ]
            await asyncio.gather(*(h.result() for h in handles))
            elapsed = asyncio.get_running_loop().time() - started
    finally:
        await store.close()
    return CONCURRENT * steps / elapsed


def dbos_rate(url: str, workflows: int, steps: int) -> float:
    """DBOS Transact runs in a process of its own: it is a process-wide singleton."""
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.dbos_peer", "--url", url),
            *("--steps", str(steps), "--workflows", str(workflows)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the DBOS run failed: {completed.stderr[-2000:]}")
    seconds = json.loads(completed.stdout.strip().splitlines()[-1])[0]
    return workflows * steps / float(seconds)


def _use_wal(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")


def _ratio_row(
    case: str,
    figures: tuple[Figure, Figure | None, Figure | None],
    baseline_name: str,
    target: str = "",
    threshold: float | None = None,
) -> Row:
    ours, theirs, ratio = figures
    met = None if threshold is None or ratio is None else ratio.median >= threshold
    return Row(SECTION, case, ours, theirs, baseline_name, ratio, target, met)


async def _sqlite_against_dbos(
    report: Report, backend: SQLiteBackend, workflows: int, steps: int, repeats: int
) -> None:
    async def ours_full() -> float:
        return await ours_rate(lambda: backend.open(synchronous="FULL"), workflows, steps)

    async def dbos_wal_full() -> float:
        path = backend.new_path("dbos")
        _use_wal(path)  # the mode is kept in the file; DBOS keeps SQLite's synchronous=FULL
        return await asyncio.to_thread(dbos_rate, f"sqlite:///{path}", workflows, steps)

    async def dbos_default() -> float:
        path = backend.new_path("dbos-default")
        return await asyncio.to_thread(dbos_rate, f"sqlite:///{path}", workflows, steps)

    figures = await measure(ours_full, dbos_wal_full, repeats, "steps/s")
    report.add(_ratio_row("SQLite, both WAL + synchronous=FULL", figures, "DBOS", TARGET_DBOS, 2.0))
    figures = await measure(ours_full, dbos_default, repeats, "steps/s")
    report.add(
        _ratio_row(
            "SQLite, each at its default (ours WAL + FULL, DBOS rollback journal + FULL)",
            figures,
            "DBOS default",
        )
    )

    async def ours_normal() -> float:
        return await ours_rate(lambda: backend.open(synchronous="NORMAL"), workflows, steps)

    figures = await measure(ours_normal, ours_full, repeats, "steps/s")
    report.add(
        _ratio_row("SQLite, ours at WAL + synchronous=NORMAL against FULL", figures, "ours, FULL")
    )


async def _postgres_against_dbos(
    report: Report, backend: Backend, workflows: int, steps: int, repeats: int
) -> None:
    import psycopg

    assert backend.url is not None
    url = backend.url

    async def ours() -> float:
        return await ours_rate(backend.open, workflows, steps)

    async def dbos() -> float:
        database = f"bench_dbos_{uuid.uuid4().hex[:8]}"
        try:
            return await asyncio.to_thread(
                dbos_rate, url.rsplit("/", 1)[0] + f"/{database}", workflows, steps
            )
        finally:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    figures = await measure(ours, dbos, repeats, "steps/s")
    report.add(_ratio_row("PostgreSQL, same local server", figures, "DBOS", TARGET_DBOS, 2.0))


async def _against_raw_and_concurrent(
    report: Report, backend: Backend, workflows: int, steps: int, repeats: int, quick: bool
) -> None:
    with_target = backend.name in ("sqlite", "postgres")
    options: dict[str, Any] = {"synchronous": "FULL"} if backend.name == "sqlite" else {}
    concurrent_steps = steps
    if not quick:
        # A slow store gets fewer workflows (and shorter ones when run 50 at once), so
        # each measurement takes a few seconds; the rows say what ran.
        rate = await ours_rate(lambda: backend.open(**options), 1, 50)
        workflows = max(1, min(workflows, int(rate * SECONDS_PER_FIGURE / steps)))
        concurrent_steps = max(5, min(steps, int(rate * SECONDS_CONCURRENT / CONCURRENT)))

    async def ours() -> float:
        return await ours_rate(lambda: backend.open(**options), workflows, steps)

    async def raw() -> float:
        return await step_rate(backend, workflows * steps)

    async def concurrent() -> float:
        return await ours_concurrent_rate(lambda: backend.open(**options), concurrent_steps)

    raw_name = {
        "sqlite": "raw INSERT + COMMIT (WAL, FULL)",
        "postgres": "raw autocommit INSERT",
        "redis": "raw RPUSH",
        "nats": "raw KV put",
        "kafka": "raw acked produce",
    }[backend.name]
    # The raw pairs are short (about two seconds each) and the ratio sits near its
    # target, so they get more pairs for a steadier median.
    figures = await measure(ours, raw, repeats if quick else repeats + 4, "steps/s")
    row = _ratio_row(
        f"{backend.label} against its raw client, one durable write per step",
        figures,
        raw_name,
        TARGET_RAW if with_target else "",
        0.5 if with_target else None,
    )
    row.note = f"{workflows} x {steps} steps"
    report.add(row)
    figures = await measure(concurrent, ours, repeats, "steps/s")
    row = _ratio_row(
        f"{backend.label}, {CONCURRENT} workflows at once against one at a time",
        figures,
        "one at a time",
        TARGET_CONCURRENT if with_target else "",
        1.5 if with_target else None,
    )
    row.note = f"{CONCURRENT} x {concurrent_steps} steps against {workflows} x {steps}"
    report.add(row)


async def run_steps(report: Report, backends: dict[str, Backend], quick: bool) -> None:
    workflows, steps, repeats = (2, 20, 1) if quick else (20, 100, 3)
    for backend in backends.values():
        if backend.name == "inmemory":
            continue
        if not backend.available:
            report.add(Row(SECTION, backend.label, None, None, "", None, note="skipped: no server"))
            continue
        try:
            if isinstance(backend, SQLiteBackend):
                await _sqlite_against_dbos(report, backend, workflows, steps, repeats)
            elif backend.name == "postgres":
                await _postgres_against_dbos(report, backend, workflows, steps, repeats)
            await _against_raw_and_concurrent(report, backend, workflows, steps, repeats, quick)
        except Exception as exc:
            report.add(failure(SECTION, backend.label, exc))
        finally:
            await backend.cleanup()
