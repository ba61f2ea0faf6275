"""Each backend's own client doing the least work a store could do: the physical limit.

``step_rate`` is one durable write per step (a single-row INSERT and COMMIT,
one Redis command, one acknowledged KV put or Kafka record); ``open_ops``
gives the same single write and read as a store's save and load, and an
indexed "first 10 running" query where the backend has one. Namespaces are
registered with the backend so its cleanup removes them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from benchmarks.backends import Backend, KafkaBackend, SQLiteBackend

__all__ = [
    "LIST_ROWS",
    "PAYLOAD",
    "RawOps",
    "kafka_end_offset_times",
    "kafka_step_growth",
    "open_ops",
    "step_rate",
]

PAYLOAD = '{"step": 1, "ok": true}'
LIST_ROWS = 300
"""Rows behind each list call, a third of them running (as in the store benchmark)."""

Op = Callable[[], Awaitable[Any]]


@dataclass
class RawOps:
    save: Op
    load: Op | None
    list: Op | None
    close: Callable[[], Awaitable[None]]


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def step_rate(backend: Backend, steps: int) -> float:
    """Durable writes per second, one after another, by the backend's own client."""
    if isinstance(backend, SQLiteBackend):
        path = backend.new_path("raw")
        return await asyncio.to_thread(_sqlite_steps, str(path), steps)
    rate = {
        "postgres": _postgres_steps,
        "redis": _redis_steps,
        "nats": _nats_steps,
        "kafka": _kafka_steps,
    }[backend.name]
    return await rate(backend, steps)


def _sqlite_steps(path: str, steps: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE steps (id INTEGER PRIMARY KEY, payload TEXT)")
    started = time.perf_counter()
    for _ in range(steps):
        db.execute("BEGIN")
        db.execute("INSERT INTO steps (payload) VALUES (?)", (PAYLOAD,))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return steps / elapsed


async def _postgres_steps(backend: Backend, steps: int) -> float:
    import psycopg

    assert backend.url is not None
    schema = f"bench_{_tag()}"
    backend.created.append(schema)
    async with await psycopg.AsyncConnection.connect(backend.url, autocommit=True) as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE "{schema}".steps (id BIGSERIAL PRIMARY KEY, payload TEXT)'
        )
        insert = f'INSERT INTO "{schema}".steps (payload) VALUES (%s)'
        started = time.perf_counter()
        for _ in range(steps):
            await conn.execute(insert, (PAYLOAD,))
        return steps / (time.perf_counter() - started)


async def _redis_steps(backend: Backend, steps: int) -> float:
    import redis.asyncio as aioredis

    assert backend.url is not None
    prefix = f"bench-{_tag()}"
    backend.created.append(prefix)
    client = aioredis.Redis.from_url(backend.url)
    try:
        started = time.perf_counter()
        for _ in range(steps):
            await client.rpush(f"{prefix}:steps", PAYLOAD)
        return steps / (time.perf_counter() - started)
    finally:
        await client.aclose()


async def _nats_steps(backend: Backend, steps: int) -> float:
    import nats

    assert backend.url is not None
    bucket = f"bench_{_tag()}"
    backend.created.append(bucket)
    client = await nats.connect(backend.url)
    try:
        kv = await client.jetstream().create_key_value(bucket=f"{bucket}-data", history=1)
        value = PAYLOAD.encode()
        started = time.perf_counter()
        for i in range(steps):
            await kv.put(f"s{i}", value)
        return steps / (time.perf_counter() - started)
    finally:
        await client.close()


async def _kafka_producer(servers: str) -> Any:
    """Acknowledged by all replicas, idempotent where the broker allows, like the store."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    common: dict[str, Any] = {
        "bootstrap_servers": servers,
        "acks": "all",
        "max_request_size": 4 * 1024 * 1024,
    }
    producer = AIOKafkaProducer(enable_idempotence=True, **common)
    try:
        await producer.start()
        return producer
    except KafkaError:
        await producer.stop()
    producer = AIOKafkaProducer(**common)
    await producer.start()
    return producer


async def _kafka_steps(backend: Backend, steps: int) -> float:
    assert isinstance(backend, KafkaBackend)
    topic = f"bench-{_tag()}"
    backend.created.append(topic)
    producer = await _kafka_producer(backend.servers)
    try:
        await producer.send_and_wait(topic, PAYLOAD.encode())  # creates the topic
        started = time.perf_counter()
        for i in range(steps):
            await producer.send_and_wait(topic, PAYLOAD.encode(), key=f"s{i}".encode())
        return steps / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _compacted_topic(servers: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        topics = [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        await admin.create_topics(topics)
    finally:
        await admin.close()


async def kafka_step_growth(backend: Backend, steps: int, window: int) -> float:
    """The broker's own growth: per-step time, last ``window`` steps over the first.

    Each step does what a store step needs at the least: send a head part, a
    history fragment and a commit record in one acknowledged batch (tombstoning
    the previous head part), ask for the partition's end and read the batch
    back, so a reader would see it.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    assert isinstance(backend, KafkaBackend)
    topic = f"bench-{_tag()}"
    backend.created.append(topic)
    producer = await _kafka_producer(backend.servers)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=backend.servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,
    )
    try:
        await _compacted_topic(backend.servers, topic)  # as the store creates it
        await producer.send_and_wait(topic, PAYLOAD.encode(), key=b"start", partition=0)
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        times = []
        for step in range(steps):
            records = [
                (f"h{step + 1}".encode(), PAYLOAD.encode()),
                (f"e{step}".encode(), PAYLOAD.encode()),
                (b"m", PAYLOAD.encode()),
                (f"h{step}".encode(), None),
            ]
            sent = [await producer.send(topic, v, key=k, partition=0) for k, v in records]
            end = (await asyncio.gather(*sent))[-1].offset + 1
            await consumer.end_offsets([partition])
            while await consumer.position(partition) < end:
                await consumer.getmany(partition, timeout_ms=50)
            times.append(time.perf_counter())
        gaps = [b - a for a, b in itertools.pairwise(times)]
        window = min(window, len(gaps) // 2)
        return (sum(gaps[-window:]) / window) / (sum(gaps[:window]) / window)
    finally:
        await consumer.stop()
        await producer.stop()


async def kafka_end_offset_times(backend: Backend, topics: list[str], calls: int) -> list[float]:
    """Median seconds of one end-offsets request per topic, the topics taking turns.

    A fresh ``load`` or ``list`` of the Kafka store asks this once; the
    broker's own cost of it shows how much of the store's growth is the
    broker's.
    """
    import statistics

    from aiokafka import AIOKafkaConsumer, TopicPartition

    assert isinstance(backend, KafkaBackend)
    consumer = AIOKafkaConsumer(bootstrap_servers=backend.servers, enable_auto_commit=False)
    await consumer.start()
    try:
        times: list[list[float]] = [[] for _ in topics]
        for _ in range(calls):
            for index, topic in enumerate(topics):
                started = time.perf_counter()
                await consumer.end_offsets([TopicPartition(topic, 0)])
                times[index].append(time.perf_counter() - started)
        return [statistics.median(each) for each in times]
    finally:
        await consumer.stop()


async def open_ops(backend: Backend, size: int) -> RawOps | None:
    """Raw save/load/list of a ``size``-character value; None for the in-memory store."""
    if isinstance(backend, SQLiteBackend):
        return _sqlite_ops(str(backend.new_path("raw-ops")), size)
    opener = {
        "postgres": _postgres_ops,
        "redis": _redis_ops,
        "nats": _nats_ops,
        "kafka": _kafka_ops,
    }.get(backend.name)
    return None if opener is None else await opener(backend, size)


def _rows(size: int) -> list[tuple[str, str, str, str]]:
    value = "x" * size
    statuses = ("completed", "completed", "running")
    return [(f"k{i:05d}", statuses[i % 3], f"{i:05d}", value) for i in range(LIST_ROWS)]


_SQL_TABLE = "(k TEXT PRIMARY KEY, status TEXT, created TEXT, v TEXT)"
_SQL_LIST = "SELECT k, v FROM {t} WHERE status = 'running' ORDER BY created, k LIMIT 10"


def _sqlite_ops(path: str, size: int) -> RawOps:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"CREATE TABLE kv {_SQL_TABLE}")
    db.execute("CREATE INDEX kv_by_status ON kv (status, created, k)")
    db.executemany("INSERT INTO kv VALUES (?, ?, ?, ?)", _rows(size))
    value = "x" * size

    def write() -> None:
        db.execute("BEGIN")
        db.execute("UPDATE kv SET v = ? WHERE k = 'k00000'", (value,))
        db.execute("COMMIT")

    # Off the event loop, as the store does: a blocking call would stall every workflow.
    async def save() -> None:
        await asyncio.to_thread(write)

    async def load() -> None:
        await asyncio.to_thread(
            lambda: db.execute("SELECT v FROM kv WHERE k = 'k00000'").fetchone()
        )

    async def list_running() -> None:
        await asyncio.to_thread(lambda: db.execute(_SQL_LIST.format(t="kv")).fetchall())

    async def close() -> None:
        db.close()

    return RawOps(save, load, list_running, close)


async def _postgres_ops(backend: Backend, size: int) -> RawOps:
    import psycopg

    assert backend.url is not None
    schema = f"bench_{_tag()}"
    backend.created.append(schema)
    table = f'"{schema}".kv'
    conn = await psycopg.AsyncConnection.connect(backend.url, autocommit=True)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f"CREATE TABLE {table} {_SQL_TABLE}")
    await conn.execute(f"CREATE INDEX ON {table} (status, created, k)")
    async with conn.cursor() as cursor:
        await cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", _rows(size))
    value = "x" * size

    async def save() -> None:
        await conn.execute(f"UPDATE {table} SET v = %s WHERE k = 'k00000'", (value,))

    async def load() -> None:
        await (await conn.execute(f"SELECT v FROM {table} WHERE k = 'k00000'")).fetchone()

    async def list_running() -> None:
        await (await conn.execute(_SQL_LIST.format(t=table))).fetchall()

    return RawOps(save, load, list_running, conn.close)


async def _redis_ops(backend: Backend, size: int) -> RawOps:
    import redis.asyncio as aioredis

    assert backend.url is not None
    prefix = f"bench-{_tag()}"
    backend.created.append(prefix)
    client = aioredis.Redis.from_url(backend.url)
    rows = _rows(size)
    await client.mset({f"{prefix}:{k}": v for k, _, _, v in rows})
    await client.zadd(
        f"{prefix}:running", {f"{prefix}:{k}": int(c) for k, s, c, _ in rows if s == "running"}
    )
    value = "x" * size
    key = f"{prefix}:k00000"

    async def save() -> None:
        await client.set(key, value)

    async def load() -> None:
        await client.get(key)

    async def list_running() -> None:
        keys = await client.zrange(f"{prefix}:running", 0, 9)
        await client.mget(cast("list[bytes]", keys))

    return RawOps(save, load, list_running, client.aclose)


async def _nats_ops(backend: Backend, size: int) -> RawOps:
    import nats

    assert backend.url is not None
    bucket = f"bench_{_tag()}"
    backend.created.append(bucket)
    client = await nats.connect(backend.url)
    js = client.jetstream()
    kv = await js.create_key_value(bucket=f"{bucket}-data", history=1)
    rows = _rows(size)
    value = ("x" * size).encode()
    for start in range(0, len(rows), 50):
        await asyncio.gather(*(kv.put(k, v.encode()) for k, _, _, v in rows[start : start + 50]))
    # The first ten running keys in order, under one key: the least a list must read.
    running = sorted((c, k) for k, s, c, _ in rows if s == "running")[:10]
    await kv.put("running", json.dumps([k for _, k in running]).encode())

    async def save() -> None:
        await kv.put("k00000", value)

    async def load() -> None:
        await kv.get("k00000")

    async def list_running() -> None:
        first = json.loads((await kv.get("running")).value or b"[]")
        await asyncio.gather(*(kv.get(k) for k in first))

    return RawOps(save, load, list_running, client.close)


async def _kafka_ops(backend: Backend, size: int) -> RawOps:
    assert isinstance(backend, KafkaBackend)
    topic = f"bench-{_tag()}"
    backend.created.append(topic)
    producer = await _kafka_producer(backend.servers)
    value = ("x" * size).encode()
    await producer.send_and_wait(topic, value, key=b"k00000")

    async def save() -> None:
        await producer.send_and_wait(topic, value, key=b"k00000")

    return RawOps(save, None, None, producer.stop)
