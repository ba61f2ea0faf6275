"""Feeding a resumed workflow its recorded history, in the order it happened.

A resumed workflow's function runs again from the top. Each activity, timer
and signal wait it asks for is matched with the recorded events of that same
call instead of being carried out again, and those events are handed over in
history order, so the workflow sees what it saw the first time, in the same
order, even when it runs several calls at once.

Matching: an activity attempt is recorded as a started/outcome pair and
belongs to a waiting call with the same activity name, attempt number and
input; a timer start belongs to a waiting timer of the same duration (and
signal name, for a signal wait with a timeout); a timer's firing belongs to
the timer started for the same due time. Identical calls waiting at the same
moment are matched in the order they were made.

A recorded event that no call claims within a few hundred turns of the event
loop means the workflow no longer does what it did when the history was
written: :class:`~beluga_workflow.errors.NonDeterminismError`, naming the
event. Calls that find no recorded event wait until the whole history has
been handed over, then run for real.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beluga_workflow.errors import NonDeterminismError
from beluga_workflow.models import EventType, HistoryEvent

__all__ = ["STALL_TURNS", "ActivityAttempt", "Replayer"]

STALL_TURNS = 200
"""Event-loop turns a recorded event may wait for its call before replay gives up.

A workflow that only awaits the context makes its next call within a few turns
of being handed an event; two hundred leaves room for deeply nested tasks.
"""

ActivityAttempt = tuple[HistoryEvent, HistoryEvent]
"""A recorded attempt: its ``activity_started`` event and its outcome."""

_OUTCOMES = (EventType.ACTIVITY_COMPLETED, EventType.ACTIVITY_FAILED)
_CALLS = (EventType.ACTIVITY_STARTED, EventType.TIMER_STARTED)

_TimerKey = tuple[datetime | None, str | None]


@dataclass(eq=False)
class _ActivityCall:
    name: str
    attempt: int
    input: Any
    input_key: str
    future: asyncio.Future[ActivityAttempt | None]


@dataclass(eq=False)
class _TimerCall:
    duration: float
    signal_name: str | None
    on_started: Callable[[HistoryEvent], None]
    on_fired: Callable[[HistoryEvent], None]
    future: asyncio.Future[HistoryEvent | None]


class Replayer:
    """Hands a resumed run's recorded events to the calls they belong to.

    ``on_signal`` receives each recorded ``signal_received`` event. Once every
    recorded event is handed over, :attr:`active` turns false, calls still
    waiting get ``None`` (run for real) and :attr:`finished` is set.
    """

    def __init__(
        self,
        workflow_id: str,
        events: Sequence[HistoryEvent],
        *,
        on_signal: Callable[[HistoryEvent], None],
    ) -> None:
        self.active = True
        self.finished = asyncio.Event()
        self._workflow_id = workflow_id
        self._events = list(events)
        self._position = 0
        self._on_signal = on_signal
        self._activities: list[_ActivityCall] = []
        self._timers: list[_TimerCall] = []
        self._fired: dict[_TimerKey, deque[Callable[[HistoryEvent], None]]] = {}
        self._on_finish: list[Callable[[], None]] = []

    def request_activity(
        self, name: str, input: Any, attempt: int
    ) -> asyncio.Future[ActivityAttempt | None]:
        """The recorded attempt of this call, or ``None`` once history holds none."""
        future: asyncio.Future[ActivityAttempt | None] = asyncio.get_running_loop().create_future()
        if self.active:
            self._activities.append(_ActivityCall(name, attempt, input, _key(input), future))
        else:
            future.set_result(None)
        return future

    def request_timer(
        self,
        duration: float,
        signal_name: str | None,
        *,
        on_started: Callable[[HistoryEvent], None],
        on_fired: Callable[[HistoryEvent], None],
    ) -> asyncio.Future[HistoryEvent | None]:
        """The recorded start of this timer, or ``None`` once history holds none.

        ``on_started`` and, if history has it, ``on_fired`` are called at the
        timer's places in history, before any later event is handed over.
        """
        future: asyncio.Future[HistoryEvent | None] = asyncio.get_running_loop().create_future()
        if self.active:
            self._timers.append(_TimerCall(duration, signal_name, on_started, on_fired, future))
        else:
            future.set_result(None)
        return future

    def when_finished(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` right after the last recorded event is handed over."""
        if self.active:
            self._on_finish.append(callback)
        else:
            callback()

    def unclaimed_calls(self) -> list[HistoryEvent]:
        """Recorded calls not handed over yet: a workflow that returns with some has diverged."""
        return [event for event in self._events[self._position :] if event.type in _CALLS]

    def divergence(self, event: HistoryEvent) -> NonDeterminismError:
        """The error for a recorded call the workflow did not make."""
        waiting = [_describe_activity(c.name, c.attempt, c.input) for c in self._activities]
        waiting += [_describe_timer(c.duration, c.signal_name) for c in self._timers]
        got = (
            "instead waits for " + "; ".join(waiting)
            if waiting
            else "did not make it (it returned, or waits for something not in its history)"
        )
        return NonDeterminismError(
            f"workflow {self._workflow_id!r} no longer matches its history at event {event.id} "
            f"({event.type.value}): history has {_describe_event(event)}, but the workflow {got}. "
            "Its code changed while this run was in progress; finish such runs with the code "
            "that started them"
        )

    async def run(self) -> None:
        """Hand over every recorded event in order; raise ``NonDeterminismError`` on divergence."""
        events = self._events
        while self._position < len(events):
            event = events[self._position]
            kind = event.type
            if kind is EventType.ACTIVITY_STARTED:
                outcome = events[self._position + 1] if self._position + 1 < len(events) else None
                if outcome is not None and outcome.type in _OUTCOMES:
                    activity = await self._claim_activity(event)
                    self._position += 2
                    activity.future.set_result((event, outcome))
                    continue
            elif kind is EventType.TIMER_STARTED:
                timer = await self._claim_timer(event)
                key = (event.fire_at, event.signal_name)
                self._fired.setdefault(key, deque()).append(timer.on_fired)
                timer.on_started(event)
                timer.future.set_result(event)
            elif kind is EventType.TIMER_FIRED:
                waiting = self._fired.get((event.fire_at, event.signal_name))
                if waiting:
                    waiting.popleft()(event)
            elif kind is EventType.SIGNAL_RECEIVED:
                self._on_signal(event)
            self._position += 1
        self._finish()

    async def _claim_activity(self, event: HistoryEvent) -> _ActivityCall:
        key = _key(event.input)
        attempt = event.attempt or 1
        for _ in range(STALL_TURNS):
            self._activities = [c for c in self._activities if not c.future.done()]
            for index, call in enumerate(self._activities):
                if (
                    call.name == event.activity_name
                    and call.attempt == attempt
                    and call.input_key == key
                ):
                    del self._activities[index]
                    return call
            await asyncio.sleep(0)
        raise self.divergence(event)

    async def _claim_timer(self, event: HistoryEvent) -> _TimerCall:
        for _ in range(STALL_TURNS):
            self._timers = [c for c in self._timers if not c.future.done()]
            for index, call in enumerate(self._timers):
                if call.signal_name == event.signal_name and call.duration == event.duration:
                    del self._timers[index]
                    return call
            await asyncio.sleep(0)
        raise self.divergence(event)

    def _finish(self) -> None:
        self.active = False
        for activity in self._activities:
            if not activity.future.done():
                activity.future.set_result(None)
        for timer in self._timers:
            if not timer.future.done():
                timer.future.set_result(None)
        self._activities.clear()
        self._timers.clear()
        callbacks, self._on_finish = self._on_finish, []
        for callback in callbacks:
            callback()
        self.finished.set()


def _key(value: Any) -> str:
    """A comparison key that tells ``1``, ``1.0`` and ``True`` apart and ignores key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe_activity(name: str | None, attempt: int | None, input: Any) -> str:
    return f"activity {name!r} (attempt {attempt or 1}) with input {_short(input)}"


def _describe_timer(duration: float | None, signal_name: str | None) -> str:
    if signal_name is not None:
        return f"a wait for signal {signal_name!r} with a timeout of {duration}s"
    return f"a timer of {duration}s"


def _describe_event(event: HistoryEvent) -> str:
    if event.type is EventType.ACTIVITY_STARTED:
        return _describe_activity(event.activity_name, event.attempt, event.input)
    return _describe_timer(event.duration, event.signal_name)
