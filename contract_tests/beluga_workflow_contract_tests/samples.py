"""States, payloads and ids the rules save: realistic, and awkward on purpose.

Every sample fills every field with a value a careless encoding would lose:
microsecond timestamps given in a non-UTC zone, nested JSON, unicode, ints
next to floats, a history of several event kinds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from beluga_workflow import EventType, HistoryEvent, WorkflowState, WorkflowStatus

__all__ = [
    "COLLIDING_IDS",
    "CONTROL_TEXTS",
    "DIFFICULT_IDS",
    "NESTED_JSON",
    "NUMBERS",
    "TYPE_PROBES",
    "UNICODE_TEXTS",
    "history",
    "nested",
    "next_step",
    "sample_state",
]

IST = timezone(timedelta(hours=5, minutes=30))
BASE_TIME = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=IST)
EVENT_KINDS = [
    EventType.WORKFLOW_STARTED,
    EventType.ACTIVITY_STARTED,
    EventType.ACTIVITY_COMPLETED,
    EventType.TIMER_STARTED,
    EventType.TIMER_FIRED,
    EventType.SIGNAL_RECEIVED,
    EventType.ACTIVITY_FAILED,
]


def history(count: int, marker: int = 0, start: int = 1) -> list[HistoryEvent]:
    """``count`` events of varied kinds whose ids and payloads carry ``marker``."""
    events = []
    for index in range(count):
        kind = EVENT_KINDS[index % len(EVENT_KINDS)]
        events.append(
            HistoryEvent(
                id=start + index,
                type=kind,
                timestamp=BASE_TIME + timedelta(microseconds=7 * index + marker),
                activity_name=f"step-{index}" if "activity" in kind else None,
                input={"marker": marker, "index": index, "args": [index, float(index) + 0.5]},
                result={"marker": marker, "ok": index % 2 == 0} if index % 3 else None,
                error=f"attempt {index} failed" if kind is EventType.ACTIVITY_FAILED else None,
                signal_name="approve" if kind is EventType.SIGNAL_RECEIVED else None,
                signal_payload={"by": "ana", "n": index}
                if kind is EventType.SIGNAL_RECEIVED
                else None,
                duration=0.25 * index if index % 2 else None,
                attempt=index + 1 if "activity" in kind else None,
                fire_at=BASE_TIME + timedelta(seconds=index) if "timer" in kind else None,
            )
        )
    return events


def sample_state(
    workflow_id: str,
    marker: int = 0,
    *,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    events: int = 3,
    **fields: Any,
) -> WorkflowState:
    """A state with every field set; ``marker`` makes states of one test tell apart."""
    values: dict[str, Any] = {
        "workflow_id": workflow_id,
        "run_id": f"run-{marker}",
        "status": status,
        "input": {"marker": marker, "order": {"items": [1, 2, 3], "note": "größe ✓"}},
        "result": {"marker": marker, "total": 12.5} if status is WorkflowStatus.COMPLETED else None,
        "error": f"failure {marker}" if status is WorkflowStatus.FAILED else None,
        "history": history(events, marker),
        "created_at": BASE_TIME + timedelta(microseconds=marker),
        "updated_at": BASE_TIME + timedelta(seconds=1, microseconds=marker),
        "workflow_name": "orders.checkout",
        "version": marker,
        "metadata": {"marker": marker, "deadline": "2024-03-01T00:00:00Z"},
    }
    values.update(fields)
    return WorkflowState(**values)


def next_step(state: WorkflowState, new_events: int, **fields: Any) -> WorkflowState:
    """The state one workflow step later: ``new_events`` more events, other fields changed."""
    start = len(state.history) + 1
    events = [*state.history, *history(new_events, marker=start, start=start)]
    return state.model_copy(update={"history": events, **fields}, deep=True)


NESTED_JSON: dict[str, Any] = {
    "list": [1, 2.5, None, True, False, "x", {"deep": {"deeper": [[], {}, [[[]]]]}}],
    "": "an empty key",
    "object": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": ["bottom"]}}}}}}}},
    "empty_list": [],
    "empty_object": {},
    "empty_string": "",
    "mixed": [[1, "1"], {"1": 1}, [None, [None]]],
    'quote"key': "back\\slash",
    "spaces in key": "  padded  ",
}

UNICODE_TEXTS: list[str] = [
    "größe",
    "日本語のテキスト",
    "עִבְרִית",
    "العربية",
    "🐋🐳 whales",
    "👩‍👩‍👧‍👦",
    "é",  # composed
    "e\u0301",  # decomposed: must not be normalized into the composed form
    "\u212b",  # ANGSTROM SIGN, canonically equal to Å but a different string
    # Fraktur letters, outside the Basic Multilingual Plane:
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
    "\u200b\ufeff",  # zero-width space, byte order mark
]

CONTROL_TEXTS: list[str] = [
    "line\nbreak",
    "carriage\rreturn",
    "tab\tstop",
    "nul\x00inside",
    "bell\x07 and escape\x1b[0m",
    "\u2028line separator\u2029",
    "\x7f",
]

NUMBERS: list[int | float] = [
    0,
    -1,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**64,
    10**30,
    -(10**30),
    0.1,
    -0.0,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1e-7,
    123456789.12345679,
]

TYPE_PROBES: dict[str, Any] = {
    "int": 1,
    "float": 1.0,
    "true": True,
    "string": "1",
    "zero": 0,
    "zero_float": 0.0,
    "false": False,
    "none": None,
    "empty_string": "",
    "integral_float": 2.0,
    "list": [1, 1.0, True, "1", 0, 0.0, False, None],
}

DIFFICULT_IDS: list[str] = [
    "/",
    ".",
    "..",
    "../../escape",
    "a/b/c",
    "/leading/slash",
    "trailing/",
    "*",
    ">",
    "orders.*.>",
    ":",
    "a:b::c",
    " ",
    "  two leading spaces",
    "trailing spaces  ",
    "inner  space",
    "'single quotes'",
    '"double quotes"',
    "`backticks`",
    "%",
    "100%",
    "%2F",
    "%00",
    "emoji 🐋",
    "🐋",
    "tab\there",
    "new\nline",
    "back\\slash",
    "question?mark",
    "hash#tag",
    "a&b=c",
    "plus+sign",
    "semi;colon",
    "{braces}[brackets](parens)<angles>",
    "$dollar",
    "~tilde",
    "pipe|",
    "comma,",
    "CON",
    "'; DROP TABLE workflow_states; --",
    "größe",
    "x" * 1000,
    "🐋" * 1000,
]

COLLIDING_IDS: list[list[str]] = [
    ["a/b", "a_b", "a.b", "a-b", "a:b", "a b", "a+b", "a%2Fb", "a%2fb", "a\\b", "a|b", "a*b"],
    ["a>b", "a?b", "a#b", "a&b", "a=b", "a;b", "a,b", "a%b", "a%20b", "ab", "a__b", "a//b"],
    ["CaseSensitive", "casesensitive", "CASESENSITIVE"],
    ["padded", "padded ", " padded", "padded\t"],
    ["é", "e\u0301", "\u212b", "\u00c5", "ß", "ss"],
    ["p" * 300 + "1", "p" * 300 + "2", "p" * 300],
    ["x", "x.json", "x/", "x.", ".x"],
]
"""Ids that differ only in characters an encoding could drop, fold or escape."""


def nested(depth: int, leaf: Any = "bottom") -> Any:
    """A JSON value ``depth`` levels deep: objects and arrays, alternately, around ``leaf``."""
    value = leaf
    for level in range(depth):
        value = {"level": value} if level % 2 else [value]
    return value
