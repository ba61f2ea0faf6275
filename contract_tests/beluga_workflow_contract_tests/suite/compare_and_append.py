"""Capability ``compare_and_append``: a step conditional on the version and the history's length.

Every writer of a run (its owner's steps and lease renewals, other processes'
signals, cancels and claims) writes under one condition, the version, so these
rules check that the condition holds for every kind of write: with events,
with the head alone, and the first one, which creates the state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from beluga_workflow import (
    Capability,
    ConcurrencyConflictError,
    InvalidArgumentError,
    PayloadSerializationError,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
)
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import next_step, sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_absent, expect_state
from beluga_workflow_contract_tests.violations import check, expect_raises, fail, short

__all__ = ["CompareAndAppendRules"]


def _compare_and_append(store: WorkflowStore) -> Any:
    method = getattr(store, "compare_and_append", None)
    if not callable(method):
        fail("the store has no compare_and_append(state, new_events, expected_version) method")
    return method


def _at(state: WorkflowState, version: int) -> WorkflowState:
    return state.model_copy(update={"version": version})


async def _expect_version(call: Awaitable[Any], version: int, what: str) -> None:
    """``call`` must succeed and return ``version``, an ``int``."""
    returned = await call
    check(
        type(returned) is int and returned == version,
        f"{what} returned {short(returned)}, expected {version}",
    )


async def _race(
    store: WorkflowStore,
    writes: list[Any],
    contenders: list[tuple[WorkflowState, int]],
    expected: int,
) -> None:
    """Run ``contenders`` (state, new_events) at once on ``expected``: exactly one must win."""
    outcomes = await asyncio.gather(
        *(
            writes[n % len(writes)](state, new_events, expected)
            for n, (state, new_events) in enumerate(contenders)
        ),
        return_exceptions=True,
    )
    won = expected + 1
    winners = [c for (c, _), o in zip(contenders, outcomes, strict=True) if o == won]
    losers = [o for o in outcomes if isinstance(o, ConcurrencyConflictError)]
    other = [o for o in outcomes if o != won and not isinstance(o, ConcurrencyConflictError)]
    check(not other, f"a racing compare_and_append returned or raised {short(other[:1])}")
    check(
        len(winners) == 1 and len(losers) == len(contenders) - 1,
        f"{len(winners)} of {len(contenders)} concurrent writers with expected_version "
        f"{expected} won (expected exactly one)",
    )
    await expect_state(store, _at(winners[0], won), "after the race")


class CompareAndAppendRules:
    """Capability ``compare_and_append`` (protocol SupportsCompareAndAppend)."""

    @rule(
        "compare_and_append.equals_save",
        "compare_and_append(state, n, v) leaves the store as save of the state at version "
        "v + 1 would and returns v + 1, also when it writes the head alone (n = 0); with "
        "nothing stored (v = 0) it stores the whole state",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_compare_and_append_equals_save(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_append(store)
        created = sample_state(run.id("created"), 1, events=2, version=40)
        await _expect_version(cas(created, 2, 0), 1, "compare_and_append(new id, 2, 0)")
        state = _at(created, 1)
        await expect_state(store, state, "after compare_and_append(new id, 2, 0)")
        steps: list[tuple[int, dict[str, Any]]] = [
            (1, {}),
            (0, {"updated_at": created.updated_at.replace(microsecond=1)}),
            (3, {"metadata": {"lease": {"owner": "worker-2", "epoch": 2}}}),
            (0, {"status": WorkflowStatus.COMPLETED, "result": {"total": 3}, "version": 99}),
            (2, {"error": "late failure", "status": WorkflowStatus.FAILED, "metadata": {}}),
        ]
        for new_events, fields in steps:
            expected = state.version
            state = next_step(state, new_events, **fields)
            what = f"compare_and_append(state, {new_events}, {expected})"
            await _expect_version(cas(state, new_events, expected), expected + 1, what)
            state = _at(state, expected + 1)
            await expect_state(store, state, f"after {what}")
        partial = sample_state(run.id("created-partial"), 2, events=3)
        await _expect_version(cas(partial, 1, 0), 1, "compare_and_append(new id, 1, 0)")
        await expect_state(store, _at(partial, 1), "after compare_and_append(new id, 1, 0)")
        for version in (0, 5):
            saved = sample_state(run.id(f"saved-at-{version}"), 3, events=2, version=version)
            await store.save(saved)
            stepped = next_step(saved, 1)
            what = f"compare_and_append(state, 1, {version}) after save(version={version})"
            await _expect_version(cas(stepped, 1, version), version + 1, what)
            await expect_state(store, _at(stepped, version + 1), f"after {what}")

    @rule(
        "compare_and_append.stale_version",
        "compare_and_append whose expected_version is not the stored version (0 when nothing "
        "is stored) raises ConcurrencyConflictError and changes nothing, also when the "
        "history has the length the state extends",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_compare_and_append_with_stale_version(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_append(store)
        absent = sample_state(run.id("absent"), 1, events=2)
        for stale in (1, 2):
            await expect_raises(
                ConcurrencyConflictError,
                cas(absent, 2, stale),
                f"compare_and_append(new id, 2, {stale})",
            )
            await expect_absent(store, absent.workflow_id, "after a refused compare_and_append")
        current = sample_state(run.id("current"), 2, events=2)
        await cas(current, 2, 0)
        stepped = next_step(_at(current, 1), 1)
        await cas(stepped, 1, 1)
        stored = _at(stepped, 2)
        for stale in (0, 1, 3):
            for new_events in (1, 0):
                view = next_step(stored, new_events, input={"stale": stale})
                await expect_raises(
                    ConcurrencyConflictError,
                    cas(view, new_events, stale),
                    f"compare_and_append(state at version 2, {new_events}, {stale})",
                )
                await expect_state(store, stored, "after a refused compare_and_append")

    @rule(
        "compare_and_append.stale_length",
        "compare_and_append whose state does not extend the stored history (that has not "
        "len(state.history) - n events) raises ConcurrencyConflictError and changes "
        "nothing, also when the version is right",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_compare_and_append_with_stale_length(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_append(store)
        stored = sample_state(run.id("stored"), 1, events=4, version=3)
        await store.save(stored)
        views = [
            ("more", sample_state(stored.workflow_id, 2, events=3), 1),
            ("fewer", sample_state(stored.workflow_id, 3, events=7), 1),
            ("more", sample_state(stored.workflow_id, 4, events=3), 0),
        ]
        for held, view, new_events in views:
            await expect_raises(
                ConcurrencyConflictError,
                cas(view, new_events, 3),
                f"compare_and_append(state, {new_events}, 3) when the store held {held} "
                "events than the state extends",
            )
            await expect_state(store, stored, "after the refused compare_and_append")
        at_zero = sample_state(run.id("stored-at-0"), 5, events=3, version=0)
        await store.save(at_zero)
        await expect_raises(
            ConcurrencyConflictError,
            cas(sample_state(at_zero.workflow_id, 6, events=3), 1, 0),
            "compare_and_append(state, 1, 0) over a stored state of version 0 with more events",
        )
        await expect_state(store, at_zero, "after the refused compare_and_append")

    @rule(
        "compare_and_append.bumps_version_on_head_only_write",
        "every compare_and_append moves the version on, also one that writes the head alone "
        "and one that changes nothing, so a writer holding a version read before it is "
        "refused and cannot put back the head it read",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_head_only_write_moves_the_version_on(self, run: ContractRun) -> None:
        first = await run.open()
        second = await run.open() if run.has(Capability.DURABLE) else first
        owner, renewer = _compare_and_append(first), _compare_and_append(second)
        lease = {"owner": "worker-1", "expires": 1}
        base = sample_state(run.id("leased"), 1, events=2, metadata={"lease": lease})
        await owner(base, 2, 0)
        read = _at(base, 1)
        renewed = read.model_copy(update={"metadata": {"lease": {**lease, "expires": 2}}})
        await _expect_version(renewer(renewed, 0, 1), 2, "compare_and_append(head only, 0, 1)")
        what = "compare_and_append(the same head again, 0, 2)"
        await _expect_version(renewer(_at(renewed, 2), 0, 2), 3, what)
        await expect_state(first, _at(renewed, 3), f"after {what}")
        for held in (1, 2):
            for new_events in (0, 1):
                await expect_raises(
                    ConcurrencyConflictError,
                    owner(next_step(read, new_events), new_events, held),
                    f"compare_and_append(state read at version {held}, {new_events}, {held}) "
                    "after head-only writes moved the version to 3",
                )
                await expect_state(first, _at(renewed, 3), "after the refused compare_and_append")

    @rule(
        "compare_and_append.one_winner",
        "of concurrent compare_and_append calls with one expected_version (creating, or "
        "extending with or without events) exactly one wins; the others get "
        "ConcurrencyConflictError and the store holds the winner's state",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_one_of_concurrent_writers_wins(self, run: ContractRun) -> None:
        stores = [await run.open()]
        if run.has(Capability.DURABLE):
            stores.append(await run.open())
        writes = [_compare_and_append(store) for store in stores]
        for round_number, writers in enumerate((2, 3, 5, 8)):
            workflow_id = run.id(f"create-race-{round_number}")
            creators = [sample_state(workflow_id, n, events=2) for n in range(writers)]
            await _race(stores[0], writes, [(state, 2) for state in creators], 0)
        for round_number, writers in enumerate((2, 3, 5, 8)):
            workflow_id = run.id(f"step-race-{round_number}")
            base = sample_state(workflow_id, 0, events=2)
            await writes[0](base, 2, 0)
            contenders = [
                (next_step(_at(base, 1), n % 3, input={"writer": n}), n % 3) for n in range(writers)
            ]
            await _race(stores[0], writes, contenders, 1)

    @rule(
        "compare_and_append.bad_input",
        "compare_and_append rejects bad input (empty id, non-JSON payload in what it writes, "
        "new_events out of range, expected_version not an int from 0) and changes nothing",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_compare_and_append_rejects_bad_input(self, run: ContractRun) -> None:
        store = await run.open()
        cas = _compare_and_append(store)
        current = sample_state(run.id("current"), 1, events=2)
        await cas(current, 2, 0)
        stored = _at(current, 1)
        await expect_raises(
            InvalidArgumentError,
            cas(sample_state("", events=1), 1, 0),
            "compare_and_append(id '')",
        )
        nan_event = next_step(stored, 1)
        nan_event.history[-1].result = float("nan")
        await expect_raises(
            PayloadSerializationError, cas(nan_event, 1, 1), "compare_and_append of a NaN event"
        )
        await expect_raises(
            PayloadSerializationError,
            cas(next_step(stored, 0, result=float("nan")), 0, 1),
            "compare_and_append of a NaN result",
        )
        for bad_count in (-1, 4, True):
            await expect_raises(
                InvalidArgumentError,
                cas(next_step(stored, 1), bad_count, 1),
                f"compare_and_append(state, {bad_count!r}, 1)",
            )
        for bad_version in (-1, True, 1.0, "1", None):
            await expect_raises(
                InvalidArgumentError,
                cas(next_step(stored, 1), 1, bad_version),
                f"compare_and_append(state, 1, {bad_version!r})",
            )
        await expect_state(store, stored, "after rejected compare_and_append calls")
        fresh = sample_state(run.id("fresh"), 2, events=3)
        fresh.history[0].result = float("nan")
        await expect_raises(
            PayloadSerializationError,
            cas(fresh, 1, 0),
            "compare_and_append(new id, 1, 0) whose first event holds NaN",
        )
        await expect_absent(store, fresh.workflow_id, "after the rejected compare_and_append")
