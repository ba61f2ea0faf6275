"""The whole contract suite against the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from beluga_workflow import WorkflowState, WorkflowStore
from beluga_workflow_contract_tests import StoreContract, StorePoison
from beluga_workflow_contract_tests.poison import UNREADABLE_JSON
from beluga_workflow_postgres import PostgresStore


class TestPostgresContract(StoreContract):
    provider_name = "postgres"

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

    @pytest.fixture
    def store_poison(self, postgres_url: str, schema: str) -> StorePoison:
        update = sql.SQL("UPDATE {}.workflows SET head = %s WHERE workflow_id = %s").format(
            sql.Identifier(schema)
        )

        async def poison(store: WorkflowStore, workflow_id: str) -> None:
            await store.save(WorkflowState(workflow_id=workflow_id))
            async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
                await db.execute(update, (UNREADABLE_JSON, workflow_id))

        return poison
