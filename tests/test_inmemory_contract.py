"""The in-memory store passes the whole store contract, through the base class."""

from __future__ import annotations

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.watching import MAX_BACKLOG
from beluga_workflow_contract_tests import StoreContract, StoreFactory, StorePoison
from beluga_workflow_contract_tests.poison import poison_in_memory


class TestInMemoryStoreContract(StoreContract):
    provider_name = "inmemory"
    watch_backlog = MAX_BACKLOG + 500  # past the bound, where notices give way to one None

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        async def open_one() -> WorkflowStore:
            return InMemoryStore()

        return open_one

    @pytest.fixture
    def store_poison(self) -> StorePoison:
        return poison_in_memory
