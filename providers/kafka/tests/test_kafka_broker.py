"""The broker going away and coming back, and the topic the store creates."""

from __future__ import annotations

import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from beluga_workflow import (
    EventType,
    HistoryEvent,
    StoreUnavailableError,
    WorkflowState,
    WorkflowStore,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_checks import SLACK, Outage
from beluga_workflow_contract_tests.server_contract import (
    OutageFactory,
    ServerStoreContract,
    UnreachableFactory,
)
from beluga_workflow_kafka import KafkaStore
from beluga_workflow_kafka.testing import TansuBroker

OUTAGE_STOP_SECONDS = 4.0
"""What docs/providers/kafka.md says a running workflow needs to stop in an outage."""


class TestKafkaServer(ServerStoreContract):
    provider_name = "kafka"
    outage_stop_seconds = OUTAGE_STOP_SECONDS

    def check_outage_error(self, error: StoreUnavailableError) -> None:
        assert "kafka store at kafka://127.0.0.1:" in str(error)

    @pytest.fixture
    def outage_factory(
        self, proxied_broker: tuple[TansuBroker, OutageProxy], topic: str
    ) -> OutageFactory:
        """A store on a broker of its own that it reaches only through a proxy the test cuts."""
        _, proxy = proxied_broker

        async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Outage]:
            await proxy.start()
            options = {} if operation_timeout is None else {"operation_timeout": operation_timeout}
            return KafkaStore(f"kafka://{proxy.address}/{topic}", **options), proxy

        return open_cut_off

    @pytest.fixture
    def unreachable_factory(self) -> UnreachableFactory:
        return lambda: KafkaStore("kafka://127.0.0.1:9/none", operation_timeout=2.0)


async def test_broker_stopped_mid_run_then_restarted(own_broker: object) -> None:
    """The broker process itself dies (in-memory, so a new store starts over)."""
    broker = own_broker
    address = broker.address  # type: ignore[attr-defined]
    store = KafkaStore(f"kafka://{address}/outage", operation_timeout=3.0)
    try:
        await store.save(WorkflowState(workflow_id="before"))
        broker.stop()  # type: ignore[attr-defined]
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="kafka store at kafka://"):
            await store.save(WorkflowState(workflow_id="during"))
        assert time.monotonic() - started < 3.0 + SLACK
    finally:
        await store.close()
    broker.start()  # type: ignore[attr-defined]
    again = KafkaStore(f"kafka://{address}/outage", operation_timeout=5.0)
    try:
        await again.save(WorkflowState(workflow_id="after"))
        loaded = await again.load("after")
        assert loaded is not None
        assert loaded.workflow_id == "after"
    finally:
        await again.close()


async def test_the_topic_is_created_compacted(broker: object, topic: str) -> None:
    address = broker.address  # type: ignore[attr-defined]
    async with open_store(f"kafka://{address}/{topic}") as store:
        await store.save(WorkflowState(workflow_id="w"))
    admin = AIOKafkaAdminClient(bootstrap_servers=address)
    await admin.start()
    try:
        assert topic in await admin.list_topics()
    finally:
        await admin.close()


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="sasl_plain_password") as info:
        open_store("kafka://user:s3cret@127.0.0.1:9092/topic")
    assert "s3cret" not in str(info.value)


async def test_another_instance_sees_each_multi_record_write_at_once(
    broker: object, topic: str
) -> None:
    """Each step is one batch of several records, the meta record last.

    Tansu reports a partition's end as one past the first offset of its last
    batch; the reader must still read that whole batch before answering.
    """
    url = f"kafka://{broker.address}/{topic}"  # type: ignore[attr-defined]
    state = WorkflowState(workflow_id="w")
    async with KafkaStore(url) as writer, KafkaStore(url) as reader:
        await writer.save(state)
        for step in range(30):
            state.history.append(HistoryEvent(id=step, type=EventType.ACTIVITY_COMPLETED))
            state.result = step
            await writer.append(state, 1)
            assert await reader.load("w") == state
