"""Stores with transient faults on demand, shared by the tests that run several processes.

A :class:`Target` says how a worker process and a client process open one
store, and how to make the worker's connection fail now and then: the
contract suite's outage proxy cuts every connection for a moment (PostgreSQL,
Redis, NATS), or another connection holds the SQLite write lock past the
worker's ``busy_timeout``. Each target uses a namespace of its own and removes
it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beluga_workflow import open_store
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.servers import require_server

__all__ = ["KINDS", "SERVERS", "Target", "faulty_target"]

SERVERS = {"postgres": 5432, "redis": 6379, "nats": 4222}
KINDS = ("sqlite", *SERVERS)


@dataclass
class Target:
    """Where the worker and the client find one store, and how to make its faults.

    ``faults(done)`` injects faults on the worker's connection until ``done`` is set.
    """

    worker_spec: dict[str, Any]
    client_spec: dict[str, Any]
    faults: Callable[[asyncio.Event], Any]


def _namespace() -> str:
    return f"bw_rel_{uuid.uuid4().hex[:10]}"


def _server_spec(kind: str, port: int, name: str) -> dict[str, Any]:
    if kind == "postgres":
        url = f"postgresql://postgres@127.0.0.1:{port}/test"
        return {"provider": "postgres", "url": url, "schema": name, "operation_timeout": 2.0}
    if kind == "redis":
        url = f"redis://127.0.0.1:{port}/0"
        return {"provider": "redis", "url": url, "prefix": name, "operation_timeout": 2.0}
    return {
        "provider": "nats",
        "url": f"nats://127.0.0.1:{port}",
        "bucket": name,
        "operation_timeout": 2.0,
    }


async def _cut_now_and_then(proxy: OutageProxy, done: asyncio.Event) -> int:
    """Cut every connection through ``proxy`` for a moment, again and again, until ``done``."""
    rng = random.Random(os.getpid())
    cuts = 0
    while not done.is_set():
        await asyncio.sleep(rng.uniform(0.1, 0.3))
        await proxy.stop()
        cuts += 1
        await asyncio.sleep(rng.uniform(0.02, 0.1))
        await proxy.start()
    return cuts


def _hold_lock_now_and_then(path: str, done: threading.Event) -> None:
    """Hold the SQLite write lock for longer than the worker waits for it, again and again."""
    rng = random.Random(os.getpid())
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        while not done.is_set():
            done.wait(rng.uniform(0.1, 0.3))
            connection.execute("BEGIN IMMEDIATE")
            done.wait(rng.uniform(0.08, 0.2))
            connection.execute("COMMIT")
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def _server_target(kind: str) -> AsyncIterator[Target]:
    port = SERVERS[kind]
    require_server(kind, "127.0.0.1", port, f"start {kind} on 127.0.0.1:{port}")
    name = _namespace()
    proxy = OutageProxy("127.0.0.1", port)
    await proxy.start()

    async def faults(done: asyncio.Event) -> int:
        return await _cut_now_and_then(proxy, done)

    try:
        yield Target(_server_spec(kind, proxy.port, name), _server_spec(kind, port, name), faults)
    finally:
        await proxy.close()
        await _drop_namespace(kind, port, name)


async def _drop_namespace(kind: str, port: int, name: str) -> None:
    with contextlib.suppress(Exception):
        if kind == "postgres":
            import psycopg

            async with await psycopg.AsyncConnection.connect(
                f"postgresql://postgres@127.0.0.1:{port}/test", autocommit=True
            ) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        elif kind == "redis":
            import redis.asyncio as redis

            client = redis.Redis(host="127.0.0.1", port=port)
            keys = [key async for key in client.scan_iter(match=f"{name}*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()
        else:
            import nats

            connection = await nats.connect(f"nats://127.0.0.1:{port}")
            js = connection.jetstream()
            for suffix in ("meta", "data", "status"):
                with contextlib.suppress(Exception):
                    await js.delete_key_value(f"{name}-{suffix}")
            await connection.close()


@contextlib.asynccontextmanager
async def _sqlite_target(directory: Path) -> AsyncIterator[Target]:
    path = str(directory / "runs.db")
    open_store({"provider": "sqlite", "path": path})  # creates the schema before the lock holder

    async def faults(done: asyncio.Event) -> int:
        stop = threading.Event()
        holder = threading.Thread(target=_hold_lock_now_and_then, args=(path, stop))
        holder.start()
        await done.wait()
        stop.set()
        await asyncio.to_thread(holder.join)
        return 1

    worker = {"provider": "sqlite", "path": path, "busy_timeout": 0.03}
    yield Target(worker, {"provider": "sqlite", "path": path}, faults)


def faulty_target(kind: str, directory: Path) -> contextlib.AbstractAsyncContextManager[Target]:
    """The :class:`Target` for ``kind`` (one of :data:`KINDS`); files go to ``directory``."""
    return _sqlite_target(directory) if kind == "sqlite" else _server_target(kind)
