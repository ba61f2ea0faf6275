"""Fresh buckets per test on the real NATS server (JetStream), deleted afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import nats
import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_checks import Outage
from beluga_workflow_contract_tests.server_contract import OutageFactory
from beluga_workflow_contract_tests.servers import require_server
from beluga_workflow_nats import NatsStore

NATS_URL = os.environ.get("BELUGA_TEST_NATS_URL", "nats://127.0.0.1:4222")
HOW_TO_START = "nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/nats (or set BELUGA_TEST_NATS_URL)"


@pytest.fixture
def nats_url() -> str:
    parts = urlsplit(NATS_URL)
    require_server("NATS", parts.hostname or "127.0.0.1", parts.port or 4222, HOW_TO_START)
    return NATS_URL


async def _delete_buckets(url: str, bucket: str) -> None:
    """The test's buckets and those of the namespaces it nested in its name."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith(f"KV_{bucket}"):
                with contextlib.suppress(Exception):
                    await js.delete_stream(name)
    finally:
        await client.close()


@pytest.fixture
def bucket(nats_url: str) -> Iterator[str]:
    name = f"bw_test_{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(_delete_buckets(nats_url, name))


@pytest.fixture
def outage_factory(nats_url: str, bucket: str) -> OutageFactory:
    """A store on the test's namespace that reaches the server through an OutageProxy."""
    target = urlsplit(nats_url)

    async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Outage]:
        proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 4222)
        await proxy.start()
        options = {} if operation_timeout is None else {"operation_timeout": operation_timeout}
        return NatsStore(f"nats://127.0.0.1:{proxy.port}", bucket=bucket, **options), proxy

    return open_cut_off
