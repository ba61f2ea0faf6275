"""The whole contract suite against the real Redis server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_redis import RedisStore


class TestRedisContract(StoreContract):
    capabilities = frozenset(
        {"durable", "ordered_list", "append_history", "optimistic_concurrency", "multi_process"}
    )

    @pytest.fixture
    def store_factory(self, redis_url: str, prefix: str) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return RedisStore(redis_url, prefix=prefix)

        return open_one

    @pytest.fixture
    def namespace_factory(
        self, redis_url: str, prefix: str
    ) -> Callable[[str], Awaitable[WorkflowStore]]:
        async def open_in(suffix: str) -> WorkflowStore:
            return RedisStore(redis_url, prefix=prefix + suffix)

        return open_in

    @pytest.fixture
    def store_spec(self, redis_url: str, prefix: str) -> dict[str, Any]:
        return {"url": redis_url, "prefix": prefix}
