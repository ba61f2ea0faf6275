"""Plain (blocking) activity functions, run on daemon threads that never delay exit.

``asyncio.to_thread`` runs on the loop's default executor, whose threads
``asyncio.run`` and the interpreter both join before they finish: Ctrl-C
during a 20-second blocking activity would wait the 20 seconds out. Nothing
is gained by waiting. A stopped run stays ``running`` in the store and its
in-flight activity runs again when the run is recovered (activities are
at-least-once), so the threads here are daemons, never joined: a process
that is told to stop, stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DaemonThreadPool", "run_blocking"]

T = TypeVar("T")

_Job = tuple["concurrent.futures.Future[Any]", Callable[[], Any]]


class DaemonThreadPool:
    """A bounded pool of daemon threads, started on demand and reused.

    Like :class:`concurrent.futures.ThreadPoolExecutor` without the join at
    exit: a call still running when the process ends is abandoned.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._busy = 0

    @property
    def busy(self) -> int:
        """How many submitted calls have not finished yet (the test kit's clock waits for them)."""
        return self._busy

    @property
    def threads(self) -> int:
        """How many worker threads have been started."""
        return self._threads

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` on a pool thread; its outcome arrives in the returned future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            self._busy += 1
        self._jobs.put((future, fn))
        if not self._idle.acquire(blocking=False):
            self._grow()
        return future

    def _grow(self) -> None:
        with self._lock:
            if self._threads >= self._max_workers:
                return  # every thread is busy; the job waits in the queue
            self._threads += 1
            number = self._threads
        threading.Thread(target=self._serve, name=f"{self._name}-{number}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            future, fn = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to the awaiting side, as the stdlib does
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                self._busy -= 1
            del future, fn
            self._idle.release()


_pool = DaemonThreadPool(min(32, (os.cpu_count() or 1) + 4), "beluga-activity")


async def run_blocking(fn: Callable[[Any], T], argument: Any) -> T:
    """``fn(argument)`` on a daemon thread, with the caller's context variables.

    Cancelling the await stops waiting at once; the thread finishes (or is
    abandoned at exit) on its own and its result is dropped.
    """
    context = contextvars.copy_context()
    return await asyncio.wrap_future(_pool.submit(lambda: context.run(fn, argument)))
