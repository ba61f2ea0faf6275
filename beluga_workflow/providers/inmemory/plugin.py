"""Registers the in-memory store through the same entry point as every other provider."""

from __future__ import annotations

from beluga_workflow.capabilities import Capability
from beluga_workflow.hookspecs import hookimpl
from beluga_workflow.plugins.provider import StoreProvider
from beluga_workflow.providers.inmemory.config import InMemoryConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="inmemory",
            factory="beluga_workflow.providers.inmemory.store:create_store",
            config_model=InMemoryConfig,
            url_schemes=InMemoryConfig.url_schemes,
            capabilities=frozenset(
                {
                    Capability.APPEND_HISTORY,
                    Capability.OPTIMISTIC_CONCURRENCY,
                    Capability.COMPARE_AND_APPEND,
                    Capability.WATCH,
                }
            ),
            description="Process memory; lost on exit. The default, for development and tests.",
        )
    ]
