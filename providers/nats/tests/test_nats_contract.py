"""The whole contract suite against the real NATS JetStream server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest

from beluga_workflow import WorkflowState, WorkflowStore
from beluga_workflow_contract_tests import StoreContract, StorePoison
from beluga_workflow_contract_tests.poison import UNREADABLE_JSON
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.store import key_of


class TestNatsContract(StoreContract):
    provider_name = "nats"
    max_examples = 15

    @pytest.fixture
    def store_factory(self, nats_url: str, bucket: str) -> Callable[[], Awaitable[WorkflowStore]]:
        async def open_one() -> WorkflowStore:
            return NatsStore(nats_url, bucket=bucket)

        return open_one

    @pytest.fixture
    def namespace_factory(
        self, nats_url: str, bucket: str
    ) -> Callable[[str], Awaitable[WorkflowStore]]:
        async def open_in(suffix: str) -> WorkflowStore:
            return NatsStore(nats_url, bucket=bucket + suffix)

        return open_in

    @pytest.fixture
    def store_spec(self, nats_url: str, bucket: str) -> dict[str, Any]:
        return {"url": nats_url, "bucket": bucket}

    @pytest.fixture
    def store_poison(self, nats_url: str, bucket: str) -> StorePoison:
        async def poison(store: WorkflowStore, workflow_id: str) -> None:
            """Saves a small state, then replaces the head kept inline in its meta record."""
            await store.save(WorkflowState(workflow_id=workflow_id))
            client = await nats.connect(nats_url)
            try:
                meta = await client.jetstream().key_value(f"{bucket}-meta")
                entry = await meta.get(key_of(workflow_id))
                assert entry.value is not None
                record, _, _ = entry.value.partition(b"\n")
                await meta.put(key_of(workflow_id), record + b"\n" + UNREADABLE_JSON.encode())
            finally:
                await client.close()

        return poison
