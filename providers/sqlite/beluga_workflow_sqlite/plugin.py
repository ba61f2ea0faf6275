"""Declares the SQLite store to beluga-workflow; imports no database code."""

from __future__ import annotations

from beluga_workflow import Capability, StoreProvider, hookimpl
from beluga_workflow_sqlite.config import SQLiteConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="sqlite",
            factory="beluga_workflow_sqlite.store:create_store",
            config_model=SQLiteConfig,
            url_schemes=SQLiteConfig.url_schemes,
            capabilities=frozenset(
                {
                    Capability.DURABLE,
                    Capability.ORDERED_LIST,
                    Capability.APPEND_HISTORY,
                    Capability.OPTIMISTIC_CONCURRENCY,
                    Capability.COMPARE_AND_APPEND,
                    Capability.WATCH,
                    Capability.MULTI_PROCESS,
                }
            ),
            description="Embedded SQLite file in WAL mode; durable, no server needed.",
        )
    ]
