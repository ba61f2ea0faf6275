"""Bad input gets the documented error and changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from beluga_workflow import (
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow.models import MAX_LIMIT
from beluga_workflow.payloads import MAX_PAYLOAD_DEPTH
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import history, nested, sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    ids,
    listed,
)
from beluga_workflow_contract_tests.violations import check, expect_raises, short

__all__ = ["BadInputRules"]

NOT_STRINGS: list[Any] = [42, None, b"bytes-id", ["list"], 1.5]

UNSERIALIZABLE: list[Any] = [
    {1, 2},
    object(),
    b"bytes",
    (1, 2),
    {1: "an int key"},
    Decimal("1.5"),
    datetime(2024, 1, 1),
    {"nested": [{"deep": {"a", "set"}}]},
]

NON_FINITE: list[float] = [float("nan"), float("inf"), float("-inf")]

TOO_DEEP: list[Any] = [nested(MAX_PAYLOAD_DEPTH + 1), nested(254), nested(10_000)]
"""Just past the limit, past what a JSON decoder reads back, and past Python's recursion."""

UNENCODABLE_TEXT: list[Any] = ["\ud800", {"text": "lone \udfff surrogate"}, {"key \udc80": 1}]

NUL_IDS: list[str] = ["\x00", "nul\x00inside", "trailing\x00"]

SURROGATE_IDS: list[str] = ["\ud800", "lone \udfff surrogate", "🐋\udc80"]

HUGE_LIMITS: list[int] = [MAX_LIMIT + 1, 2**64, 10**30]

PLACES: dict[str, Callable[[WorkflowState, Any], None]] = {
    "input": lambda state, value: setattr(state, "input", value),
    "result": lambda state, value: setattr(state, "result", {"ok": [value]}),
    "metadata": lambda state, value: state.metadata.__setitem__("bad", value),
    "history[0].input": lambda state, value: setattr(state.history[0], "input", value),
    "history[1].result": lambda state, value: setattr(state.history[1], "result", [value]),
    "history[2].signal_payload": lambda state, value: setattr(
        state.history[2], "signal_payload", value
    ),
}


def _describe(value: Any) -> str:
    try:
        return short(value, 40)
    except RecursionError:  # too deep even for repr
        return f"(a {type(value).__name__} nested thousands of levels deep)"


async def _rejects_ids(run: ContractRun, bad_ids: list[str], kind: str) -> None:
    store = await run.open()
    kept = sample_state(run.id("kept"))
    await store.save(kept)
    for bad in bad_ids:
        what = f"an id holding {kind} ({bad!r})"
        await expect_raises(
            InvalidArgumentError, store.save(sample_state(bad)), f"save() of {what}"
        )
        await expect_raises(InvalidArgumentError, store.load(bad), f"load() of {what}")
        await expect_raises(InvalidArgumentError, store.delete(bad), f"delete() of {what}")
    stored = [i for i in ids(await listed(store)) if i in bad_ids]
    check(not stored, f"list() returned a state with the rejected id {stored[:1]}")
    await expect_state(store, kept, f"after operations with ids holding {kind} were rejected")


def _bad_state(workflow_id: str, place: str, value: Any) -> WorkflowState:
    state = sample_state(workflow_id, 7, history=history(3, 7))
    PLACES[place](state, value)
    return state


async def _rejects_payloads(
    run: ContractRun, store: WorkflowStore, values: list[Any], kind: str
) -> None:
    existing = sample_state(run.id("existing"), 1)
    await store.save(existing)
    for value in values:
        for place in PLACES:
            for workflow_id in (run.id("new"), existing.workflow_id):
                await expect_raises(
                    PayloadSerializationError,
                    store.save(_bad_state(workflow_id, place, value)),
                    f"save() of a state whose {place} holds {kind} {_describe(value)}",
                )
            when = f"after a save with {kind} in {place} was rejected"
            await expect_absent(store, run.id("new"), when)
            await expect_state(store, existing, when)


class BadInputRules:
    """SPEC 4: bad input gets a clear, documented error and changes nothing."""

    @rule(
        "input.empty_id",
        "an empty id is rejected with InvalidArgumentError by save, load and delete",
    )
    async def test_empty_id_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        kept = sample_state(run.id("kept"))
        await store.save(kept)
        await expect_raises(InvalidArgumentError, store.save(sample_state("")), "save() of id ''")
        await expect_raises(InvalidArgumentError, store.load(""), "load('')")
        await expect_raises(InvalidArgumentError, store.delete(""), "delete('')")
        check("" not in ids(await listed(store)), "list() returned a state with the empty id")
        await expect_state(store, kept, "after operations with an empty id were rejected")

    @rule("input.non_str_id", "an id that is not a str is rejected with InvalidArgumentError")
    async def test_non_string_id_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        kept = sample_state(run.id("kept"))
        await store.save(kept)
        for bad in NOT_STRINGS:
            state = WorkflowState.model_construct(**{**dict(kept), "workflow_id": bad})
            await expect_raises(InvalidArgumentError, store.save(state), f"save() of id {bad!r}")
            await expect_raises(InvalidArgumentError, store.load(bad), f"load({bad!r})")
            await expect_raises(InvalidArgumentError, store.delete(bad), f"delete({bad!r})")
        await expect_state(store, kept, "after operations with non-string ids were rejected")
        wrong = [i for i in ids(await listed(store)) if not isinstance(i, str)]
        check(not wrong, f"list() returned a state with the non-string id {wrong[:1]}")

    @rule("input.negative_limit", "a negative limit is rejected with InvalidArgumentError")
    async def test_negative_limit_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await store.save(sample_state(run.id("kept")))
        before = sorted(ids(await listed(store)))
        for limit in (-1, -5):
            await expect_raises(
                InvalidArgumentError,
                store.list(WorkflowFilter.model_construct(status=None, limit=limit)),
                f"list(WorkflowFilter(limit={limit}))",
            )
        after = sorted(ids(await listed(store)))
        check(after == before, "list() changed after a negative limit was rejected")

    @rule(
        "input.nul_id",
        "an id holding NUL is rejected with InvalidArgumentError by save, load and delete "
        "(the same in every store: not every backend can keep NUL)",
    )
    async def test_nul_id_rejected(self, run: ContractRun) -> None:
        await _rejects_ids(run, NUL_IDS, "NUL")

    @rule(
        "input.unencodable_id",
        "an id holding a lone surrogate (not encodable as UTF-8) is rejected with "
        "InvalidArgumentError by save, load and delete",
    )
    async def test_unencodable_id_rejected(self, run: ContractRun) -> None:
        await _rejects_ids(run, SURROGATE_IDS, "a lone surrogate")

    @rule(
        "input.huge_limit",
        "a limit that does not fit in a signed 64-bit integer (above 2^63 - 1) is rejected "
        "with InvalidArgumentError",
    )
    async def test_huge_limit_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await store.save(sample_state(run.id("kept")))
        before = sorted(ids(await listed(store)))
        for limit in HUGE_LIMITS:
            await expect_raises(
                InvalidArgumentError,
                store.list(WorkflowFilter.model_construct(status=None, limit=limit)),
                f"list(WorkflowFilter(limit={limit}))",
            )
        after = sorted(ids(await listed(store)))
        check(after == before, "list() changed after a limit too large was rejected")

    @rule(
        "input.unserializable_payload",
        "a payload that is not a JSON value is rejected with PayloadSerializationError "
        "and nothing is stored",
    )
    async def test_unserializable_payload_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await _rejects_payloads(run, store, UNSERIALIZABLE, "the non-JSON value")

    @rule(
        "input.non_finite_float",
        "NaN and infinities are rejected with PayloadSerializationError, never stored as null",
    )
    async def test_non_finite_floats_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await _rejects_payloads(run, store, NON_FINITE, "the float")

    @rule(
        "input.too_deep_payload",
        f"a payload nested more than {MAX_PAYLOAD_DEPTH} levels deep is rejected with "
        "PayloadSerializationError and nothing is stored",
    )
    async def test_too_deep_payload_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await _rejects_payloads(run, store, TOO_DEEP, "the value")

    @rule(
        "input.unencodable_text",
        "a payload text or key holding a lone surrogate (not encodable as UTF-8) is rejected "
        "with PayloadSerializationError and nothing is stored",
    )
    async def test_unencodable_text_rejected(self, run: ContractRun) -> None:
        store = await run.open()
        await _rejects_payloads(run, store, UNENCODABLE_TEXT, "the text")

    @rule("input.rejected_save_keeps_previous", "a rejected save leaves the previous state intact")
    async def test_rejected_save_keeps_previous_state(self, run: ContractRun) -> None:
        store = await run.open()
        previous = sample_state(run.id("previous"), 1, events=5)
        await store.save(previous)
        attempts: list[tuple[str, WorkflowState]] = [
            ("NaN input", sample_state(previous.workflow_id, 2, input=float("nan"))),
            ("a set as result", sample_state(previous.workflow_id, 3, result={1})),
            (
                "infinity in history",
                _bad_state(previous.workflow_id, "history[1].result", float("inf")),
            ),
            ("bytes in metadata", _bad_state(previous.workflow_id, "metadata", b"x")),
        ]
        for what, attempt in attempts:
            with contextlib.suppress(InvalidArgumentError):
                await store.save(attempt)
            await expect_state(store, previous, f"after a save with {what} was rejected")
