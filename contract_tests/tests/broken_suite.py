"""The contract suite, run against whichever store class the ``chosen_store`` fixture gives.

Not collected on its own (the name does not start with ``test_``): the proof
tests run it in a separate pytest session with a plugin providing the fixture.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from beluga_workflow_contract_tests import StoreContract


class TestChosenStore(StoreContract):
    max_examples = 15
    watch_timeout = 0.5
    watch_reconnect_timeout = 1.0

    @pytest.fixture
    def contract_capabilities(self, chosen_store: Any) -> Collection[str]:
        return frozenset(chosen_store.capabilities)

    @pytest.fixture
    def contract_shared_namespace(self, chosen_store: Any) -> bool:
        return bool(getattr(chosen_store, "shared_namespace", False))

    @pytest.fixture
    def store_factory(self, chosen_store: Any) -> Any:
        return chosen_store.factory()

    @pytest.fixture
    def store_poison(self, chosen_store: Any) -> Any:
        return chosen_store.poison

    @pytest.fixture
    def namespace_factory(self, chosen_store: Any, store_factory: Any) -> Any:
        return chosen_store.namespace_factory()

    @pytest.fixture
    def outage_factory(self, chosen_store: Any, store_factory: Any) -> Any:
        return chosen_store.outage_factory(store_factory)
