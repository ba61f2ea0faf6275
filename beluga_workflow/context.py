"""What a workflow function can do: run activities, sleep, receive signals, read time and chance.

Everything here is durable and deterministic. An activity's outcome, a
timer's start and firing, and each signal are stored before the workflow sees
them, and a resumed workflow is handed the recorded ones instead of running
them again (see :mod:`beluga_workflow.replay`). ``now()`` and ``random()``
give the same answers on replay. Workflow code must therefore reach the
outside world only through activities. It may await other things (a plain
``asyncio.sleep``, a thread, a helper coroutine): replay matches each call
by its position (see :mod:`beluga_workflow.positions`), not by timing.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from beluga_workflow.blocking import run_blocking
from beluga_workflow.errors import (
    ActivityFailedError,
    ActivityTimeoutError,
    InvalidArgumentError,
    PayloadSerializationError,
)
from beluga_workflow.events import PublishedEvents
from beluga_workflow.history import Journal, format_error, new_event
from beluga_workflow.lifecycle import Lifecycle
from beluga_workflow.models import EventType, HistoryEvent, utc_now
from beluga_workflow.payloads import check_json_value
from beluga_workflow.positions import CallPositions
from beluga_workflow.replay import Replayer
from beluga_workflow.retry import NO_RETRY, RetryPolicy
from beluga_workflow.validation import require_name
from beluga_workflow.versioning import deprecate_patch, patched

__all__ = ["RESERVED_QUERIES", "SignalInbox", "WorkflowContext", "activity_name_of"]

RESERVED_QUERIES = frozenset({"status", "result", "history"})
"""Query types the executor answers itself, for every workflow."""


class SignalInbox:
    """Signals handed to one run and not yet taken, and the waits they will go to.

    A signal goes to the longest-waiting call for its name, or is kept until a
    call asks for it; either way each signal is taken exactly once.
    """

    def __init__(self) -> None:
        self._kept: dict[str, deque[HistoryEvent]] = {}
        self._waiting: dict[str, deque[asyncio.Future[HistoryEvent | None]]] = {}

    def deliver(self, event: HistoryEvent) -> None:
        name = event.signal_name or ""
        waiting = self._waiting.get(name)
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(event)
                return
        self._kept.setdefault(name, deque()).append(event)

    def take(self, name: str) -> HistoryEvent | None:
        kept = self._kept.get(name)
        return kept.popleft() if kept else None

    def wait(self, name: str, future: asyncio.Future[HistoryEvent | None]) -> None:
        self._waiting.setdefault(name, deque()).append(future)


class WorkflowContext:
    """The workflow's view of the engine; the executor passes one to each workflow function."""

    def __init__(
        self,
        *,
        journal: Journal,
        replayer: Replayer | None,
        lifecycle: Lifecycle,
        inbox: SignalInbox,
        queries: dict[str, Callable[[], Any]],
        workflow_name: str,
    ) -> None:
        state = journal.state
        self.workflow_id: str = state.workflow_id
        self.run_id: str = state.run_id
        self.workflow_name = workflow_name
        self._journal = journal
        self._replayer = replayer
        self._lifecycle = lifecycle
        self._inbox = inbox
        self._queries = queries
        self._now = state.history[0].timestamp if state.history else state.created_at
        self._random = random.Random(f"beluga-workflow:{state.run_id}")
        self._positions = CallPositions()
        self._patches: dict[str, bool] = {}
        self._published = PublishedEvents(state.workflow_id, state.history)

    def __repr__(self) -> str:
        return f"WorkflowContext(workflow_id={self.workflow_id!r}, run_id={self.run_id!r})"

    @property
    def is_replaying(self) -> bool:
        """True while a resumed workflow is still being handed its recorded history.

        Useful to keep logging from repeating what was logged before a restart.
        """
        return self._replayer is not None and self._replayer.active

    def now(self) -> datetime:
        """The workflow's current time (UTC): when the last step it waited for was recorded.

        It moves forward as activities, timers and signals complete, and is the
        same on replay, unlike ``datetime.now()``.
        """
        return self._now

    def random(self) -> random.Random:
        """The workflow's random generator, seeded from its run id: replay draws the same."""
        return self._random

    def set_query_handler(self, query_type: str, handler: Callable[[], Any]) -> None:
        """Answer ``Executor.query(workflow_id, query_type)`` with ``handler()`` while this runs."""
        if not isinstance(query_type, str) or not query_type:
            raise InvalidArgumentError("query_type must be a non-empty str")
        if query_type in RESERVED_QUERIES:
            raise InvalidArgumentError(
                f"query type {query_type!r} is answered by the executor; choose another name"
            )
        if not callable(handler):
            raise InvalidArgumentError(f"query handler must be callable, got {handler!r}")
        self._queries[query_type] = handler

    async def set_event(self, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` for any process to read, durably, in history.

        Returns once it is stored. Readers get the latest value of a key
        (``Client.get_event``, ``Client.wait_for_event``, and ``query(id, key)``
        when no query handler of that name runs here). ``value`` must be a JSON
        value. A resumed workflow's calls replay the recorded events instead of
        recording them again.
        """
        self._journal.check_open()
        require_name(key, "event key")
        check_json_value(value, f"value of event {key!r}")
        if self._published.already_recorded(key):
            return
        await self._journal.record(
            [new_event(EventType.EVENT_PUBLISHED, event_key=key, result=value)]
        )

    # --- activities -----------------------------------------------------------

    async def execute_activity(
        self,
        fn: Callable[[Any], Any],
        input: Any = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - bounds each attempt, recorded as such
        name: str | None = None,
    ) -> Any:
        """Run ``fn(input)`` at least once and return its result, recorded in history.

        ``fn`` may be async or a plain function (run on a daemon thread that a
        stopping process does not wait for: the attempt runs again on
        recovery). Each attempt is recorded when it ends; an attempt cut short by a crash runs
        again after recovery. ``retry`` (default: a single attempt) says how
        failures are retried; ``timeout`` bounds each attempt in seconds. When
        no attempt succeeds this raises ``ActivityFailedError``, or
        ``ActivityTimeoutError`` if the last attempt timed out. ``name``
        (default: the function's qualified name) is how history refers to it.
        """
        self._journal.check_open()
        check_json_value(input, "activity input")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InvalidArgumentError(
                f"activity timeout must be a positive number, got {timeout!r}"
            )
        if name is not None:
            require_name(name, "activity name")
        activity_name = name or activity_name_of(fn)
        policy = retry or NO_RETRY
        attempt = 1
        retry_at: datetime | None = None
        while True:
            recorded = None
            position = self._positions.take()
            if self._replayer is not None and self._replayer.active:
                recorded = await self._replayer.request_activity(
                    position, activity_name, input, attempt
                )
            cause: Exception | None = None
            if recorded is not None:
                outcome = recorded[1]
            else:
                if retry_at is not None:
                    await asyncio.sleep(max(0.0, (retry_at - utc_now()).total_seconds()))
                outcome, cause = await self._attempt(
                    fn, activity_name, input, attempt, policy, timeout, position
                )
            self._advance(outcome.timestamp)
            if outcome.type is EventType.ACTIVITY_COMPLETED:
                return outcome.result
            if outcome.fire_at is None:
                raise _activity_error(activity_name, attempt, outcome.error) from cause
            retry_at = outcome.fire_at
            attempt += 1

    async def _attempt(
        self,
        fn: Callable[[Any], Any],
        name: str,
        input: Any,
        attempt: int,
        policy: RetryPolicy,
        limit: float | None,
        position: str,
    ) -> tuple[HistoryEvent, Exception | None]:
        ids = {"workflow_id": self.workflow_id, "run_id": self.run_id, "activity_name": name}
        started = new_event(
            EventType.ACTIVITY_STARTED,
            activity_name=name,
            input=input,
            attempt=attempt,
            position=position,
        )
        self._lifecycle.emit(
            "beluga_workflow_on_activity_start", attempt=attempt, input=input, **ids
        )
        began = time.perf_counter()
        try:
            result = await _call(fn, input, limit, name, attempt)
            check_json_value(result, f"result of activity {name!r}")
        except Exception as exc:
            retry_at = None
            delay = 0.0
            if not isinstance(exc, PayloadSerializationError) and policy.allows_retry(exc, attempt):
                delay = policy.delay_before(attempt + 1)
                retry_at = utc_now() + timedelta(seconds=delay)
            error = format_error(exc)
            failed = new_event(
                EventType.ACTIVITY_FAILED,
                activity_name=name,
                attempt=attempt,
                error=error,
                duration=time.perf_counter() - began,
                fire_at=retry_at,
            )
            await self._journal.record([started, failed])
            if retry_at is None:
                self._lifecycle.emit(
                    "beluga_workflow_on_activity_fail", attempt=attempt, error=error, **ids
                )
            else:
                self._lifecycle.emit(
                    "beluga_workflow_on_activity_retry",
                    attempt=attempt,
                    error=error,
                    delay=delay,
                    **ids,
                )
            return failed, exc
        duration = time.perf_counter() - began
        completed = new_event(
            EventType.ACTIVITY_COMPLETED,
            activity_name=name,
            attempt=attempt,
            result=result,
            duration=duration,
        )
        await self._journal.record([started, completed])
        self._lifecycle.emit(
            "beluga_workflow_on_activity_complete",
            attempt=attempt,
            result=result,
            duration=duration,
            **ids,
        )
        return completed, None

    # --- timers -----------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, durably: after a restart only the time that was left is waited."""
        self._journal.check_open()
        _require_seconds(seconds, "sleep")
        if seconds == 0:
            return
        timer = _Timer(self, float(seconds), None)
        try:
            await timer.start()
            fired = await timer.fired
        finally:
            timer.abandon()
        self._advance(fired.timestamp)

    # --- signals ----------------------------------------------------------------

    async def wait_for_signal(
        self,
        name: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a durable timer, not a local deadline
    ) -> Any:
        """Return the payload of the next signal called ``name``; each is received once.

        A signal sent before this call is kept for it. With ``timeout``
        (seconds, durable like :meth:`sleep`) this raises ``TimeoutError`` when
        no signal arrives in time.
        """
        self._journal.check_open()
        require_name(name, "signal name")
        if timeout is not None:
            _require_seconds(timeout, "signal timeout")
        event = self._inbox.take(name)
        if event is None:
            future: asyncio.Future[HistoryEvent | None] = asyncio.get_running_loop().create_future()
            seconds = None if timeout is None else float(timeout)
            event = await self._wait_with_timer(name, seconds, future)
        if event is None:  # only a timer resolves a wait to None, and that raised already
            raise TimeoutError(f"no signal {name!r} arrived")
        self._advance(event.timestamp)
        return event.signal_payload

    async def _wait_with_timer(
        self, name: str, seconds: float | None, future: asyncio.Future[HistoryEvent | None]
    ) -> HistoryEvent:
        replayer = self._replayer
        if replayer is not None and replayer.took_signal_unrecorded(self._positions.next(), name):
            self._inbox.wait(name, future)  # replay hands the signal over at its place
            arrived = await future
            assert arrived is not None  # only a timer resolves a wait to None
            return arrived

        def time_out(_: HistoryEvent) -> None:
            if not future.done():
                future.set_result(None)

        timer = _Timer(
            self,
            seconds,
            name,
            on_started=lambda _: self._inbox.wait(name, future),
            on_fired=time_out,
            already_here=lambda: self._inbox.take(name),
        )
        try:
            arrived = await timer.start()
            event = arrived if arrived is not None else await future
        finally:
            timer.abandon()
        if event is None:
            self._advance(timer.fired.result().timestamp)
            raise TimeoutError(f"no signal {name!r} arrived within {seconds}s")
        return event

    async def signals(self, name: str) -> AsyncIterator[Any]:
        """Yield the payload of every signal called ``name``, in the order they were sent."""
        while True:
            yield await self.wait_for_signal(name)

    # --- versioning ---------------------------------------------------------------

    async def patched(self, change_id: str) -> bool:
        """Whether this run takes the new path of ``change_id`` (:mod:`beluga_workflow.versioning`).

        A new run records a marker here and gets ``True``; a run whose history
        was written before the change (no marker at this place) gets ``False``
        for as long as it lives, so it keeps taking the old path.
        """
        return await patched(self, change_id)

    def deprecate_patch(self, change_id: str) -> None:
        """Replace ``patched(change_id)`` once no run still takes the old path.

        Records nothing; a run whose history holds the marker still replays.
        """
        deprecate_patch(self, change_id)

    # --- internals ----------------------------------------------------------------

    def _advance(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment


class _Timer:
    """One durable timer: ``timer_started`` is stored with its due time, ``timer_fired`` when due.

    While the run replays, the recorded events are handed over at their places
    in history; a timer with no recorded firing then sleeps only until its
    recorded due time. A signal wait without a timeout is a timer of no
    duration: recorded, never fired.
    """

    def __init__(
        self,
        context: WorkflowContext,
        duration: float | None,
        signal_name: str | None,
        *,
        on_started: Callable[[HistoryEvent], None] | None = None,
        on_fired: Callable[[HistoryEvent], None] | None = None,
        already_here: Callable[[], HistoryEvent | None] | None = None,
    ) -> None:
        self.fired: asyncio.Future[HistoryEvent] = asyncio.get_running_loop().create_future()
        self._context = context
        self._duration = duration
        self._signal_name = signal_name
        self._on_started = on_started
        self._on_fired = on_fired
        self._already_here = already_here
        self._started: HistoryEvent | None = None
        self._sleeper: asyncio.Task[None] | None = None
        self._abandoned = False
        self._position = ""

    async def start(self) -> HistoryEvent | None:
        """Record (or replay) the start; return what ``already_here`` found instead, if anything."""
        context = self._context
        replayer = context._replayer
        recorded = None
        self._position = position = context._positions.take()
        if replayer is not None and replayer.active:
            recorded = await replayer.request_timer(
                position,
                self._duration,
                self._signal_name,
                on_started=self._start,
                on_fired=self._fire,
            )
        if recorded is None:
            duration = self._duration
            started = new_event(
                EventType.TIMER_STARTED,
                duration=duration,
                fire_at=None if duration is None else utc_now() + timedelta(seconds=duration),
                signal_name=self._signal_name,
                position=position,
            )
            found = self._already_here or _nothing
            arrived = await context._journal.record_unless(
                found, [started], then=lambda: self._start(started)
            )
            if arrived is not None:
                return arrived
        if not self._abandoned and not self.fired.done():
            self._sleeper = asyncio.get_running_loop().create_task(self._sleep())
        return None

    def abandon(self) -> None:
        """Stop waiting (the workflow moved on or was stopped); nothing more is recorded."""
        self._abandoned = True
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.cancel()

    def _start(self, event: HistoryEvent) -> None:
        self._started = event
        if self._on_started is not None:
            self._on_started(event)

    def _fire(self, event: HistoryEvent) -> None:
        if self.fired.done():
            return
        self.fired.set_result(event)
        if self._on_fired is not None:
            self._on_fired(event)

    async def _sleep(self) -> None:
        context = self._context
        replayer = context._replayer
        if replayer is not None and replayer.active:
            await replayer.finished.wait()
        started = self._started
        if started is None or started.fire_at is None or self._abandoned or self.fired.done():
            return
        await asyncio.sleep(max(0.0, (started.fire_at - utc_now()).total_seconds()))
        if self._abandoned or self.fired.done():
            return
        fired = new_event(
            EventType.TIMER_FIRED,
            duration=self._duration,
            fire_at=started.fire_at,
            signal_name=self._signal_name,
            position=self._position,
        )
        try:
            await context._journal.record([fired], then=lambda: self._fire(fired))
        except Exception:
            # The journal has halted and the run is being stopped; nothing to hand over.
            return


def activity_name_of(fn: Callable[..., Any]) -> str:
    """How history names an activity function by default: its qualified name."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(target, "__qualname__", None)
    return name if isinstance(name, str) else type(target).__qualname__


async def _call(
    fn: Callable[[Any], Any], input: Any, limit: float | None, name: str, attempt: int
) -> Any:
    if limit is None:
        return await _invoke(fn, input)
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            return await _invoke(fn, input)
    except TimeoutError as exc:
        if scope.expired():
            raise ActivityTimeoutError(
                f"activity {name!r} attempt {attempt} did not finish within {limit}s"
            ) from exc
        raise


def _invoke(fn: Callable[[Any], Any], input: Any) -> Awaitable[Any]:
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        result: Awaitable[Any] = fn(input)
        return result
    return run_blocking(fn, input)


def _activity_error(name: str, attempts: int, error: str | None) -> ActivityFailedError:
    if error is not None and error.startswith(f"{ActivityTimeoutError.__name__}:"):
        return ActivityTimeoutError(f"activity {name!r} timed out on attempt {attempts}: {error}")
    return ActivityFailedError(
        f"activity {name!r} failed after {attempts} attempt(s): {error or 'unknown error'}"
    )


def _require_seconds(value: Any, what: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidArgumentError(f"{what} must be a finite number of seconds >= 0, got {value!r}")


def _nothing() -> None:
    return None
