"""Store operations per provider against the raw client doing the same single write or read."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowState, WorkflowStore, open_store
from benchmarks.harness import Report, Row, measure

__all__ = ["run_store_ops"]

SIZES = {"small": 10, "100 KB": 100_000}


def _state(size: int) -> WorkflowState:
    return WorkflowState(workflow_id=f"op-{uuid.uuid4().hex[:8]}", input={"blob": "x" * size})


async def _ops_per_second(operation: Callable[[], Awaitable[Any]], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await operation()
    return count / (time.perf_counter() - started)


async def run_store_ops(
    report: Report, work: Path, urls: dict[str, str | None], quick: bool
) -> None:
    count, repeats = (20, 1) if quick else (300, 3)
    section = "6. Store operations (operations per second)"
    providers: list[tuple[str, Callable[[], WorkflowStore], Callable[[], Any] | None]] = [
        ("inmemory", lambda: open_store("inmemory"), None),
        ("sqlite", lambda: open_store(f"sqlite:///{work / 'ops.db'}"), _raw_sqlite(work)),
    ]
    if urls.get("postgres"):
        url = urls["postgres"]
        providers.append(
            (
                "postgres",
                lambda url=url: open_store(url, schema=f"bench_{uuid.uuid4().hex[:8]}"),
                _raw_postgres(url),
            )
        )
    if urls.get("redis"):
        url = urls["redis"]
        providers.append(
            (
                "redis",
                lambda url=url: open_store(url, prefix=f"bench-{uuid.uuid4().hex[:8]}"),
                _raw_redis(url),
            )
        )
    if urls.get("nats"):
        url = urls["nats"]
        providers.append(
            ("nats", lambda url=url: open_store(url, bucket=f"bench_{uuid.uuid4().hex[:8]}"), None)
        )
    for name, make, raw in providers:
        store = make()
        for label, size in SIZES.items():
            state = _state(size)
            await store.save(state)
            raw_ops = raw(size) if raw is not None else None

            async def save(store: WorkflowStore = store, state: WorkflowState = state) -> float:
                return await _ops_per_second(lambda: store.save(state), count)

            async def load(store: WorkflowStore = store, state: WorkflowState = state) -> float:
                return await _ops_per_second(lambda: store.load(state.workflow_id), count)

            for op, ours_fn in (("save", save), ("load", load)):
                baseline = None
                if raw_ops is not None:
                    raw_fn = raw_ops[op]

                    async def baseline_fn(raw_fn: Callable[[], Awaitable[Any]] = raw_fn) -> float:
                        return await _ops_per_second(raw_fn, count)

                    baseline = baseline_fn
                ours, theirs, ratio = await measure(ours_fn, baseline, repeats, "ops/s")
                report.add(
                    Row(
                        section,
                        f"{name} {op}, {label} state",
                        ours,
                        theirs,
                        f"raw {name} client" if raw_ops else "",
                        ratio,
                    )
                )
        await store.close()


def _raw_sqlite(work: Path) -> Callable[[int], dict[str, Callable[[], Awaitable[Any]]]]:
    def make(size: int) -> dict[str, Callable[[], Awaitable[Any]]]:
        db = sqlite3.connect(
            work / f"raw-ops-{size}.db", isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)")
        value = "x" * size

        def write() -> None:
            db.execute("BEGIN")
            db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))
            db.execute("COMMIT")

        async def save() -> None:  # off the loop, as the store does
            await asyncio.to_thread(write)

        async def load() -> None:
            await asyncio.to_thread(lambda: db.execute("SELECT v FROM kv WHERE k='k'").fetchone())

        return {"save": save, "load": load}

    return make


def _raw_postgres(url: str) -> Callable[[int], dict[str, Callable[[], Awaitable[Any]]]]:
    import psycopg

    def make(size: int) -> dict[str, Callable[[], Awaitable[Any]]]:
        value = "x" * size
        state: dict[str, Any] = {}
        table = f"bench_kv_{uuid.uuid4().hex[:8]}"

        async def conn() -> Any:
            if "c" not in state:
                state["c"] = await psycopg.AsyncConnection.connect(url, autocommit=True)
                await state["c"].execute(f"CREATE TEMP TABLE {table} (k TEXT PRIMARY KEY, v TEXT)")
            return state["c"]

        async def save() -> None:
            c = await conn()
            await c.execute(
                f"INSERT INTO {table} VALUES ('k', %s)"
                " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                (value,),
            )

        async def load() -> None:
            c = await conn()
            await (await c.execute(f"SELECT v FROM {table} WHERE k = 'k'")).fetchone()

        return {"save": save, "load": load}

    return make


def _raw_redis(url: str) -> Callable[[int], dict[str, Callable[[], Awaitable[Any]]]]:
    import redis.asyncio as aioredis

    def make(size: int) -> dict[str, Callable[[], Awaitable[Any]]]:
        client = aioredis.Redis.from_url(url)
        key = f"bench-raw-{uuid.uuid4().hex[:8]}"
        value = "x" * size

        async def save() -> None:
            await client.set(key, value)

        async def load() -> None:
            await client.get(key)

        return {"save": save, "load": load}

    return make
