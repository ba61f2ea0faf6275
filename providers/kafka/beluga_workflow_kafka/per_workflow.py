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


class _Turns:
    """The lock of one workflow and how many calls hold or await it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class PerWorkflowLocks:
    """A lock per workflow id, kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turns] = {}

    @contextlib.asynccontextmanager
    async def hold(self, workflow_id: str) -> AsyncIterator[None]:
        turns = self._turns.setdefault(workflow_id, _Turns())
        turns.users += 1
        try:
            async with turns.lock:
                yield
        finally:
            turns.users -= 1
            if not turns.users:
                del self._turns[workflow_id]

    def __len__(self) -> int:
        """How many workflows are being written or waited for."""
        return len(self._turns)
