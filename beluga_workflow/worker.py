"""A worker: claims runs from a shared store and runs them, many workers side by side.

Workers need nothing but the store. Each claims runs through the store's own
atomic writes (a lease per run, see :mod:`beluga_workflow.ownership`): new runs
that clients submitted, runs handed back by a worker that stopped, and runs
whose worker died (once their lease ran out). It keeps claiming while it runs
others, up to its own ``concurrency``, so a long run never holds up a new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.executor import Executor, WorkflowFunction
from beluga_workflow.history import DEFAULT_STORE_RETRY
from beluga_workflow.ownership import DEFAULT_LEASE_SECONDS
from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.dispatcher import QueueDispatcher
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.schedules.ticker import ScheduleTicker
from beluga_workflow.store import WorkflowStore

__all__ = ["Worker"]

logger = logging.getLogger("beluga_workflow.worker")

_MIN_ROUND_GAP = 0.02
"""Seconds between two claim rounds at least: each lists the store's running runs."""


class Worker:
    """Runs the registered ``workflows`` of whatever runs it can claim on ``store``.

    ``concurrency`` bounds the runs it holds at once; every ``poll_interval``
    seconds, and whenever one of its runs ends, it claims more if it has room.
    ``worker_id`` and ``lease_duration`` are the :class:`Executor`'s. The
    store must keep leases (capability ``compare_and_append``), or two
    workers could run one workflow: another store is refused with
    ``InvalidArgumentError``.

    ``await worker.run()`` works until :meth:`stop` is called (the CLI calls it
    on SIGTERM and Ctrl-C); it then stops claiming, cancels the activities in
    progress and hands its runs back (their leases are released, so another
    worker resumes them at once by replay). A worker that dies instead leaves
    its leases to run out.

    ``queues`` are the :class:`~beluga_workflow.queues.Queue` s this worker
    serves: each round it also starts their waiting runs, as far as their
    limits (kept in the shared store) and its own ``concurrency`` allow.
    With ``schedules`` it also starts the due ticks of the store's schedules
    (:mod:`beluga_workflow.schedules`): any number of workers may, each tick
    starts one run.

    ``build_id`` names the code this worker runs (default
    ``$BELUGA_WORKFLOW_BUILD_ID``): a run started with
    ``versioning="pinned"`` is resumed only by workers of the build that first
    ran it (see :mod:`beluga_workflow.pinning`).
    """

    def __init__(
        self,
        store: WorkflowStore | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        workflows: Iterable[WorkflowFunction] = (),
        concurrency: int = 100,
        worker_id: str | None = None,
        lease_duration: float = DEFAULT_LEASE_SECONDS,
        poll_interval: float = 0.5,
        hooks: Iterable[object] = (),
        load_plugins: bool = True,
        store_retry: RetryPolicy = DEFAULT_STORE_RETRY,
        queues: Iterable[Queue] = (),
        schedules: bool = False,
        build_id: str | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be an int >= 1, got {concurrency!r}")
        self.executor = Executor(
            store,
            workflows=workflows,
            hooks=hooks,
            load_plugins=load_plugins,
            store_retry=store_retry,
            poll_interval=poll_interval,
            worker_id=worker_id,
            lease_duration=lease_duration,
            build_id=build_id,
        )
        self._refused: InvalidArgumentError | None = None
        if self.executor.worker_id is None:  # raised by run(), which closes what was opened
            self._refused = InvalidArgumentError(
                f"{self.executor.store!r} cannot keep leases (it lacks compare_and_append), so "
                "several workers could run one workflow; use a store that has it, or one Executor"
            )
        self.concurrency = concurrency
        self._queues = QueueDispatcher(
            self.executor, queues, hold_for=lease_duration, listing_age=poll_interval / 2
        )
        self._schedules = schedules
        self._poll_interval = poll_interval
        self._stopping = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"Worker(id={self.executor.worker_id!r}, running={self.running}, "
            f"concurrency={self.concurrency})"
        )

    @property
    def worker_id(self) -> str | None:
        return self.executor.worker_id

    @property
    def running(self) -> int:
        """How many runs this worker holds now."""
        return self.executor.running

    def stop(self) -> None:
        """Ask :meth:`run` to stop claiming and hand its runs back. Safe from a signal handler."""
        self._stopping.set()

    async def run(self) -> None:
        """Claim and run workflows until :meth:`stop`; then hand the runs back."""
        if self._refused is not None:
            await self.executor.close()
            raise self._refused
        ticking = None
        if self._schedules:
            ticker = ScheduleTicker(self.executor.store)
            ticking = asyncio.get_running_loop().create_task(ticker.run(self._stopping))
        queues = bool(self._queues.queues)
        try:
            last_round = 0.0
            while not self._stopping.is_set():
                since = time.monotonic() - last_round
                if since < _MIN_ROUND_GAP:  # a burst of changes makes one round, not many
                    await asyncio.sleep(_MIN_ROUND_GAP - since)
                last_round = time.monotonic()
                room = self.concurrency - self.executor.running
                if room > 0:
                    try:
                        running = await self._queues.running_runs() if queues else None
                        await self.executor.claim(room, running=running)
                        room = self.concurrency - self.executor.running
                        await self._queues.dispatch(room, running)
                    except Exception as exc:  # the store is down: try again next round
                        logger.warning("worker %s could not claim runs: %s", self.worker_id, exc)
                else:  # full: the next round comes when one of its runs ends
                    self.executor.claimable_hint.clear()
                await self._next_round()
        finally:
            if ticking is not None:
                ticking.cancel()
                await asyncio.gather(ticking, return_exceptions=True)
            await self._queues.close()
            await self.executor.close()

    async def _next_round(self) -> None:
        """Wait ``poll_interval``, or less: until stopped, a run ends, or the store says
        a run may be claimable (on a store that can be watched)."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        hinted = asyncio.ensure_future(self.executor.wait_for_claimable(self._poll_interval))
        waits: list[asyncio.Future[Any]] = [stopping, hinted, *self.executor.run_endings()]
        timeout = self._poll_interval
        rate_opens = self._queues.next_start_at
        if rate_opens is not None:  # a rate limit holds runs back: try again when it lets one go
            timeout = max(0.0, min(timeout, rate_opens - time.time()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            stopping.cancel()
            hinted.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        await self.executor.close()
