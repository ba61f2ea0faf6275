"""The conditional-write frames: checks before anything, the standard conflicts after a refusal."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    HistoryEvent,
    InvalidArgumentError,
    WorkflowState,
)
from beluga_workflow.storekit import AppendFrame, CompareAndSaveFrame, StateRecord


class Recorder(AppendFrame, CompareAndSaveFrame):
    """Answers every conditional write with ``answer`` and notes what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int, int]] = []

    async def save_if_version(self, state: WorkflowState, expected: int) -> bool:
        self.asked.append(("save", state.version, expected))
        return self.answer

    async def append_if_length(self, state: WorkflowState, kept: int) -> bool:
        self.asked.append(("append", len(state.history), kept))
        return self.answer


def _state(events: int) -> WorkflowState:
    history = [HistoryEvent(id=i, type=EventType.TIMER_FIRED) for i in range(events)]
    return WorkflowState(workflow_id="w", history=history)


def test_compare_and_save_writes_the_next_version_and_returns_it() -> None:
    store = Recorder(answer=True)

    assert asyncio.run(store.compare_and_save(_state(0), 4)) == 5
    assert store.asked == [("save", 5, 4)]


def test_a_refused_write_raises_the_standard_conflict() -> None:
    store = Recorder(answer=False)

    with pytest.raises(ConcurrencyConflictError, match="not at the expected version 4"):
        asyncio.run(store.compare_and_save(_state(0), 4))
    with pytest.raises(ConcurrencyConflictError, match="does not have the 2 stored events"):
        asyncio.run(store.append(_state(3), 1))


@pytest.mark.parametrize("expected", [True, "1", 1.0])
def test_bad_input_is_refused_before_the_backend_is_asked(expected: object) -> None:
    store = Recorder(answer=True)

    with pytest.raises(InvalidArgumentError):
        asyncio.run(store.compare_and_save(_state(0), expected))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        asyncio.run(store.append(_state(1), 2))
    assert store.asked == []


def test_a_state_record_encodes_only_the_new_events_until_all_are_asked_for() -> None:
    state = _state(3)
    record = StateRecord.of(state, kept=2)

    assert record.history_len == 3
    assert record.events == [state.history[2].model_dump_json()]
    assert record.all_events() == [event.model_dump_json() for event in state.history]
    assert "history" not in record.head
