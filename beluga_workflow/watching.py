"""Fan-out of change notices to the ``watch()`` iterators of one store.

A store's writes may run on any thread and any event loop, while each
watcher waits on its own loop: a notice is handed to the watcher's loop
(``call_soon_threadsafe`` from another thread), never awaited, so a watcher
can neither slow down nor break a write. A watcher that falls far behind
has its backlog dropped and gets ``None`` instead (re-read the store).

A store whose notices come from its backend (a LISTEN connection, a poll)
gives the subscription a *feed*, a task pushing to it: the feed is cancelled
when the subscription ends (the store closes) or is released (the iterator
closes), and an error it cannot handle ends the iterator with that error
rather than leaving the watcher waiting for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from typing import Any

__all__ = ["MAX_BACKLOG", "Subscription", "Watchers"]

MAX_BACKLOG = 10_000
"""Notices a watcher may have waiting; past it they become one ``None``."""


class _End:
    """Marks the end of a subscription: the store closed, or its feed failed."""

    def __init__(self, failure: BaseException | None = None) -> None:
        self.failure = failure


_END = _End()


class Subscription:
    """What one watcher has not read yet; fed from any thread, read on its own loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._pending: deque[str | _End | None] = deque()
        self._ready = asyncio.Event()
        self._ended = False
        self._feed: asyncio.Task[None] | None = None

    def feed(self, source: Coroutine[Any, Any, None]) -> None:
        """Run ``source``, which pushes to this subscription, until the subscription ends."""
        self._feed = self._loop.create_task(source)
        self._feed.add_done_callback(self._fed)

    async def release(self) -> None:
        """Stop the feed and wait until it has let go of what it holds (a connection)."""
        feed, self._feed = self._feed, None
        if feed is not None and not feed.done():
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed

    def _fed(self, feed: asyncio.Task[None]) -> None:
        if not feed.cancelled() and feed.exception() is not None:
            self._put(_End(feed.exception()))

    def push(self, item: str | None) -> None:
        """Hand ``item`` (an id, or ``None`` for "re-read") to the watcher."""
        self._hand(item)

    def end(self) -> None:
        """End the iterator once what is pending has been read."""
        self._hand(_END)

    def _hand(self, item: str | _End | None) -> None:
        if self._loop.is_closed():
            return  # a watcher left behind by a loop that ended: nobody is left to tell
        if threading.get_ident() == self._thread and _running_loop() is self._loop:
            self._put(item)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: str | _End | None) -> None:
        if self._ended:
            return
        if isinstance(item, _End):
            self._ended = True
            if self._feed is not None:
                self._feed.cancel()
        elif len(self._pending) >= MAX_BACKLOG:
            self._pending.clear()
            item = None
        self._pending.append(item)
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[str | None]:
        return self

    async def __anext__(self) -> str | None:
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        item = self._pending.popleft()
        if isinstance(item, _End):
            if item.failure is not None:
                raise item.failure
            raise StopAsyncIteration
        return item


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Watchers:
    """The live subscriptions of one store: every notice goes to each of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        """A new, empty subscription that gets every notice from now on."""
        subscription = Subscription()
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def notify(self, item: str | None) -> None:
        """Tell every subscription that ``item`` changed (``None``: anything may have)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.push(item)

    def end_all(self) -> None:
        """End every subscription: the store is closing."""
        with self._lock:
            subscriptions, self._subscriptions = list(self._subscriptions), set()
        for subscription in subscriptions:
            subscription.end()
