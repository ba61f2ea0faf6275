"""The whole contract suite against the real Redis server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from beluga_workflow import WorkflowState, WorkflowStore
from beluga_workflow_contract_tests import StoreContract, StorePoison
from beluga_workflow_contract_tests.poison import UNREADABLE_JSON
from beluga_workflow_redis import RedisStore


class TestRedisContract(StoreContract):
    provider_name = "redis"

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

    @pytest.fixture
    def store_poison(self, redis_url: str, prefix: str) -> StorePoison:
        async def poison(store: WorkflowStore, workflow_id: str) -> None:
            """Saves a state, then overwrites its head wherever the store keeps it."""
            await store.save(WorkflowState(workflow_id=workflow_id))
            client = aioredis.Redis.from_url(redis_url)
            try:
                heads = [
                    key
                    async for key in client.scan_iter(match=f"{prefix}*", _type="hash")
                    if _holds_head_of(await client.hget(key, "head"), workflow_id)
                ]
                assert len(heads) == 1, heads
                await client.hset(heads[0], "head", UNREADABLE_JSON)
            finally:
                await client.aclose()

        return poison


def _holds_head_of(head: bytes | None, workflow_id: str) -> bool:
    return head is not None and json.loads(head).get("workflow_id") == workflow_id
