"""Durable events: named values a workflow publishes for any process to read.

A workflow calls :meth:`WorkflowContext.set_event
<beluga_workflow.context.WorkflowContext.set_event>`; the value is recorded in
its history as an ``event_published`` event, so it is in the store for every
reader (``Client.get_event``, ``Client.wait_for_event``, and ``query`` for a
name the workflow answers no other way). The latest event of a key wins.

On replay a resumed workflow calls ``set_event`` again; the n-th call of the
run is the n-th recorded event, so it is not recorded twice. A call whose key
differs from the recorded one means the code changed under the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beluga_workflow.errors import NonDeterminismError
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState

__all__ = ["PublishedEvents", "latest_event"]


def latest_event(state: WorkflowState, key: str) -> tuple[bool, Any]:
    """``(True, value)`` of the latest event ``key`` the run published, else ``(False, None)``."""
    for event in reversed(state.history):
        if event.type is EventType.EVENT_PUBLISHED and event.event_key == key:
            return True, event.result
    return False, None


class PublishedEvents:
    """The events a resumed run published before, matched in order to its ``set_event`` calls."""

    def __init__(self, workflow_id: str, history: Sequence[HistoryEvent]) -> None:
        self._workflow_id = workflow_id
        self._recorded = [event for event in history if event.type is EventType.EVENT_PUBLISHED]
        self._calls = 0

    def already_recorded(self, key: str) -> bool:
        """Whether this call (the next ``set_event`` of the run) is in history already.

        Raises ``NonDeterminismError`` when history has an event of another key
        at this place.
        """
        index = self._calls
        self._calls += 1
        if index >= len(self._recorded):
            return False
        recorded = self._recorded[index]
        if recorded.event_key != key:
            raise NonDeterminismError(
                f"workflow {self._workflow_id!r} no longer matches its history at event "
                f"{recorded.id} (event_published): history has event {recorded.event_key!r}, "
                f"but the workflow now publishes {key!r}. Its code changed while this run was "
                "in progress; finish such runs with the code that started them"
            )
        return True
