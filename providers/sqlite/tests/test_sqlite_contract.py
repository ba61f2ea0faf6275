"""The whole contract suite on the SQLite store, two-process durability included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract
from beluga_workflow_sqlite import SQLiteStore
from beluga_workflow_sqlite.config import SQLiteConfig


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


class TestSQLiteContractAllOnTheStoreThread(TestSQLiteContract):
    """The same contract with ``inline_when_idle`` off: every operation goes through the queue."""

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            path = str(tmp_path / "contract.db")
            return SQLiteStore(config=SQLiteConfig(path=path, inline_when_idle=False))

        return open_one

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> dict[str, object]:
        path = str(tmp_path / "contract.db")
        return {"provider": "sqlite", "path": path, "inline_when_idle": False}
