"""The whole contract suite against a running Kafka-protocol broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests import StoreContract, StorePoison
from beluga_workflow_kafka import KafkaStore


class TestKafkaContract(StoreContract):
    provider_name = "kafka"
    max_examples = 10

    @pytest.fixture
    def store_factory(self, broker: object, topic: str) -> Callable[[], Awaitable[WorkflowStore]]:
        address = broker.address  # type: ignore[attr-defined]

        async def open_one() -> WorkflowStore:
            return KafkaStore(f"kafka://{address}/{topic}")

        return open_one

    @pytest.fixture
    def namespace_factory(
        self, broker: object, topic: str
    ) -> Callable[[str], Awaitable[WorkflowStore]]:
        address = broker.address  # type: ignore[attr-defined]

        async def open_in(suffix: str) -> WorkflowStore:
            return KafkaStore(f"kafka://{address}/{topic}{suffix}")

        return open_in

    @pytest.fixture
    def store_spec(self, broker: object, topic: str) -> str:
        return f"kafka://{broker.address}/{topic}"  # type: ignore[attr-defined]

    @pytest.fixture
    def store_poison(self) -> StorePoison:
        async def poison(store: WorkflowStore, workflow_id: str) -> None:
            """Writes a meta record (the commit point of a state) that is not JSON."""
            assert isinstance(store, KafkaStore)

            async def write() -> None:
                await store._produce(workflow_id, [(b"m\0" + workflow_id.encode(), b"{not json")])

            await store._call("poison", write)

        return poison
