"""Feeding a resumed workflow its recorded history, in the order it happened.

A resumed workflow's function runs again from the top. Each activity attempt,
timer, signal wait and patch marker it asks for is a *call*, recorded with its
position: its branch (task) and its number there (see
:mod:`beluga_workflow.positions`). A recorded call is matched by position: the
call the workflow makes at a position must be the one history has there (same
kind, name, attempt, input, duration, signal name or change id).
Deterministic code makes the same calls at the same positions however long its
other awaits (a plain ``asyncio.sleep``, a thread, a helper coroutine) take,
so nothing here depends on time or event-loop turns.

Recorded events are handed over in history order: a recorded call's outcome
goes to its call only once every event before it has been handed over, so the
workflow sees what it saw the first time even when it runs several calls at
once. Replay waits, for as long as it takes, for the call of the next recorded
event; a call that differs from the one recorded at its position is a
divergence (:class:`~beluga_workflow.divergence.HistoryDivergenceError`,
naming the event). A call at a position history has no record of (it was in
flight when the process stopped, or is new) waits until the whole history is
handed over, then runs for real.

Histories stored before calls had positions (events without ``position``) still
replay: such a recorded call belongs to a waiting call of the same content,
and divergence in them is found when the workflow returns with recorded calls
it did not make.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from beluga_workflow.divergence import HistoryDivergenceError
from beluga_workflow.models import EventType, HistoryEvent

__all__ = ["ActivityAttempt", "Replayer", "recorded_calls"]

ActivityAttempt = tuple[HistoryEvent, HistoryEvent]
"""A recorded attempt: its ``activity_started`` event and its outcome."""

_OUTCOMES = (EventType.ACTIVITY_COMPLETED, EventType.ACTIVITY_FAILED)
_CALLS = (EventType.ACTIVITY_STARTED, EventType.TIMER_STARTED, EventType.MARKER_RECORDED)

_Key = tuple[Any, ...]


@dataclass(eq=False)
class _Call:
    position: str
    key: _Key
    future: asyncio.Future[Any]
    on_started: Callable[[HistoryEvent], None] | None = None
    on_fired: Callable[[HistoryEvent], None] | None = None


def recorded_calls(events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """The recorded calls of a history: activity attempts (with an outcome), timers, markers."""
    calls = []
    for index, event in enumerate(events):
        if event.type is EventType.ACTIVITY_STARTED:
            following = events[index + 1] if index + 1 < len(events) else None
            if following is None or following.type not in _OUTCOMES:
                continue
        elif event.type not in _CALLS:
            continue
        calls.append(event)
    return calls


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
        calls = recorded_calls(self._events)
        self._by_position = {event.position: event for event in calls if event.position is not None}
        self._legacy_left = sum(1 for event in calls if event.position is None)
        self._signal_names = {
            e.signal_name for e in self._events if e.type is EventType.SIGNAL_RECEIVED
        }
        self._claimable: dict[str, _Call] = {}
        self._legacy: list[_Call] = []
        self._unrecorded: list[_Call] = []
        self._progress = asyncio.Event()
        self._diverged: HistoryDivergenceError | None = None
        self._fired: dict[Any, deque[Callable[[HistoryEvent], None]]] = {}
        self._on_finish: list[Callable[[], None]] = []

    # --- what the context asks for ------------------------------------------------

    def request_activity(
        self, position: str, name: str, input: Any, attempt: int
    ) -> asyncio.Future[ActivityAttempt | None]:
        """The recorded attempt of this call, or ``None`` once history holds none."""
        future: asyncio.Future[ActivityAttempt | None] = asyncio.get_running_loop().create_future()
        self._request(_Call(position, _activity_key(name, attempt, input), future))
        return future

    def request_timer(
        self,
        position: str,
        duration: float | None,
        signal_name: str | None,
        *,
        on_started: Callable[[HistoryEvent], None],
        on_fired: Callable[[HistoryEvent], None],
    ) -> asyncio.Future[HistoryEvent | None]:
        """The recorded start of this timer, or ``None`` once history holds none.

        ``on_started`` and, if history has it, ``on_fired`` are called at the
        timer's places in history, before any later event is handed over. A
        signal wait without a timeout is a timer of no duration.
        """
        future: asyncio.Future[HistoryEvent | None] = asyncio.get_running_loop().create_future()
        call = _Call(position, ("timer", duration, signal_name), future, on_started, on_fired)
        self._request(call)
        return future

    def marker_at(self, position: str, change_id: str) -> bool | None:
        """Whether history records the marker ``change_id`` at ``position`` (claiming it if so).

        ``True``: recorded there. ``False``: this run's history has another
        call there, or predates numbered calls: it ran without the change.
        ``None``: history has nothing there: the call is new.
        """
        recorded = self._by_position.get(position) if self.active else None
        if recorded is not None:
            if recorded.type is EventType.MARKER_RECORDED and recorded.change_id == change_id:
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._request(_Call(position, ("marker", change_id), future))
                return True
            return False
        if self.active and self._legacy_left:
            return False
        return None

    def took_signal_unrecorded(self, position: str, signal_name: str) -> bool:
        """Whether a signal wait at ``position`` found its signal already there the first time.

        Such a wait recorded nothing, so history has another call at its
        position; it is owed a signal of that name that this run received. A
        wait for a name the run never received is a call like any other (and,
        against another recorded call, a divergence).
        """
        recorded = self._by_position.get(position) if self.active else None
        return (
            recorded is not None
            and not (
                recorded.type is EventType.TIMER_STARTED and recorded.signal_name == signal_name
            )
            and signal_name in self._signal_names
        )

    def when_finished(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` right after the last recorded event is handed over."""
        if self.active:
            self._on_finish.append(callback)
        else:
            callback()

    # --- what went wrong ----------------------------------------------------------

    def unclaimed_calls(self) -> list[HistoryEvent]:
        """Recorded calls not handed over yet: a workflow that returns with some has diverged."""
        return recorded_calls(self._events[self._position :])

    def divergence(self, event: HistoryEvent, call: _Call | None = None) -> HistoryDivergenceError:
        """The error for a recorded call the workflow did not make (or made differently)."""
        if call is not None:
            got = "instead waits for " + _describe_key(call.key)
            requested: str | None = _describe_key(call.key)
        else:
            waiting = [_describe_key(c.key) for c in self._legacy + self._unrecorded]
            waiting += [_describe_key(c.key) for c in self._claimable.values()]
            requested = "; ".join(waiting) if waiting else None
            got = (
                "instead waits for " + requested
                if requested
                else "did not make it (it returned, or waits for something not in its history)"
            )
        recorded = _describe_key(_key_of(event))
        return HistoryDivergenceError(
            f"workflow {self._workflow_id!r} no longer matches its history at event {event.id} "
            f"({event.type.value}): history has {recorded}, but the workflow {got}. Its code "
            "changed while this run was in progress; the run stays running: deploy code that "
            "matches its history (guard the change with ctx.patched()) and it resumes",
            workflow_id=self._workflow_id,
            event_id=event.id,
            event_type=event.type.value,
            recorded=recorded,
            requested=requested,
        )

    # --- handing history over -----------------------------------------------------

    async def run(self) -> None:
        """Hand over every recorded event in order; raise on divergence."""
        events = self._events
        while self._position < len(events):
            event = events[self._position]
            kind = event.type
            if kind is EventType.ACTIVITY_STARTED:
                outcome = events[self._position + 1] if self._position + 1 < len(events) else None
                if outcome is not None and outcome.type in _OUTCOMES:
                    activity = await self._claim(event)
                    self._position += 2
                    _resolve(activity.future, (event, outcome))
                    continue
            elif kind is EventType.TIMER_STARTED:
                timer = await self._claim(event)
                assert timer.on_started is not None
                assert timer.on_fired is not None
                self._fired.setdefault(_fired_key(event), deque()).append(timer.on_fired)
                timer.on_started(event)
                _resolve(timer.future, event)
            elif kind is EventType.TIMER_FIRED:
                waiting = self._fired.get(_fired_key(event))
                if waiting:
                    waiting.popleft()(event)
            elif kind is EventType.MARKER_RECORDED:
                marker = await self._claim(event)
                _resolve(marker.future, event)
            elif kind is EventType.SIGNAL_RECEIVED:
                self._on_signal(event)
            self._position += 1
        self._finish()

    def _request(self, call: _Call) -> None:
        if not self.active:
            call.future.set_result(None)
            return
        recorded = self._by_position.get(call.position)
        if recorded is not None:
            if _key_of(recorded) != call.key:
                self._diverged = self._diverged or self.divergence(recorded, call)
            else:
                self._claimable[call.position] = call
        elif self._legacy_left:
            self._legacy.append(call)
        else:
            self._unrecorded.append(call)
        self._progress.set()

    async def _claim(self, event: HistoryEvent) -> _Call:
        """Wait, as long as it takes, for the call ``event`` records; raise on divergence."""
        key = None if event.position is not None else _key_of(event)
        while True:
            if self._diverged is not None:
                raise self._diverged
            if event.position is not None:
                call = self._claimable.pop(event.position, None)
                if call is not None:
                    return call
            else:
                for index, candidate in enumerate(self._legacy):
                    if candidate.key == key and not candidate.future.done():
                        del self._legacy[index]
                        self._legacy_left -= 1
                        return candidate
            self._progress.clear()
            await self._progress.wait()

    def _finish(self) -> None:
        self.active = False
        for call in [*self._legacy, *self._unrecorded, *self._claimable.values()]:
            _resolve(call.future, None)
        self._legacy.clear()
        self._unrecorded.clear()
        self._claimable.clear()
        callbacks, self._on_finish = self._on_finish, []
        for callback in callbacks:
            callback()
        self.finished.set()


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # a call the workflow stopped waiting for takes nothing
        future.set_result(value)


def _activity_key(name: str | None, attempt: int | None, input: Any) -> _Key:
    return ("activity", name, attempt or 1, _json_key(input))


def _key_of(event: HistoryEvent) -> _Key:
    if event.type is EventType.ACTIVITY_STARTED:
        return _activity_key(event.activity_name, event.attempt, event.input)
    if event.type is EventType.MARKER_RECORDED:
        return ("marker", event.change_id)
    return ("timer", event.duration, event.signal_name)


def _fired_key(event: HistoryEvent) -> Any:
    return (
        ("position", event.position)
        if event.position is not None
        else (event.fire_at, event.signal_name)
    )


def _json_key(value: Any) -> str:
    """A comparison key that tells ``1``, ``1.0`` and ``True`` apart and ignores key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _describe_key(key: _Key) -> str:
    kind = key[0]
    if kind == "activity":
        _, name, attempt, input_key = key
        value = json.dumps(json.loads(input_key), sort_keys=True)
        return f"activity {name!r} (attempt {attempt}) with input {_short(value)}"
    if kind == "marker":
        return f"patch marker {key[1]!r}"
    _, duration, signal_name = key
    if signal_name is not None and duration is None:
        return f"a wait for signal {signal_name!r}"
    if signal_name is not None:
        return f"a wait for signal {signal_name!r} with a timeout of {duration}s"
    return f"a timer of {duration}s"
