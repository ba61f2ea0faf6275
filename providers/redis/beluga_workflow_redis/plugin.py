"""Declares the Redis store to beluga-workflow; imports no Redis client code."""

from __future__ import annotations

from beluga_workflow import Capability, StoreProvider, hookimpl
from beluga_workflow_redis.config import RedisConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="redis",
            factory="beluga_workflow_redis.store:create_store",
            config_model=RedisConfig,
            url_schemes=RedisConfig.url_schemes,
            capabilities=frozenset(
                {
                    Capability.DURABLE,
                    Capability.ORDERED_LIST,
                    Capability.APPEND_HISTORY,
                    Capability.OPTIMISTIC_CONCURRENCY,
                    Capability.COMPARE_AND_APPEND,
                    Capability.MULTI_PROCESS,
                    Capability.WATCH,
                    Capability.QUEUE_DISPATCH,
                }
            ),
            description="Redis (or a compatible server); atomic Lua scripts, status indexes.",
        )
    ]
