"""The whole contract suite against the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_postgres import PostgresStore


class TestPostgresContract(StoreContract):
    capabilities = frozenset(
        {"durable", "ordered_list", "append_history", "optimistic_concurrency", "multi_process"}
    )

    @pytest.fixture
    def store_factory(
        self, postgres_url: str, schema: str
    ) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return PostgresStore(postgres_url, schema=schema, pool_max_size=4)

        return open_one

    @pytest.fixture
    def namespace_factory(
        self, postgres_url: str, schema: str
    ) -> Callable[[str], Awaitable[WorkflowStore]]:
        async def open_in(suffix: str) -> WorkflowStore:
            return PostgresStore(postgres_url, schema=schema + suffix, pool_max_size=2)

        return open_in

    @pytest.fixture
    def store_spec(self, postgres_url: str, schema: str) -> dict[str, Any]:
        return {"url": postgres_url, "schema": schema}
