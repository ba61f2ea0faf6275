"""Every field comes back exactly: JSON payloads, unicode, numbers, times, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from beluga_workflow import EventType, HistoryEvent, WorkflowState
from beluga_workflow.payloads import MAX_PAYLOAD_DEPTH
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import (
    BASE_TIME,
    CONTROL_TEXTS,
    NESTED_JSON,
    NUMBERS,
    TYPE_PROBES,
    UNICODE_TEXTS,
    history,
    nested,
    sample_state,
)
from beluga_workflow_contract_tests.suite.expectations import expect_state, listed, same_state

__all__ = ["FidelityRules", "round_trip"]


def _with_payload(workflow_id: str, payload: object, marker: int = 0) -> WorkflowState:
    """A state carrying ``payload`` in every payload field a store keeps."""
    events = history(3, marker)
    events[0].input = payload
    events[1].result = payload
    events[2].signal_payload = payload
    return sample_state(
        workflow_id,
        marker,
        input=payload,
        result=[payload],
        history=events,
        metadata={"payload": payload},
    )


async def round_trip(
    run: ContractRun, states: list[WorkflowState], *, through_list: bool = True
) -> None:
    store = await run.open()
    for state in states:
        await store.save(state)
    for state in states:
        await expect_state(store, state)
    if not through_list:  # list.fidelity covers listing; big states need not repeat it
        return
    by_id = {state.workflow_id: state for state in states}
    for entry in run.mine(await listed(store)):
        same_state(by_id[entry.workflow_id], entry, f"list() entry {entry.workflow_id!r}")


class FidelityRules:
    """SPEC 4: round-trip fidelity of every field; types survive."""

    @rule("fidelity.nested_json", "nested JSON objects and arrays come back unchanged")
    async def test_nested_json(self, run: ContractRun) -> None:
        deep: object = "bottom"
        for level in range(64):
            deep = {f"level{level}": [deep]}
        await round_trip(
            run,
            [
                _with_payload(run.id("nested"), NESTED_JSON, 1),
                _with_payload(run.id("deep"), deep, 2),
                _with_payload(run.id("array"), [NESTED_JSON, [NESTED_JSON]], 3),
            ],
        )

    @rule(
        "fidelity.deepest_payload",
        f"payloads nested {MAX_PAYLOAD_DEPTH} levels deep, the most accepted, come back unchanged",
    )
    async def test_deepest_payload(self, run: ContractRun) -> None:
        deepest = nested(MAX_PAYLOAD_DEPTH)
        events = history(3, 1)
        events[0].input = deepest
        events[1].result = nested(MAX_PAYLOAD_DEPTH, leaf=1.5)
        events[2].signal_payload = deepest
        state = sample_state(
            run.id("deepest"),
            1,
            input=deepest,
            result=nested(MAX_PAYLOAD_DEPTH, leaf=None),
            history=events,
            metadata={"payload": nested(MAX_PAYLOAD_DEPTH - 1)},  # the mapping is one level
        )
        await round_trip(run, [state])

    @rule("fidelity.unicode", "unicode text (keys, values and names) comes back unnormalized")
    async def test_unicode(self, run: ContractRun) -> None:
        values = {f"text{index}": text for index, text in enumerate(UNICODE_TEXTS)}
        keys = {text: index for index, text in enumerate(UNICODE_TEXTS)}
        state = _with_payload(run.id("unicode"), {"values": values, "keys": keys}, 1)
        state.error = " / ".join(UNICODE_TEXTS)
        state.workflow_name = "größe.日本語.🐋"
        state.run_id = "run-é-e\u0301"
        state.history[1].activity_name = "ünïcödé-activity"
        state.history[2].signal_name = "signal-🐳"
        await round_trip(run, [state])

    @rule(
        "fidelity.control_characters", "control characters and NUL in strings come back unchanged"
    )
    async def test_control_characters(self, run: ContractRun) -> None:
        values = {f"text{index}": text for index, text in enumerate(CONTROL_TEXTS)}
        keys = {text: index for index, text in enumerate(CONTROL_TEXTS)}
        state = _with_payload(run.id("control"), {"values": values, "keys": keys}, 1)
        state.error = "".join(CONTROL_TEXTS)
        await round_trip(run, [state])

    @rule("fidelity.none", "None (JSON null) comes back as None, also inside payloads")
    async def test_none_values(self, run: ContractRun) -> None:
        bare = WorkflowState(
            workflow_id=run.id("defaults"),
            created_at=BASE_TIME,
            updated_at=BASE_TIME,
            history=[HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED, timestamp=BASE_TIME)],
        )
        await round_trip(
            run,
            [
                bare,
                _with_payload(
                    run.id("nulls"), {"a": None, "b": [None, [None]], "c": {"d": None}}, 1
                ),
                _with_payload(run.id("null-list"), [None], 2),
            ],
        )

    @rule(
        "fidelity.numbers",
        "numbers keep their value and sign: big ints, -0.0, subnormal and extreme floats",
    )
    async def test_numbers(self, run: ContractRun) -> None:
        state = _with_payload(
            run.id("numbers"), {"list": NUMBERS, "each": {str(n): n for n in NUMBERS}}, 1
        )
        state.version = 2**62
        state.history[1].duration = 0.1
        state.history[0].id = 2**53 + 1
        await round_trip(run, [state])

    @rule("fidelity.types", "1, 1.0, True and '1' (and 0, 0.0, False, None) stay distinct")
    async def test_types_survive(self, run: ContractRun) -> None:
        await round_trip(
            run,
            [
                _with_payload(run.id("types"), TYPE_PROBES, 1),
                _with_payload(run.id("int"), 1, 2),
                _with_payload(run.id("float"), 1.0, 3),
                _with_payload(run.id("bool"), True, 4),
                _with_payload(run.id("string"), "1", 5),
            ],
        )

    @rule(
        "fidelity.timestamps",
        "timestamps come back timezone-aware, in UTC, to the microsecond",
    )
    async def test_timestamps(self, run: ContractRun) -> None:
        zones = [
            UTC,
            timezone(timedelta(hours=5, minutes=30)),
            timezone(timedelta(hours=-9, minutes=-45)),
        ]
        moments = [
            datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=zones[1]),
            datetime(2038, 1, 19, 3, 14, 8, 500001, tzinfo=zones[2]),
            datetime(1, 1, 2, 0, 0, 0, 1, tzinfo=UTC),
            datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
        ]
        states = []
        for index, moment in enumerate(moments):
            events = [
                HistoryEvent(
                    id=1,
                    type=EventType.TIMER_STARTED,
                    timestamp=moment,
                    fire_at=moment + timedelta(microseconds=1),
                ),
                HistoryEvent(id=2, type=EventType.TIMER_FIRED, timestamp=moment),
            ]
            states.append(
                sample_state(
                    run.id(f"time-{index}"),
                    index,
                    created_at=moment,
                    updated_at=moment + timedelta(microseconds=1),
                    history=events,
                )
            )
        await round_trip(run, states)

    @rule("fidelity.event_order", "history events come back in the order they were saved")
    async def test_event_order(self, run: ContractRun) -> None:
        events = history(12, 1)
        ids = [5, 3, 9, 1, 12, 2, 2, 7, 11, 4, 10, 6]
        for event, event_id in zip(events, ids, strict=True):
            event.id = event_id
            event.timestamp = BASE_TIME.astimezone(UTC)
        reversed_events = [event.model_copy(deep=True) for event in reversed(events)]
        await round_trip(
            run,
            [
                sample_state(run.id("order"), 1, history=events),
                sample_state(run.id("reversed"), 2, history=reversed_events),
            ],
        )

    @rule(
        "fidelity.event_order_by_position",
        "history comes back in the order it was saved, whatever the events' timestamps: "
        "equal, decreasing or shuffled (a store never re-sorts it by time or id)",
    )
    async def test_event_order_ignores_timestamps(self, run: ContractRun) -> None:
        offsets = {
            "equal": [0] * 8,
            "decreasing": list(range(8, 0, -1)),
            "shuffled": [5, 1, 7, 1, 3, 8, 2, 6],
        }
        states = []
        for marker, (name, seconds) in enumerate(offsets.items()):
            events = history(len(seconds), marker)
            for event, offset in zip(events, seconds, strict=True):
                event.timestamp = (BASE_TIME + timedelta(seconds=offset)).astimezone(UTC)
            states.append(sample_state(run.id(f"timestamps-{name}"), marker, history=events))
        await round_trip(run, states)
