"""Commit records and chunking shared by the stores that keep a state in parts."""

from __future__ import annotations

import pytest

from beluga_workflow import CorruptStateError, EventType, HistoryEvent, WorkflowState
from beluga_workflow.chunked import CommitRecord, history_text, split
from beluga_workflow.codec import encode_head


def test_split_respects_the_size_and_keeps_every_byte() -> None:
    text = "é" * 1000  # two bytes each
    chunks = split(text, 300)
    assert all(len(chunk) <= 300 for chunk in chunks)
    assert b"".join(chunks).decode() == text
    assert split("", 10) == []


def test_a_state_written_in_parts_and_steps_reads_back_whole() -> None:
    state = WorkflowState(
        workflow_id="w/1",
        input={"x": 1.0},
        history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED, result=i) for i in range(3)],
    )
    record = CommitRecord.first(state)
    head = split(encode_head(state), 16)
    fragments = split(history_text(state), 16)
    state.history.append(HistoryEvent(id=3, type=EventType.TIMER_FIRED))
    step = CommitRecord.decode(record.encode(), "w/1").next_step(state)
    assert (step.gen, step.head, step.n) == (record.gen, 1, 4)
    fragments += split(history_text(state, 3), 16)
    assert history_text(state, 3).startswith(",")
    assert step.assemble(split(encode_head(state), 16), fragments) == state
    assert record.assemble(head, []).history == []


def test_an_unreadable_commit_record_names_its_key() -> None:
    with pytest.raises(CorruptStateError, match="'key-7'"):
        CommitRecord.decode(b'{"id": "x"}', "key-7")
