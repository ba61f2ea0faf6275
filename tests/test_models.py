from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from beluga_workflow import (
    EventType,
    HistoryEvent,
    InvalidArgumentError,
    PayloadSerializationError,
    Signal,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.codec import decode_state, decode_state_parts, encode_head, encode_state
from beluga_workflow.errors import CorruptStateError
from beluga_workflow.history import format_error
from beluga_workflow.models import MAX_LIMIT
from beluga_workflow.payloads import MAX_PAYLOAD_DEPTH, check_json_value
from beluga_workflow.validation import require_filter, require_workflow_id


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


def _nested(depth: int, leaf: object = "bottom") -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_payload_nested_to_the_limit_is_stored_and_read_back() -> None:
    deepest = _nested(MAX_PAYLOAD_DEPTH)
    state = WorkflowState(
        workflow_id="w",
        input=deepest,
        metadata={"k": _nested(MAX_PAYLOAD_DEPTH - 1)},
        history=[
            HistoryEvent(id=1, type=EventType.SIGNAL_RECEIVED, signal_payload=deepest),
        ],
    )
    assert decode_state(encode_state(state), "w") == state
    events = [event.model_dump_json() for event in state.history]
    assert decode_state_parts(encode_head(state), events, "w") == state


@pytest.mark.parametrize("depth", [MAX_PAYLOAD_DEPTH + 1, 254, 10_000])
def test_payload_nested_past_the_limit_is_refused_without_recursion(depth: int) -> None:
    with pytest.raises(PayloadSerializationError, match=f"more than {MAX_PAYLOAD_DEPTH} levels"):
        check_json_value(_nested(depth), "input")
    with pytest.raises(PayloadSerializationError, match=r"state\.metadata"):
        encode_state(WorkflowState(workflow_id="w", metadata={"k": _nested(depth)}))


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("\ud800", r"^input is"),
        ({"a": ["ok", "x\udfff"]}, r"input\['a'\]\[1\]"),
        ({"\udc80": 1}, r"has a key"),
    ],
)
def test_text_with_a_lone_surrogate_is_refused(value: object, where: str) -> None:
    with pytest.raises(PayloadSerializationError, match=where):
        check_json_value(value, "input")


def test_text_that_utf8_encodes_is_accepted() -> None:
    check_json_value({"héllo 🐳": ["日本語", "\U0010ffff", "\x00"]})


@pytest.mark.parametrize("field", ["error", "workflow_name", "run_id"])
def test_state_text_with_a_lone_surrogate_is_refused(field: str) -> None:
    state = WorkflowState(workflow_id="w", **{field: "bad \ud800"})
    with pytest.raises(InvalidArgumentError, match=rf"state\.{field}"):
        encode_state(state)


def test_event_text_with_a_lone_surrogate_is_refused() -> None:
    event = HistoryEvent(id=1, type=EventType.ACTIVITY_FAILED, error="bad \ud800")
    with pytest.raises(InvalidArgumentError, match=r"state\.history\[0\]\.error"):
        encode_state(WorkflowState(workflow_id="w", history=[event]))


def test_error_text_of_an_exception_is_made_storable() -> None:
    text = format_error(ValueError("bad \ud800 é"))
    assert text == "ValueError: bad \\ud800 é"
    text.encode("utf-8")


@pytest.mark.parametrize("workflow_id", ["a\x00b", "\x00", "a\ud800", "\udfff"])
def test_ids_with_nul_or_a_lone_surrogate_are_refused(workflow_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="workflow_id must"):
        require_workflow_id(workflow_id)


def test_limit_must_fit_in_64_bits() -> None:
    assert WorkflowFilter(limit=MAX_LIMIT).limit == 2**63 - 1
    with pytest.raises(ValidationError):
        WorkflowFilter(limit=2**63)
    with pytest.raises(InvalidArgumentError, match="2\\*\\*63 - 1"):
        require_filter(WorkflowFilter.model_construct(status=None, limit=2**63))
