"""Kafka store for beluga-workflow.

Importing this package does not import aiokafka: the store module loads on
first use of :class:`KafkaStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beluga_workflow_kafka.config import KafkaConfig

if TYPE_CHECKING:
    from beluga_workflow_kafka.store import KafkaStore

__all__ = ["KafkaConfig", "KafkaStore"]


def __getattr__(name: str) -> Any:
    if name == "KafkaStore":
        from beluga_workflow_kafka.store import KafkaStore

        return KafkaStore
    raise AttributeError(name)
