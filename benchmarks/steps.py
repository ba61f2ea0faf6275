"""Durable steps per second: against DBOS Transact, the raw backend, and with concurrency."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg

from beluga_workflow import Executor, WorkflowOptions, open_store
from benchmarks.harness import Report, Row, measure
from benchmarks.workflows import sequential_steps

__all__ = ["run_steps"]

PAYLOAD = json.dumps({"step": 1, "ok": True})


async def ours_steps_per_second(
    store_spec: Any, workflows: int, steps: int, **options: Any
) -> float:
    store = open_store(store_spec, **options)
    async with Executor(store=store, load_plugins=False) as executor:
        started = asyncio.get_running_loop().time()
        for _ in range(workflows):
            handle = await executor.execute(sequential_steps, WorkflowOptions(input=steps))
            await handle.result()
        elapsed = asyncio.get_running_loop().time() - started
    await store.close()
    return workflows * steps / elapsed


async def ours_concurrent(store_spec: Any, workflows: int, steps: int, **options: Any) -> float:
    store = open_store(store_spec, **options)
    async with Executor(store=store, load_plugins=False) as executor:
        started = asyncio.get_running_loop().time()
        handles = [
            await executor.execute(sequential_steps, WorkflowOptions(input=steps))
            for _ in range(workflows)
        ]
        await asyncio.gather(*(h.result() for h in handles))
        elapsed = asyncio.get_running_loop().time() - started
    await store.close()
    return workflows * steps / elapsed


def dbos_steps_per_second(url: str, workflows: int, steps: int) -> float:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dbos_peer",
            "--url",
            url,
            "--steps",
            str(steps),
            "--workflows",
            str(workflows),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    seconds = json.loads(completed.stdout.strip().splitlines()[-1])[0]
    return workflows * steps / float(seconds)


def raw_sqlite_steps_per_second(path: Path, synchronous: str, steps: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("CREATE TABLE IF NOT EXISTS steps (id INTEGER PRIMARY KEY, payload TEXT)")
    import time

    started = time.perf_counter()
    for _ in range(steps):
        db.execute("BEGIN")
        db.execute("INSERT INTO steps (payload) VALUES (?)", (PAYLOAD,))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return steps / elapsed


async def raw_postgres_steps_per_second(url: str, table: str, steps: int) -> float:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, payload TEXT)"
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(steps):
            await conn.execute(f"INSERT INTO {table} (payload) VALUES (%s)", (PAYLOAD,))
        elapsed = loop.time() - started
        await conn.execute(f"DROP TABLE {table}")
    return steps / elapsed


def _set_wal(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")


async def run_steps(report: Report, work: Path, postgres_url: str | None, quick: bool) -> None:
    workflows, steps, repeats = (2, 20, 1) if quick else (20, 100, 3)
    section = "1-3. Durable steps per second (one workflow of sequential small activities)"
    target_dbos = "ours ≥ 2x DBOS"

    # --- SQLite: ours against DBOS at equal durability (WAL, synchronous=FULL) ---
    def fresh(name: str) -> Path:
        return work / f"{name}-{uuid.uuid4().hex[:8]}.db"

    async def ours_full() -> float:
        return await ours_steps_per_second(
            f"sqlite:///{fresh('ours')}", workflows, steps, synchronous="FULL"
        )

    async def dbos_wal_full() -> float:
        path = fresh("dbos")
        _set_wal(path)  # DBOS then runs in WAL with its default synchronous=FULL
        return await asyncio.to_thread(dbos_steps_per_second, f"sqlite:///{path}", workflows, steps)

    ours, theirs, ratio = await measure(ours_full, dbos_wal_full, repeats, "steps/s")
    report.add(
        Row(
            section,
            "SQLite, both WAL + synchronous=FULL",
            ours,
            theirs,
            "DBOS",
            ratio,
            target_dbos,
            ratio is not None and ratio.median >= 2,
        )
    )

    async def dbos_default() -> float:
        return await asyncio.to_thread(
            dbos_steps_per_second, f"sqlite:///{fresh('dbosdef')}", workflows, steps
        )

    ours, theirs, ratio = await measure(ours_full, dbos_default, repeats, "steps/s")
    report.add(
        Row(
            section,
            "SQLite, each at its default (ours WAL+FULL, DBOS rollback journal+FULL)",
            ours,
            theirs,
            "DBOS default",
            ratio,
        )
    )

    async def ours_normal() -> float:
        return await ours_steps_per_second(
            f"sqlite:///{fresh('ours')}", workflows, steps, synchronous="NORMAL"
        )

    ours, _, _ = await measure(ours_normal, None, repeats, "steps/s")
    report.add(Row(section, "SQLite, ours at WAL + synchronous=NORMAL", ours, None, "", None))

    # --- SQLite: against the raw backend (one INSERT + COMMIT per step, same settings) ---
    async def raw_full() -> float:
        return await asyncio.to_thread(
            raw_sqlite_steps_per_second, fresh("raw"), "FULL", workflows * steps
        )

    ours, theirs, ratio = await measure(ours_full, raw_full, repeats, "steps/s")
    report.add(
        Row(
            section,
            "SQLite WAL+FULL against raw INSERT+COMMIT",
            ours,
            theirs,
            "raw sqlite3",
            ratio,
            "≥ 0.5",
            ratio is not None and ratio.median >= 0.5,
        )
    )

    # --- Concurrency: 50 workflows at once against the sequential figure ---
    async def ours_fifty() -> float:
        return await ours_concurrent(f"sqlite:///{fresh('conc')}", 50, steps, synchronous="FULL")

    ours, theirs, ratio = await measure(ours_fifty, ours_full, repeats, "steps/s")
    report.add(
        Row(
            section,
            "SQLite, 50 workflows at once against one at a time",
            ours,
            theirs,
            "sequential",
            ratio,
            "well above 1x",
            ratio is not None and ratio.median > 1.5,
        )
    )

    if postgres_url is None:
        report.add(Row(section, "PostgreSQL", None, None, "", None, note="skipped: no server"))
        return

    # --- PostgreSQL: same local server for all ---
    async def ours_pg() -> float:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            return await ours_steps_per_second(postgres_url, workflows, steps, schema=schema)
        finally:
            await _drop_schema(postgres_url, schema)

    async def dbos_pg() -> float:
        database = f"bench_dbos_{uuid.uuid4().hex[:8]}"
        url = postgres_url.rsplit("/", 1)[0] + f"/{database}"
        try:
            return await asyncio.to_thread(dbos_steps_per_second, url, workflows, steps)
        finally:
            await _drop_database(postgres_url, database)

    ours, theirs, ratio = await measure(ours_pg, dbos_pg, repeats, "steps/s")
    report.add(
        Row(
            section,
            "PostgreSQL, same local server",
            ours,
            theirs,
            "DBOS",
            ratio,
            target_dbos,
            ratio is not None and ratio.median >= 2,
        )
    )

    async def raw_pg() -> float:
        return await raw_postgres_steps_per_second(
            postgres_url, f"bench_raw_{uuid.uuid4().hex[:8]}", workflows * steps
        )

    ours, theirs, ratio = await measure(ours_pg, raw_pg, repeats, "steps/s")
    report.add(
        Row(
            section,
            "PostgreSQL against raw autocommit INSERT",
            ours,
            theirs,
            "raw psycopg",
            ratio,
            "≥ 0.5",
            ratio is not None and ratio.median >= 0.5,
        )
    )

    async def ours_pg_fifty() -> float:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            return await ours_concurrent(postgres_url, 50, steps, schema=schema)
        finally:
            await _drop_schema(postgres_url, schema)

    ours, theirs, ratio = await measure(ours_pg_fifty, ours_pg, repeats, "steps/s")
    report.add(
        Row(
            section,
            "PostgreSQL, 50 workflows at once against one at a time",
            ours,
            theirs,
            "sequential",
            ratio,
            "well above 1x",
            ratio is not None and ratio.median > 1.5,
        )
    )


async def _drop_schema(url: str, schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _drop_database(url: str, database: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
