"""Capability ``optimistic_concurrency``: compare_and_save lets exactly one writer win."""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow import (
    Capability,
    ConcurrencyConflictError,
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_absent, expect_state
from beluga_workflow_contract_tests.violations import check, expect_raises, fail

__all__ = ["OptimisticConcurrencyRules"]


def _compare_and_save(store: WorkflowStore) -> Any:
    method = getattr(store, "compare_and_save", None)
    if not callable(method):
        fail("the store has no compare_and_save(state, expected_version) method")
    return method


def _at(state: WorkflowState, version: int) -> WorkflowState:
    return state.model_copy(update={"version": version})


class OptimisticConcurrencyRules:
    """Capability ``optimistic_concurrency`` (protocol SupportsCompareAndSave)."""

    @rule(
        "optimistic_concurrency.versions",
        "compare_and_save stores the state at expected_version + 1 and returns that number",
        capability=Capability.OPTIMISTIC_CONCURRENCY,
    )
    async def test_versions_advance(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_save(store)
        first = sample_state(run.id("versioned"), 1, version=77)
        version = await cas(first, 0)
        check(version == 1, f"compare_and_save(new id, 0) returned {version!r}, expected 1")
        await expect_state(store, _at(first, 1), "after compare_and_save(new id, 0)")
        second = sample_state(first.workflow_id, 2, events=5)
        version = await cas(second, 1)
        check(version == 2, f"compare_and_save(state, 1) returned {version!r}, expected 2")
        await expect_state(store, _at(second, 2), "after compare_and_save(state, 1)")
        saved = sample_state(run.id("saved-first"), 3, version=5)
        await store.save(saved)
        version = await cas(sample_state(saved.workflow_id, 4), 5)
        check(
            version == 6, f"compare_and_save after save(version=5) returned {version!r}, expected 6"
        )

    @rule(
        "optimistic_concurrency.conflict",
        "compare_and_save with a stale expected_version raises ConcurrencyConflictError "
        "and changes nothing",
        capability=Capability.OPTIMISTIC_CONCURRENCY,
    )
    async def test_stale_version_conflicts(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_save(store)
        absent = sample_state(run.id("absent"), 1)
        await expect_raises(ConcurrencyConflictError, cas(absent, 1), "compare_and_save(new id, 1)")
        await expect_absent(store, absent.workflow_id, "after a conflicting compare_and_save")
        current = sample_state(run.id("current"), 2)
        await cas(current, 0)
        await cas(current, 1)
        for stale in (0, 1, 3):
            await expect_raises(
                ConcurrencyConflictError,
                cas(sample_state(current.workflow_id, 10 + stale), stale),
                f"compare_and_save(state at version 2, {stale})",
            )
            await expect_state(store, _at(current, 2), "after a conflicting compare_and_save")

    @rule(
        "optimistic_concurrency.race",
        "of concurrent compare_and_save calls with one expected_version exactly one wins; "
        "the others get ConcurrencyConflictError",
        capability=Capability.OPTIMISTIC_CONCURRENCY,
    )
    async def test_one_writer_wins(self, run: ContractRun) -> None:
        stores = [await run.open()]
        if run.has(Capability.DURABLE):
            stores.append(await run.open())
        for round_number, writers in enumerate((2, 2, 2, 5, 8)):
            workflow_id = run.id(f"race-{round_number}")
            await _compare_and_save(stores[0])(sample_state(workflow_id, 0), 0)
            contenders = [
                sample_state(workflow_id, n + 1, input={"writer": n}) for n in range(writers)
            ]
            outcomes = await asyncio.gather(
                *(
                    _compare_and_save(stores[n % len(stores)])(state, 1)
                    for n, state in enumerate(contenders)
                ),
                return_exceptions=True,
            )
            winners = [c for c, o in zip(contenders, outcomes, strict=True) if o == 2]
            losers = [o for o in outcomes if isinstance(o, ConcurrencyConflictError)]
            other = [o for o in outcomes if o != 2 and not isinstance(o, ConcurrencyConflictError)]
            check(not other, f"a racing compare_and_save returned or raised {other[:1]!r}")
            check(
                len(winners) == 1 and len(losers) == writers - 1,
                f"{len(winners)} of {writers} concurrent writers won (expected exactly one)",
            )
            await expect_state(stores[0], _at(winners[0], 2), "after the race")

    @rule(
        "optimistic_concurrency.bad_input",
        "compare_and_save rejects bad input like save does and changes nothing",
        capability=Capability.OPTIMISTIC_CONCURRENCY,
    )
    async def test_compare_and_save_rejects_bad_input(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_save(store)
        current = sample_state(run.id("current"), 1)
        await cas(current, 0)
        await expect_raises(
            InvalidArgumentError, cas(sample_state(""), 0), "compare_and_save(id '')"
        )
        await expect_raises(
            PayloadSerializationError,
            cas(sample_state(current.workflow_id, 2, input=float("nan")), 1),
            "compare_and_save of a NaN payload",
        )
        await expect_raises(
            InvalidArgumentError,
            cas(sample_state(current.workflow_id, 3), "1"),
            "compare_and_save with expected_version '1'",
        )
        await expect_state(store, _at(current, 1), "after rejected compare_and_save calls")
