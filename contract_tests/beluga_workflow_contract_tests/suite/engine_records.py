"""Capability ``compare_and_append``: the engine's own records (queue boards, the schedule book).

Queues and schedules keep their coordination state in ordinary records: a
``completed`` state with no history whose metadata changes by
``compare_and_append`` of the head alone. These rules check exactly the
writes those records make, so a store that passes them runs queues and
schedules correctly across workers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow import (
    Capability,
    ConcurrencyConflictError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.models import utc_now
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.suite.expectations import expect_state
from beluga_workflow_contract_tests.violations import check, expect_raises, fail, short

__all__ = ["EngineRecordRules"]


def _record(workflow_id: str, metadata: dict[str, Any], version: int = 0) -> WorkflowState:
    now = utc_now()
    return WorkflowState(
        workflow_id=workflow_id,
        run_id=workflow_id,
        status=WorkflowStatus.COMPLETED,
        created_at=now,
        updated_at=now,
        metadata=metadata,
        version=version,
    )


class EngineRecordRules:
    """Records without history, changed by compare-and-set of their head."""

    @rule(
        "engine_records.head_only",
        "a completed record with no history is created by compare_and_append(record, 0, 0), "
        "replaced by compare_and_append(record, 0, v) at the stored version, refused with "
        "ConcurrencyConflictError at any other, and never listed as running",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_head_only_records(self, run: ContractRun) -> None:
        store = await run.open()
        cas = getattr(store, "compare_and_append", None)
        if not callable(cas):
            fail("the store has no compare_and_append method")
        record_id = run.id("~beluga/queue/board")
        first = _record(record_id, {"board": {"slots": {}, "starts": []}})
        check(await cas(first, 0, 0) == 1, "compare_and_append(new record, 0, 0) did not return 1")
        await expect_state(store, first.model_copy(update={"version": 1}), "after creating it")
        second = _record(record_id, {"board": {"slots": {"run-1": {"worker": "w1"}}}})
        check(await cas(second, 0, 1) == 2, "compare_and_append(record, 0, 1) did not return 2")
        await expect_state(store, second.model_copy(update={"version": 2}), "after a change")
        for stale in (0, 1, 3):
            await expect_raises(
                ConcurrencyConflictError,
                cas(_record(record_id, {"board": {"stale": stale}}), 0, stale),
                f"compare_and_append(record, 0, {stale}) with version 2 stored",
            )
        await expect_state(store, second.model_copy(update={"version": 2}), "after refusals")
        running = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
        check(
            all(state.workflow_id != record_id for state in running),
            "list(status=running) returned a completed record",
        )

    @rule(
        "engine_records.one_winner",
        "of many workers changing one record at once at the same version, exactly one wins "
        "and the others get ConcurrencyConflictError",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_one_winner_per_version(self, run: ContractRun) -> None:
        stores = [await run.open() for _ in range(3)]
        record_id = run.id("~beluga/schedules")
        await stores[0].compare_and_append(_record(record_id, {"n": 0}), 0, 0)  # type: ignore[attr-defined]
        contenders = [
            stores[i % 3].compare_and_append(  # type: ignore[attr-defined]
                _record(record_id, {"n": i + 1}), 0, 1
            )
            for i in range(6)
        ]
        outcomes = await asyncio.gather(*contenders, return_exceptions=True)
        winners = [i for i, outcome in enumerate(outcomes) if outcome == 2]
        others = [o for o in outcomes if o != 2 and not isinstance(o, ConcurrencyConflictError)]
        check(not others, f"a racing write returned or raised {short(others[:1])}")
        check(len(winners) == 1, f"{len(winners)} of 6 racing writers at version 1 won")
        stored = await stores[0].load(record_id)
        check(
            stored is not None and stored.metadata == {"n": winners[0] + 1},
            f"the stored record is not the winner's: {short(stored)}",
        )
