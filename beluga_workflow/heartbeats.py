"""Activity heartbeats: liveness for ``heartbeat_timeout``, and durable progress details.

Details live in the run's ``metadata`` under :data:`HEARTBEATS`, keyed by the
activity call (its name and input), so any worker that resumes the run hands
them to the next attempt. Each heartbeat updates the run's state in memory at
once; a head-only write stores it at most once per :data:`WRITE_INTERVAL`
(any other write of the run carries it too). When the call ends for good its
details are removed with the outcome's own write.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from beluga_workflow.errors import ActivityHeartbeatTimeoutError
from beluga_workflow.history import Journal
from beluga_workflow.payloads import check_json_value

__all__ = [
    "HEARTBEATS",
    "WRITE_INTERVAL",
    "ActivityInfo",
    "AttemptHeartbeats",
    "current_attempt",
]

logger = logging.getLogger("beluga_workflow.heartbeats")

T = TypeVar("T")

HEARTBEATS = "heartbeats"
"""``WorkflowState.metadata`` key: ``{call key: {"details": ..., "attempt": n}}``."""

WRITE_INTERVAL = 1.0
"""Seconds between two heartbeat writes of one attempt, at least (shorter timeouts write
every third of ``heartbeat_timeout``)."""

_current: contextvars.ContextVar[AttemptHeartbeats | None] = contextvars.ContextVar(
    "beluga_workflow_activity", default=None
)


def current_attempt() -> AttemptHeartbeats | None:
    """The activity attempt the caller runs in, if any."""
    return _current.get()


@dataclass(frozen=True)
class ActivityInfo:
    """An activity attempt, as the activity sees it.

    ``heartbeat_details`` are the last details recorded for this call before
    the attempt began (by an earlier attempt, possibly on a worker that died),
    or ``None``.
    """

    workflow_id: str
    run_id: str
    activity_name: str
    attempt: int
    heartbeat_details: Any = None


def call_key(name: str, input: Any) -> str:
    """Which activity call details belong to: its name and a digest of its input."""
    text = json.dumps(input, sort_keys=True, separators=(",", ":"))
    return f"{name}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class AttemptHeartbeats:
    """The heartbeats of one activity attempt, and its timeout watch."""

    def __init__(
        self, journal: Journal, name: str, input: Any, attempt: int, timeout: float | None
    ) -> None:
        state = journal.state
        self._journal = journal
        self._name, self._input = name, input
        self._key: str | None = None  # computed on first use: most attempts never need it
        kept = state.metadata.get(HEARTBEATS)
        recorded = kept.get(self.key) if isinstance(kept, dict) else None
        self.info = ActivityInfo(
            state.workflow_id,
            state.run_id,
            name,
            attempt,
            None if recorded is None else recorded.get("details"),
        )
        self._timeout = timeout
        self._interval = WRITE_INTERVAL if timeout is None else min(WRITE_INTERVAL, timeout / 3)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._last_beat = time.monotonic()
        self._last_write = 0.0
        self._writer: asyncio.Task[None] | None = None
        self._ended = False

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = call_key(self._name, self._input)
        return self._key

    def beat(self, details: Any) -> None:
        """Take a heartbeat (from the loop's thread or the activity's own)."""
        check_json_value(details, f"heartbeat details of activity {self.info.activity_name!r}")
        if threading.get_ident() == self._thread:
            self._take(details)
        else:
            self._loop.call_soon_threadsafe(self._take, details)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run the attempt with this as its current one; fail it when heartbeats stop."""
        token = _current.set(self)
        try:
            if self._timeout is None:
                return await call()
            task = asyncio.ensure_future(call())
        finally:
            _current.reset(token)
        try:
            while not task.done():
                left = self._last_beat + self._timeout - time.monotonic()
                if left <= 0:
                    task.cancel()
                    raise ActivityHeartbeatTimeoutError(
                        f"activity {self.info.activity_name!r} attempt {self.info.attempt} sent "
                        f"no heartbeat for {self._timeout}s"
                    )
                await asyncio.wait({task}, timeout=left)
        except BaseException:
            task.cancel()
            raise
        return task.result()

    def end(self, *, keep: bool) -> None:
        """The attempt is over: keep its details for a retry, or drop them with the call."""
        self._ended = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # still waiting its turn: the outcome's write stores the state
        if not keep and self._key is not None:
            beats = self._journal.state.metadata.get(HEARTBEATS)
            if isinstance(beats, dict) and self._key in beats:
                del beats[self._key]
                if not beats:
                    del self._journal.state.metadata[HEARTBEATS]

    def _take(self, details: Any) -> None:
        if self._ended:
            return
        self._last_beat = time.monotonic()
        beats = self._journal.state.metadata.setdefault(HEARTBEATS, {})
        beats[self.key] = {"details": details, "attempt": self.info.attempt}
        if self._writer is None or self._writer.done():
            self._writer = self._loop.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(max(0.0, self._last_write + self._interval - time.monotonic()))
        if self._ended:
            return
        self._last_write = time.monotonic()
        with contextlib.suppress(Exception):  # the run's next write stores the details anyway
            await asyncio.shield(self._journal.record([]))
