"""Capability ``append_history``: append(state, n) has the effect of save(state)."""

from __future__ import annotations

from typing import Any

from beluga_workflow import (
    Capability,
    ConcurrencyConflictError,
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowStatus,
    WorkflowStore,
)
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import next_step, sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_state
from beluga_workflow_contract_tests.violations import expect_raises, fail

__all__ = ["AppendRules"]


def _append(store: WorkflowStore) -> Any:
    method = getattr(store, "append", None)
    if not callable(method):
        fail("the store has no append(state, new_events) method")
    return method


class AppendRules:
    """Capability ``append_history`` (protocol SupportsAppend)."""

    @rule(
        "append_history.equals_save",
        "append(state, n) leaves the store as save(state) would",
        capability=Capability.APPEND_HISTORY,
    )
    async def test_append_equals_save(self, run: ContractRun) -> None:
        store = await run.open()
        append = _append(store)
        state = sample_state(run.id("appended"), 1, events=2)
        await store.save(state)
        steps: list[tuple[int, dict[str, Any]]] = [
            (1, {}),
            (3, {"updated_at": state.updated_at.replace(microsecond=1)}),
            (0, {"status": WorkflowStatus.COMPLETED, "result": {"total": 3}, "version": 4}),
            (2, {"error": "late failure", "status": WorkflowStatus.FAILED, "metadata": {}}),
        ]
        for new_events, fields in steps:
            state = next_step(state, new_events, **fields)
            await append(state, new_events)
            await expect_state(store, state, f"after append(state, {new_events})")

    @rule(
        "append_history.divergent_view",
        "append(state, n) saves when nothing is stored, and when the stored history does "
        "not have len(state.history) - n events it raises ConcurrencyConflictError and "
        "changes nothing (another writer's events are never overwritten)",
        capability=Capability.APPEND_HISTORY,
    )
    async def test_append_with_divergent_history(self, run: ContractRun) -> None:
        store = await run.open()
        append = _append(store)
        nothing = sample_state(run.id("nothing-stored"), 1, events=3)
        await append(nothing, 3)
        await expect_state(store, nothing, "after append(state, 3) with nothing stored")
        partial = sample_state(run.id("nothing-stored-partial"), 2, events=3)
        await append(partial, 1)
        await expect_state(store, partial, "after append(state, 1) with nothing stored")
        longer = sample_state(run.id("stored-longer"), 3, events=5)
        await store.save(longer)
        shorter_view = sample_state(longer.workflow_id, 4, events=3)
        await expect_raises(
            ConcurrencyConflictError,
            append(shorter_view, 1),
            "append(state, 1) when the store held more events than the state extends",
        )
        await expect_state(store, longer, "after the refused append (store held more events)")
        shorter = sample_state(run.id("stored-shorter"), 5, events=2)
        await store.save(shorter)
        longer_view = sample_state(shorter.workflow_id, 6, events=6)
        await expect_raises(
            ConcurrencyConflictError,
            append(longer_view, 1),
            "append(state, 1) when the store held fewer events than the state extends",
        )
        await expect_state(store, shorter, "after the refused append (store held fewer events)")

    @rule(
        "append_history.bad_input",
        "append rejects bad input (empty id, non-JSON payload, new_events out of range) "
        "and changes nothing",
        capability=Capability.APPEND_HISTORY,
    )
    async def test_append_rejects_bad_input(self, run: ContractRun) -> None:
        store = await run.open()
        append = _append(store)
        current = sample_state(run.id("current"), 1, events=2)
        await store.save(current)
        await expect_raises(
            InvalidArgumentError, append(sample_state("", events=1), 1), "append(id '')"
        )
        nan_step = next_step(current, 1)
        nan_step.history[-1].result = float("nan")
        await expect_raises(PayloadSerializationError, append(nan_step, 1), "append of a NaN event")
        for bad in (-1, len(current.history) + 2):
            await expect_raises(
                InvalidArgumentError, append(next_step(current, 1), bad), f"append(state, {bad})"
            )
        await expect_state(store, current, "after rejected append calls")
