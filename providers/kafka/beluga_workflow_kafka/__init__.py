"""Kafka store for beluga-workflow.

Importing this package does not import aiokafka: the store module loads on
first use of :class:`KafkaStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports
from beluga_workflow_kafka.config import KafkaConfig

if TYPE_CHECKING:
    from beluga_workflow_kafka.store import KafkaStore

__all__ = ["KafkaConfig", "KafkaStore"]

__getattr__ = lazy_exports(__name__, {"KafkaStore": "beluga_workflow_kafka.store"})
