"""The in-memory store: the default, and the reference implementation for provider authors.

State lives in a dict in this process and is lost when it exits. Every state
going in or out is copied, so callers never share mutable objects with the
store, and one lock makes it safe from many tasks and many threads.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from beluga_workflow.errors import StoreClosedError
from beluga_workflow.listing import StateList
from beluga_workflow.models import HistoryEvent, WorkflowFilter, WorkflowState
from beluga_workflow.payloads import copy_json
from beluga_workflow.providers.inmemory.config import InMemoryConfig
from beluga_workflow.storekit.base import StoreBase
from beluga_workflow.storekit.checks import (
    require_append,
    require_expected_version,
    require_filter,
    require_state,
    require_version_number,
    require_workflow_id,
)
from beluga_workflow.storekit.conflicts import history_conflict, version_conflict
from beluga_workflow.watching import Watchers

__all__ = ["InMemoryStore", "create_store"]


def create_store(config: InMemoryConfig) -> InMemoryStore:
    """Factory named by the plugin's ``StoreProvider`` record."""
    return InMemoryStore()


class InMemoryStore(StoreBase):
    """A :class:`~beluga_workflow.WorkflowStore` kept in process memory.

    Also implements ``append`` (a step copies only the new events),
    ``compare_and_save`` (optimistic concurrency) and ``compare_and_append``
    (a step conditional on the version and the history's length, which also
    moves the version on) and ``watch`` (each write tells every watcher of
    this store, whichever thread or loop made it). Listing order is insertion
    order of first save, which callers must not rely on. ``list`` returns a
    :class:`~beluga_workflow.listing.StateList`, as every store should: a
    record that cannot be read is skipped and reported, never fatal.
    """

    provider = "in-memory"

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[str, WorkflowState] = {}
        self._lock = threading.Lock()
        self._watchers = Watchers()

    def shown(self) -> list[tuple[str, Any]]:
        return [("states", len(self._states)), ("closed", self._closed)]

    def closed_error(self) -> StoreClosedError:
        return StoreClosedError("this InMemoryStore is closed")

    async def save(self, state: WorkflowState) -> None:
        require_state(state)
        stored = _copy_state(state)
        with self._lock:
            self.check_open()
            self._states[state.workflow_id] = stored
        self._changed(state.workflow_id)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        require_workflow_id(workflow_id)
        with self._lock:
            self.check_open()
            stored = self._states.get(workflow_id)
            return None if stored is None else _copy_state(stored)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        wanted = require_filter(filter)
        matches = StateList()
        with self._lock:
            self.check_open()
            for stored in self._states.values():
                if wanted.status is not None and stored.status != wanted.status:
                    continue
                matches.add(_copy_state, stored)
                if wanted.limit and len(matches) >= wanted.limit:
                    break
        return matches

    async def delete(self, workflow_id: str) -> None:
        require_workflow_id(workflow_id)
        with self._lock:
            self.check_open()
            self._states.pop(workflow_id, None)
        self._changed(workflow_id)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        kept = require_append(state, new_events)
        with self._lock:
            self.check_open()
            stored = self._states.get(state.workflow_id)
            if stored is None:
                require_state(state)
                self._states[state.workflow_id] = _copy_state(state)
            else:
                _check_length(stored, kept)
                self._states[state.workflow_id] = _extended(stored, state, kept)
        self._changed(state.workflow_id)

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        require_state(state)
        require_version_number(expected_version)
        with self._lock:
            self.check_open()
            stored = self._states.get(state.workflow_id)
            _check_version(state.workflow_id, stored, expected_version)
            new_version = expected_version + 1
            stored = _copy_state(state)
            stored.version = new_version
            self._states[state.workflow_id] = stored
        self._changed(state.workflow_id)
        return new_version

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept = require_append(state, new_events)
        require_expected_version(expected_version)
        if expected_version == 0:
            require_state(state)  # it may be the whole state, stored for the first time
        with self._lock:
            self.check_open()
            stored = self._states.get(state.workflow_id)
            _check_version(state.workflow_id, stored, expected_version)
            if stored is None:
                written = _copy_state(state)
            else:
                _check_length(stored, kept)
                written = _extended(stored, state, kept)
            written.version = expected_version + 1
            self._states[state.workflow_id] = written
        self._changed(state.workflow_id)
        return written.version

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield ``None``, then the id of every state written through this store.

        See :class:`~beluga_workflow.store.SupportsWatch`. Ends when the store
        closes; raises :class:`StoreClosedError` if it already has.
        """
        with self._lock:  # close() cannot slip between the check and the subscription
            self.check_open()
            subscription = self._watchers.subscribe()
        try:
            yield None
            async for workflow_id in subscription:
                yield workflow_id
        finally:
            self._watchers.unsubscribe(subscription)

    async def close(self) -> None:
        with self._lock:  # a watch() subscribing now is either refused or ended below
            self._closed = True
        self._watchers.end_all()

    def _changed(self, workflow_id: str) -> None:
        """Tell the watchers, after the write (so a watcher reading at once sees it)."""
        self._watchers.notify(workflow_id)


def _check_version(workflow_id: str, stored: WorkflowState | None, expected: int) -> None:
    """The stored version (0 with nothing stored) must be the one the writer read."""
    current = 0 if stored is None else stored.version
    if current != expected:
        raise version_conflict(workflow_id, expected, current)


def _check_length(stored: WorkflowState, kept: int) -> None:
    """The stored history must be the one the new events extend."""
    if len(stored.history) != kept:
        raise history_conflict(stored.workflow_id, kept, len(stored.history))


def _extended(stored: WorkflowState, state: WorkflowState, kept: int) -> WorkflowState:
    """``state``'s head on ``stored``'s history plus copies of the new events.

    Only the new events are copied, so a step costs the same whatever the
    history's length. The stored list is extended in place: nothing outside
    the store holds it.
    """
    history = stored.history
    history.extend(_copy_events(state.history[kept:]))
    return _copy_without_history(state, history)


def _copy_state(state: WorkflowState) -> WorkflowState:
    return _copy_without_history(state, _copy_events(state.history))


def _copy_events(events: list[HistoryEvent]) -> list[HistoryEvent]:
    """Copies sharing nothing mutable with ``events`` (their payloads are checked JSON)."""
    return [_copied(event, _EVENT_PAYLOADS) for event in events]


def _copy_without_history(state: WorkflowState, history: list[HistoryEvent]) -> WorkflowState:
    copy = _copied(state, _STATE_PAYLOADS)
    copy.__dict__["history"] = history
    return copy


_EVENT_PAYLOADS = ("input", "result", "signal_payload")
_STATE_PAYLOADS = ("input", "result", "metadata")

_Model = TypeVar("_Model", HistoryEvent, WorkflowState)


def _copied(model: _Model, payloads: tuple[str, ...]) -> _Model:
    """A shallow copy whose payload fields are copied too.

    Every other field is immutable (str, int, enum, datetime), so sharing it
    is safe; writing the copies into ``__dict__`` skips validation, which the
    originals already passed.
    """
    copy = model.__copy__()
    fields = copy.__dict__
    for name in payloads:
        value = fields[name]
        if isinstance(value, (dict, list)):
            fields[name] = copy_json(value)
    return copy
