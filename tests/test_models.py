from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from beluga_workflow import (
    EventType,
    HistoryEvent,
    PayloadSerializationError,
    Signal,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.codec import decode_state, encode_state
from beluga_workflow.errors import CorruptStateError
from beluga_workflow.payloads import check_json_value


def test_enums_have_the_spec_values() -> None:
    assert [s.value for s in WorkflowStatus] == ["running", "completed", "failed", "canceled"]
    assert {e.value for e in EventType} >= {
        "workflow_started",
        "workflow_completed",
        "workflow_failed",
        "workflow_canceled",
        "activity_started",
        "activity_completed",
        "activity_failed",
        "signal_received",
        "timer_fired",
    }


def test_timestamps_are_normalized_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = HistoryEvent(
        id=1,
        type=EventType.TIMER_FIRED,
        timestamp=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=plus_two),
    )
    assert event.timestamp == datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert event.timestamp.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        WorkflowState(workflow_id="w", created_at=datetime(2026, 1, 1))


def test_negative_limit_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        WorkflowFilter(limit=-1)
    flt = WorkflowFilter()
    with pytest.raises(ValidationError):
        flt.limit = -5


def test_signal_needs_a_name() -> None:
    with pytest.raises(ValidationError):
        Signal(name="")


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        (1, 2),
        float("nan"),
        float("inf"),
        -float("inf"),
        {"k": object()},
        {1: "int key"},
        [1, [2, {"deep": b"bytes"}]],
    ],
)
def test_non_json_payloads_are_refused(value: object) -> None:
    with pytest.raises(PayloadSerializationError):
        check_json_value(value)


def test_error_names_where_the_bad_value_is() -> None:
    with pytest.raises(PayloadSerializationError, match=r"input\['a'\]\[1\]"):
        check_json_value({"a": [1, float("nan")]}, "input")


def test_codec_keeps_types_exactly() -> None:
    payload = {
        "int": 1,
        "float": 1.0,
        "bool": True,
        "none": None,
        "big": 2**70,
        "neg_zero": -0.0,
        "tiny": 5e-324,
        "text": "héllo 🐳",
        "nested": [{"a": [1, 2.5]}],
    }
    state = WorkflowState(workflow_id="w", input=payload)
    back = decode_state(encode_state(state), "w")
    assert back == state
    assert type(back.input["int"]) is int
    assert type(back.input["float"]) is float
    assert back.input["bool"] is True


def test_unreadable_record_names_the_workflow() -> None:
    with pytest.raises(CorruptStateError, match="'order-7'"):
        decode_state(b'{"workflow_id": 5}', "order-7")
