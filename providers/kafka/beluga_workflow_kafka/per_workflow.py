"""One write at a time per workflow within a store; writes of different workflows overlap.

A write checks the view, produces, and applies what was acknowledged. Two
writes of one workflow in one store must not both check the same view, so
they take turns; writes of other workflows do not wait for them, and their
records share the producer's batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["PerWorkflowLocks"]


class PerWorkflowLocks:
    """A lock per workflow id, kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, workflow_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(workflow_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[workflow_id]

    def __len__(self) -> int:
        """How many workflows are being written or waited for."""
        return len(self._locks)
