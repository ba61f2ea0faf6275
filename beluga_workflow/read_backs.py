"""Reading a run back when the store says it changed: one read at a time, none missed.

Notices for one run may come while it is being read back. That read may have
begun before the change the new notice is about, so the notice is not
dropped: one more read follows the current one, however many notices came
meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["ReadBacks"]

ReadBack = Callable[[], Coroutine[Any, Any, None]]


class ReadBacks:
    """The read-backs of one executor's runs, by workflow id."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, ReadBack] = {}
        """The read to make once the one under way ends (the latest asked for: a new run's)."""

    def request(self, workflow_id: str, read: ReadBack) -> None:
        """Run ``read`` now, or once more after the read of ``workflow_id`` under way."""
        if workflow_id in self._running:
            self._again[workflow_id] = read
            return
        task = asyncio.get_running_loop().create_task(read())
        self._running[workflow_id] = task
        task.add_done_callback(lambda _: self._done(workflow_id))

    def _done(self, workflow_id: str) -> None:
        del self._running[workflow_id]
        read = self._again.pop(workflow_id, None)
        if read is not None:
            self.request(workflow_id, read)

    def __contains__(self, workflow_id: object) -> bool:
        """Whether a read of ``workflow_id`` is under way."""
        return workflow_id in self._running
