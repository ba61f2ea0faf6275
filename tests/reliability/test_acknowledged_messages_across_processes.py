"""Acknowledged signals and cancels from another process survive transient store faults.

A worker process (:mod:`tests.reliability.message_worker`) runs 50 workflows.
This process is the client: it signals 40 of them and cancels 10, at random
moments while they run activities or wait, and notes each acknowledged call.
Meanwhile the worker's connection to the store keeps failing: the contract
suite's outage proxy cuts it (PostgreSQL, Redis, NATS) or another connection
holds the SQLite write lock past the worker's ``busy_timeout``. Afterwards
every acknowledged signal was delivered exactly once and every acknowledged
cancel was honoured, and no activity ran twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import sys
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    Executor,
    RetryPolicy,
    Signal,
    WorkflowStatus,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.servers import require_server

ROOT = Path(__file__).resolve().parents[2]
COUNT = 50
CANCEL_EVERY = 5
PATIENT = RetryPolicy(max_attempts=60, initial_interval=0.02, max_interval=0.25, jitter=0.1)
SERVERS = {"postgres": 5432, "redis": 6379, "nats": 4222}


@dataclass
class Target:
    """Where the worker and the client find one store, and how to make its faults."""

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
            for suffix in ("meta", "data"):
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


@pytest.fixture(params=["sqlite", "postgres", "redis", "nats"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_acknowledged_messages_survive_transient_faults_of_the_owner(
    kind: str, tmp_path: Path
) -> None:
    target_of = _sqlite_target(tmp_path) if kind == "sqlite" else _server_target(kind)
    async with target_of as target:
        side_effects = tmp_path / "side-effects.log"
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.reliability.message_worker",
            json.dumps(target.worker_spec),
            str(COUNT),
            str(side_effects),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            outcomes, worker_log = await _message_while_faulty(worker, target)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await _check(target.client_spec, outcomes, side_effects)
    retries = worker_log.count("trying again")
    assert retries > 0, "no fault reached the worker's writes:\n" + worker_log[-2000:]


async def _message_while_faulty(
    worker: asyncio.subprocess.Process, target: Target
) -> tuple[dict[str, Any], str]:
    assert worker.stdout is not None
    assert worker.stderr is not None
    errors = asyncio.create_task(worker.stderr.read())
    started = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert started.strip() == b"started", (started, await errors)
    done = asyncio.Event()
    faults = asyncio.create_task(target.faults(done))
    rng = random.Random(1)
    async with Executor(target.client_spec, store_retry=PATIENT, load_plugins=False) as client:

        async def message(i: int) -> None:
            await asyncio.sleep(rng.uniform(0, 1.2))
            if i % CANCEL_EVERY == 0:
                await client.cancel(f"m{i}")
            else:
                await client.signal(f"m{i}", Signal(name="go", payload={"i": i}))

        await asyncio.gather(*(message(i) for i in range(COUNT)))  # every call acknowledged
        await asyncio.sleep(0.5)  # faults go on while the worker takes the messages in
    done.set()
    await faults
    line = await asyncio.wait_for(worker.stdout.readline(), 120)
    await asyncio.wait_for(worker.wait(), 30)
    log = (await errors).decode(errors="replace")
    assert line, log[-3000:]
    outcomes: dict[str, Any] = json.loads(line)
    return outcomes, log


async def _check(spec: dict[str, Any], outcomes: dict[str, Any], side_effects: Path) -> None:
    lines = await asyncio.to_thread(side_effects.read_text, encoding="utf-8")
    ran = Counter(lines.split("\n")[:-1])
    assert max(ran.values()) == 1, f"activities ran twice: {[k for k, n in ran.items() if n > 1]}"
    store = open_store(spec)
    try:
        for i in range(COUNT):
            workflow_id = f"m{i}"
            state = await store.load(workflow_id)
            assert state is not None
            assert [e.id for e in state.history] == list(range(1, len(state.history) + 1))
            signals = [
                e.signal_payload for e in state.history if e.type is EventType.SIGNAL_RECEIVED
            ]
            steps = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
            assert steps == list(range(len(steps))), (workflow_id, steps)
            if i % CANCEL_EVERY == 0:
                assert outcomes[workflow_id] == ["canceled", None], (workflow_id, outcomes)
                assert state.status is WorkflowStatus.CANCELED
                assert state.history[-1].type is EventType.WORKFLOW_CANCELED
                assert signals == []
            else:
                assert outcomes[workflow_id] == ["completed", {"i": i}], (workflow_id, outcomes)
                assert state.status is WorkflowStatus.COMPLETED
                assert signals == [{"i": i}], (workflow_id, signals)
    finally:
        await store.close()
