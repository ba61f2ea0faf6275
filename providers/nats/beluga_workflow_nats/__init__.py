"""NATS JetStream key-value store for beluga-workflow.

Importing this package does not import nats-py: the store module loads on
first use of :class:`NatsStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports
from beluga_workflow_nats.config import NatsConfig

if TYPE_CHECKING:
    from beluga_workflow_nats.store import NatsStore

__all__ = ["NatsConfig", "NatsStore"]

__getattr__ = lazy_exports(__name__, {"NatsStore": "beluga_workflow_nats.store"})
