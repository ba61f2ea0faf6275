"""Declares the PostgreSQL store to beluga-workflow; imports no database code."""

from __future__ import annotations

from beluga_workflow import Capability, StoreProvider, hookimpl
from beluga_workflow_postgres.config import PostgresConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="postgres",
            factory="beluga_workflow_postgres.store:create_store",
            config_model=PostgresConfig,
            url_schemes=PostgresConfig.url_schemes,
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
            description="PostgreSQL via psycopg 3 with a connection pool.",
        )
    ]
