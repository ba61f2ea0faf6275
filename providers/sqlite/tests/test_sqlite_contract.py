"""The whole contract suite on the SQLite store, two-process durability included."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from beluga_workflow import WorkflowState, WorkflowStore
from beluga_workflow_contract_tests import StoreContract, StorePoison
from beluga_workflow_contract_tests.poison import UNREADABLE_JSON
from beluga_workflow_sqlite import SQLiteStore
from beluga_workflow_sqlite.config import SQLiteConfig


class TestSQLiteContract(StoreContract):
    provider_name = "sqlite"

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return SQLiteStore(str(tmp_path / "contract.db"))

        return open_one

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'contract.db'}"

    @pytest.fixture
    def store_poison(self, tmp_path: Path) -> StorePoison:
        async def poison(store: WorkflowStore, workflow_id: str) -> None:
            await store.save(WorkflowState(workflow_id=workflow_id))
            with contextlib.closing(sqlite3.connect(tmp_path / "contract.db")) as db, db:
                db.execute(
                    "UPDATE workflows SET head = ? WHERE workflow_id = ?",
                    (UNREADABLE_JSON, workflow_id),
                )

        return poison


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
