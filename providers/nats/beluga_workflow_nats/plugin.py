"""Declares the NATS JetStream KV store to beluga-workflow; imports no NATS client code."""

from __future__ import annotations

from beluga_workflow import Capability, StoreProvider, hookimpl
from beluga_workflow_nats.config import NatsConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="nats",
            factory="beluga_workflow_nats.store:create_store",
            config_model=NatsConfig,
            url_schemes=NatsConfig.url_schemes,
            capabilities=frozenset(
                {
                    Capability.DURABLE,
                    Capability.ORDERED_LIST,
                    Capability.APPEND_HISTORY,
                    Capability.OPTIMISTIC_CONCURRENCY,
                    Capability.COMPARE_AND_APPEND,
                    Capability.MULTI_PROCESS,
                    Capability.WATCH,
                }
            ),
            description="NATS JetStream key-value buckets; chunked values, reversible keys.",
        )
    ]
