"""The whole contract suite on the SQLite store, two-process durability included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_sqlite import SQLiteStore


class TestSQLiteContract(StoreContract):
    capabilities = frozenset(
        {"durable", "ordered_list", "append_history", "optimistic_concurrency", "multi_process"}
    )

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return SQLiteStore(str(tmp_path / "contract.db"))

        return open_one

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'contract.db'}"
