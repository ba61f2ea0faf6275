"""The backends' own notification round trips: the baseline of the latency benchmark.

Each returns the seconds from just before one client sends a notice to the
moment another connection has it, ``samples`` times, with the backend's own
client and nothing of beluga-workflow: PostgreSQL NOTIFY to LISTEN, Redis
PUBLISH to SUBSCRIBE, a NATS KV put to a KV watch, and for SQLite (which
cannot push) a committed write found by a ``PRAGMA data_version`` poll every
``interval`` seconds, as the SQLite store's watch polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
import uuid
from pathlib import Path

from benchmarks.backends import Backend, SQLiteBackend

__all__ = ["SQLITE_WATCH_INTERVAL", "notify_round_trips"]

SQLITE_WATCH_INTERVAL = 0.02
"""The SQLite store's default ``watch_interval``."""

_TIMEOUT = 10.0


async def notify_round_trips(backend: Backend, samples: int) -> list[float]:
    if backend.name == "postgres":
        return await _postgres(backend, samples)
    if backend.name == "redis":
        return await _redis(backend, samples)
    if backend.name == "nats":
        return await _nats(backend, samples)
    if isinstance(backend, SQLiteBackend):
        return await _sqlite(backend.new_path("notify"), samples)
    raise ValueError(f"no raw notification for {backend.label}")


async def _pause() -> None:
    await asyncio.sleep(random.uniform(0.002, 0.006))


async def _postgres(backend: Backend, samples: int) -> list[float]:
    import psycopg

    assert backend.url is not None
    channel = f"bench_{uuid.uuid4().hex[:8]}"
    listener = await psycopg.AsyncConnection.connect(backend.url, autocommit=True)
    sender = await psycopg.AsyncConnection.connect(backend.url, autocommit=True)
    try:
        await listener.execute(f"LISTEN {channel}")
        notices = listener.notifies()
        seconds = []
        for n in range(samples):
            await _pause()
            began = time.monotonic()
            await sender.execute("SELECT pg_notify(%s, %s)", (channel, str(n)))
            notice = await asyncio.wait_for(anext(notices), _TIMEOUT)
            seconds.append(time.monotonic() - began)
            assert notice.payload == str(n)
        return seconds
    finally:
        await sender.close()
        await listener.close()


async def _redis(backend: Backend, samples: int) -> list[float]:
    import redis.asyncio as aioredis

    assert backend.url is not None
    channel = f"bench-{uuid.uuid4().hex[:8]}"
    listener = aioredis.Redis.from_url(backend.url)
    sender = aioredis.Redis.from_url(backend.url)
    subscription = listener.pubsub()
    try:
        await subscription.subscribe(channel)
        await subscription.get_message(timeout=_TIMEOUT)  # the subscribe confirmation
        seconds = []
        for n in range(samples):
            await _pause()
            began = time.monotonic()
            await sender.publish(channel, str(n))
            message = await subscription.get_message(
                ignore_subscribe_messages=True, timeout=_TIMEOUT
            )
            seconds.append(time.monotonic() - began)
            assert message is not None
            assert message["data"] == str(n).encode()
        return seconds
    finally:
        await subscription.aclose()
        await listener.aclose()
        await sender.aclose()


async def _nats(backend: Backend, samples: int) -> list[float]:
    import nats

    assert backend.url is not None
    bucket = f"bench_notify_{uuid.uuid4().hex[:8]}"
    listener = await nats.connect(backend.url)
    sender = await nats.connect(backend.url)
    try:
        watched = await listener.jetstream().create_key_value(bucket=bucket)
        kv = await sender.jetstream().key_value(bucket)
        watcher = await watched.watchall()
        with contextlib.suppress(Exception):
            await watcher.updates(timeout=1.0)  # the empty bucket's end-of-history marker
        seconds = []
        for n in range(samples):
            await _pause()
            began = time.monotonic()
            await kv.put("k", str(n).encode())
            entry = await watcher.updates(timeout=_TIMEOUT)
            seconds.append(time.monotonic() - began)
            assert entry is not None
            assert entry.value == str(n).encode()
        await watcher.stop()
        return seconds
    finally:
        with contextlib.suppress(Exception):
            await listener.jetstream().delete_key_value(bucket)
        await sender.close()
        await listener.close()


async def _sqlite(path: Path, samples: int) -> list[float]:
    writer = sqlite3.connect(path, isolation_level=None)
    watcher = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE notices (n INTEGER)")
        seen = int(watcher.execute("PRAGMA data_version").fetchone()[0])

        async def watch(count: int) -> list[float]:
            nonlocal seen
            found = []
            while len(found) < count:
                version = int(watcher.execute("PRAGMA data_version").fetchone()[0])
                if version != seen:
                    seen = version
                    watcher.execute("SELECT max(n) FROM notices").fetchone()
                    found.append(time.monotonic())
                await asyncio.sleep(SQLITE_WATCH_INTERVAL)
            return found

        async def write(count: int) -> list[float]:
            sent = []
            for n in range(count):
                await asyncio.sleep(random.uniform(0.03, 0.05))  # past one look, at a random phase
                sent.append(time.monotonic())
                writer.execute("INSERT INTO notices VALUES (?)", (n,))
            return sent

        found, sent = await asyncio.gather(watch(samples), write(samples))
        return [seen_at - sent_at for seen_at, sent_at in zip(found, sent, strict=True)]
    finally:
        writer.close()
        watcher.close()
