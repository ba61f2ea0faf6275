"""Declares the Kafka store to beluga-workflow; imports no Kafka client code."""

from __future__ import annotations

from beluga_workflow import Capability, StoreProvider, hookimpl
from beluga_workflow_kafka.config import KafkaConfig


@hookimpl
def beluga_workflow_store_providers() -> list[StoreProvider]:
    return [
        StoreProvider(
            name="kafka",
            factory="beluga_workflow_kafka.store:create_store",
            config_model=KafkaConfig,
            url_schemes=KafkaConfig.url_schemes,
            capabilities=frozenset(
                {
                    Capability.DURABLE,
                    Capability.ORDERED_LIST,
                    Capability.APPEND_HISTORY,
                    Capability.MULTI_PROCESS,
                }
            ),
            description="Compacted Kafka topic read through a materialized view.",
        )
    ]
