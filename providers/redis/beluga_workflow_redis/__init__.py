"""Redis store for beluga-workflow.

Importing this package does not import redis-py: the store module loads on
first use of :class:`RedisStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports
from beluga_workflow_redis.config import RedisConfig

if TYPE_CHECKING:
    from beluga_workflow_redis.store import RedisStore

__all__ = ["RedisConfig", "RedisStore"]

__getattr__ = lazy_exports(__name__, {"RedisStore": "beluga_workflow_redis.store"})
