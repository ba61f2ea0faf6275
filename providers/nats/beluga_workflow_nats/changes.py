"""What one watcher of a NATS store has been told and not yet taken: a bounded backlog."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

__all__ = ["BACKLOG", "Inbox"]

BACKLOG: Final = 10_000
"""Notices a watcher may leave untaken; beyond, they are dropped for one ``None``."""


class Inbox:
    """The notices for one ``watch()``, filled by the subscription's callback.

    It starts with ``None`` (the watch is live). The callback never waits: a
    watcher that falls ``BACKLOG`` notices behind loses them and gets one
    ``None`` instead (read again), so a slow watcher never holds up the client
    that the writes share.
    """

    def __init__(self) -> None:
        self._notices: deque[str | None] = deque([None])
        self._arrived = asyncio.Event()
        self._arrived.set()
        self.ended = False

    def put(self, notice: str | None) -> None:
        if self.ended:
            return
        if len(self._notices) >= BACKLOG:
            self._notices.clear()
            notice = None
        self._notices.append(notice)
        self._arrived.set()

    def end(self) -> None:
        """The store closed: the watch ends, with whatever was not taken."""
        self.ended = True
        self._arrived.set()

    async def get(self) -> tuple[bool, str | None]:
        """``(True, notice)``, the next notice, or ``(False, None)`` once ended."""
        while not self._notices and not self.ended:
            self._arrived.clear()
            await self._arrived.wait()
        if self.ended:
            return False, None
        return True, self._notices.popleft()
