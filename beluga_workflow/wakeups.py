"""Waking up when the store says something changed, and polling when it cannot say.

A :class:`ChangeFeed` reads a store's :meth:`~beluga_workflow.store.SupportsWatch.watch`
(when the store has it) and hands each changed id to whoever registered for
it: an executor's runs (to take in a signal or a cancel at once), handles
awaiting a result, a worker looking for runs to claim. Every waiter also
wakes after its own timeout, so a store without the ability, or a feed that
lost its connection, only makes wake-ups slower, never missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from beluga_workflow.store import SupportsWatch, WorkflowStore

__all__ = ["ChangeFeed"]

logger = logging.getLogger("beluga_workflow.wakeups")

_RETRY_SECONDS = 1.0
"""How long a feed whose watch failed waits before it watches again."""


class ChangeFeed:
    """The changes one store reports, for the waiters of one executor.

    ``on_change`` is called with each changed id, and with ``None`` when
    changes may have been missed (the watch started or restarted).
    """

    def __init__(self, store: WorkflowStore, on_change: Callable[[str | None], None]) -> None:
        self.pushes = isinstance(store, SupportsWatch)
        """Whether the store says what changed (else every wait is a poll)."""
        self._store = store
        self._on_change = on_change
        self._waiters: dict[str | None, set[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Begin watching, if the store can be watched and nobody started it yet."""
        if self.pushes and self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="watch")

    async def wait(self, workflow_id: str | None, seconds: float) -> None:
        """Return when ``workflow_id`` (any id, if ``None``) changes, or after ``seconds``."""
        self.start()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiters.setdefault(workflow_id, set())
        waiting.add(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), seconds)
        except TimeoutError:
            pass
        finally:
            waiting.discard(future)
            if not waiting:
                self._waiters.pop(workflow_id, None)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._wake(None)

    async def _follow(self) -> None:
        store = self._store
        assert isinstance(store, SupportsWatch)
        while not self._closed:
            changes: AsyncIterator[str | None] = store.watch()
            try:
                async for workflow_id in changes:
                    self._wake(workflow_id)
                return  # the store was closed
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch broke: poll meanwhile, then watch again
                logger.debug("watching the store failed (%s); polling meanwhile", exc)
            finally:
                with contextlib.suppress(Exception):
                    await changes.aclose()  # type: ignore[attr-defined]
            if not self._closed:
                await asyncio.sleep(_RETRY_SECONDS)

    def _wake(self, workflow_id: str | None) -> None:
        self._on_change(workflow_id)
        targets = list(self._waiters.get(None, ()))
        if workflow_id is None:
            for waiting in self._waiters.values():
                targets.extend(waiting)
        else:
            targets.extend(self._waiters.get(workflow_id, ()))
        for future in targets:
            if not future.done():
                future.set_result(None)
