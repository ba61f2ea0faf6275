"""Tests of workflows that wait hours or days, run in milliseconds: a clock that skips ahead.

:class:`TimeSkippingLoop` is an asyncio event loop whose clock jumps to the
next scheduled timer whenever nothing else can run: no callback is ready, no
I/O is pending, and no thread started through the loop or for a blocking
activity is still working. Durable timers, retry backoff and workflow
timeouts are all scheduled on the loop, so they fire at once and in order,
while everything that does run (activities, the store) takes its real time.

:data:`~beluga_workflow.clock.TEST_CLOCK` is set to the loop's clock for the
tasks of the environment, so event timestamps, timer due times and
``ctx.now()`` follow it: a workflow that sleeps one day sees its clock move
one day.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from beluga_workflow import blocking
from beluga_workflow.clock import TEST_CLOCK
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.executor import Executor, WorkflowFunction
from beluga_workflow.models import utc_now
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.store import WorkflowStore

__all__ = ["TimeSkippingLoop", "WorkflowEnvironment"]

T = TypeVar("T")

_THREAD_POLL = 0.002
"""Seconds to wait for real while a thread works (time does not skip then)."""

_IDLE_POLL = 0.05
"""Seconds to wait for real when nothing at all is scheduled (only another thread can wake it)."""

_POLL = 10.0**9
"""Poll seconds of the environment's executor: no periodic reads to skip through."""

_LEASE = 86_000.0
"""Lease seconds of the environment's executor (the longest allowed): few renewals to skip."""


class TimeSkippingLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock skips ahead to the next timer when nothing else can run."""

    def __init__(self) -> None:
        super().__init__()
        self._skipped = 0.0
        self._in_threads = 0
        inner: selectors.BaseSelector = self._selector  # type: ignore[has-type]
        self._selector = _SkippingSelector(inner, self)

    def time(self) -> float:
        return super().time() + self._skipped

    @property
    def skipped(self) -> float:
        """Seconds the clock has skipped so far."""
        return self._skipped

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead (timers due by then fire next)."""
        if not seconds >= 0:
            raise InvalidArgumentError(f"the clock only moves forward, got {seconds!r}")
        self._skipped += seconds

    def run_in_executor(  # type: ignore[override]
        self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self._in_threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def threads_busy(self) -> bool:
        """Whether a thread started for this loop's work may still call back."""
        return self._in_threads > 0 or blocking._pool.busy > 0

    def _thread_done(self, _: object) -> None:
        self._in_threads -= 1


class _SkippingSelector:
    """The loop's selector, but a wait that only a timer can end returns at once, time skipped."""

    def __init__(self, inner: selectors.BaseSelector, loop: TimeSkippingLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._inner.select(0)
        if events or timeout == 0:
            return events
        if self._loop.threads_busy():
            wait = _THREAD_POLL if timeout is None else min(timeout, _THREAD_POLL)
            return self._inner.select(wait)
        if timeout is None:
            return self._inner.select(_IDLE_POLL)
        self._loop._skipped += timeout
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class WorkflowEnvironment:
    """An executor on a time-skipping loop, for tests of workflows that wait.

    ``store`` defaults to a new in-memory store; ``workflows`` and ``hooks``
    go to the :class:`~beluga_workflow.executor.Executor` (without installed
    plugins). :meth:`run` runs a coroutine function on a fresh
    :class:`TimeSkippingLoop` with the environment's executor open::

        async def scenario(env: WorkflowEnvironment) -> None:
            handle = await env.executor.execute(wait_a_day)
            assert await handle.result() == "done"

        WorkflowEnvironment(workflows=[wait_a_day]).run(scenario)
    """

    def __init__(
        self,
        *,
        store: WorkflowStore | None = None,
        workflows: Iterable[WorkflowFunction] = (),
        hooks: Iterable[object] = (),
    ) -> None:
        self.store: WorkflowStore = store if store is not None else InMemoryStore()
        self._workflows = list(workflows)
        self._hooks = list(hooks)
        self._loop: TimeSkippingLoop | None = None
        self._executor: Executor | None = None
        self._start = utc_now()
        self._loop_start = 0.0
        self._skipped = 0.0

    @property
    def executor(self) -> Executor:
        """The executor; open while :meth:`run` runs."""
        if self._executor is None:
            raise InvalidArgumentError("the environment's executor exists only inside run()")
        return self._executor

    def now(self) -> datetime:
        """The environment's current time (UTC), which ``ctx.now()`` and timestamps follow."""
        if self._loop is None:
            return self._start
        return self._start + timedelta(seconds=self._loop.time() - self._loop_start)

    @property
    def skipped(self) -> float:
        """Seconds of waiting the clock has skipped so far."""
        return self._skipped if self._loop is None else self._loop.skipped

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead now, as if that much time had passed."""
        if self._loop is None:
            raise InvalidArgumentError("the clock moves only inside run()")
        self._loop.advance(seconds)

    def run(self, scenario: Callable[[WorkflowEnvironment], Awaitable[T]]) -> T:
        """Run ``scenario(self)`` on a new time-skipping loop and return its result."""
        loop = TimeSkippingLoop()
        self._loop = loop
        self._loop_start = loop.time()
        self._start = utc_now()
        try:
            return loop.run_until_complete(self._main(scenario))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._skipped = loop.skipped
            self._loop = None

    async def _main(self, scenario: Callable[[WorkflowEnvironment], Awaitable[T]]) -> T:
        TEST_CLOCK.set(self.now)  # in this task's context: every task it starts inherits it
        executor = Executor(
            self.store,
            workflows=self._workflows,
            hooks=self._hooks,
            load_plugins=False,
            poll_interval=_POLL,
            lease_duration=_LEASE,
        )
        self._executor = executor
        try:
            async with executor:
                return await scenario(self)
        finally:
            self._executor = None
