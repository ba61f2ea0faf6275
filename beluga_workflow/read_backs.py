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
        self._again: set[str] = set()

    def request(self, workflow_id: str, read: ReadBack) -> None:
        """Run ``read`` now, or once more after the read of ``workflow_id`` under way."""
        if workflow_id in self._running:
            self._again.add(workflow_id)
            return
        task = asyncio.get_running_loop().create_task(read())
        self._running[workflow_id] = task
        task.add_done_callback(lambda _: self._done(workflow_id, read))

    def _done(self, workflow_id: str, read: ReadBack) -> None:
        del self._running[workflow_id]
        if workflow_id in self._again:
            self._again.discard(workflow_id)
            self.request(workflow_id, read)

    def __contains__(self, workflow_id: object) -> bool:
        """Whether a read of ``workflow_id`` is under way."""
        return workflow_id in self._running
