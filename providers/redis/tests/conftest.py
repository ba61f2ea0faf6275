"""A fresh key prefix per test on the real Redis server, deleted afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_checks import Outage
from beluga_workflow_contract_tests.server_contract import OutageFactory
from beluga_workflow_contract_tests.servers import require_server
from beluga_workflow_redis import RedisStore

REDIS_URL = os.environ.get("BELUGA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOW_TO_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
    "(or set BELUGA_TEST_REDIS_URL)"
)


@pytest.fixture
def redis_url() -> str:
    parts = urlsplit(REDIS_URL)
    require_server("Redis", parts.hostname or "127.0.0.1", parts.port or 6379, HOW_TO_START)
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"bw-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        # {name}* also finds the keys of prefixes the tests nest inside this one.
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@pytest.fixture
def outage_factory(redis_url: str, prefix: str) -> OutageFactory:
    """A store on the test's namespace that reaches the server through an OutageProxy."""
    target = urlsplit(redis_url)

    async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Outage]:
        proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 6379)
        await proxy.start()
        options = {} if operation_timeout is None else {"operation_timeout": operation_timeout}
        url = f"redis://127.0.0.1:{proxy.port}{target.path}"
        return RedisStore(url, prefix=prefix, **options), proxy

    return open_cut_off
