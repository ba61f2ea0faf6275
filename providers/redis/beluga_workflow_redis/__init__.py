"""Redis store for beluga-workflow.

Importing this package does not import redis-py: the store module loads on
first use of :class:`RedisStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beluga_workflow_redis.config import RedisConfig

if TYPE_CHECKING:
    from beluga_workflow_redis.store import RedisStore

__all__ = ["RedisConfig", "RedisStore"]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from beluga_workflow_redis.store import RedisStore

        return RedisStore
    raise AttributeError(name)
