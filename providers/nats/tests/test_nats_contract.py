"""The whole contract suite against the real NATS JetStream server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_nats import NatsStore


class TestNatsContract(StoreContract):
    capabilities = frozenset(
        {"durable", "ordered_list", "append_history", "optimistic_concurrency", "multi_process"}
    )
    max_examples = 15

    @pytest.fixture
    def store_factory(self, nats_url: str, bucket: str) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return NatsStore(nats_url, bucket=bucket)

        return open_one

    @pytest.fixture
    def namespace_factory(
        self, nats_url: str, bucket: str
    ) -> Callable[[str], Awaitable[WorkflowStore]]:
        async def open_in(suffix: str) -> WorkflowStore:
            return NatsStore(nats_url, bucket=bucket + suffix)

        return open_in

    @pytest.fixture
    def store_spec(self, nats_url: str, bucket: str) -> dict[str, Any]:
        return {"url": nats_url, "bucket": bucket}
