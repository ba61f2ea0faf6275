"""list returns the matching states: by status, at most limit, each once.

The namespace may hold states other rules or users saved (a shared backend),
so counts are checked against what the store itself lists without a limit.
"""

from __future__ import annotations

from beluga_workflow import (
    CorruptStateError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
)
from beluga_workflow.listing import unreadable_records
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    ids,
    listed,
    same_state,
)
from beluga_workflow_contract_tests.violations import Broken, check, expect_raises

__all__ = ["ListRules"]


async def _save_mix(run: ContractRun, store: WorkflowStore, per_status: int) -> list[WorkflowState]:
    """Save ``per_status`` states of every status, interleaved."""
    states: list[WorkflowState] = []
    for index in range(per_status):
        for status in WorkflowStatus:
            marker = len(states)
            states.append(sample_state(run.id(f"{status.value}-{index}"), marker, status=status))
    for state in states:
        await store.save(state)
    return states


class ListRules:
    """SPEC 4: list by status, at most limit when limit > 0."""

    @rule("list.all", "list without a filter returns every saved state exactly once")
    async def test_list_returns_everything(self, run: ContractRun) -> None:
        store = await run.open()
        saved = await _save_mix(run, store, 2)
        for label, filter in (("list()", None), ("list(WorkflowFilter())", WorkflowFilter())):
            result = await listed(store, filter)
            mine = ids(run.mine(result))
            missing = [s.workflow_id for s in saved if s.workflow_id not in mine]
            check(not missing, f"{label} left out saved id {missing[:1]}")
        keyword = await store.list(filter=None)
        check(
            sorted(ids(run.mine(keyword))) == sorted(ids(saved)),
            "list(filter=None) did not return the saved states",
        )

    @rule("list.fidelity", "listed states are exactly the saved ones, every field included")
    async def test_listed_states_are_complete(self, run: ContractRun) -> None:
        store = await run.open()
        saved = {s.workflow_id: s for s in await _save_mix(run, store, 1)}
        for state in run.mine(await listed(store)):
            same_state(saved[state.workflow_id], state, f"list() entry {state.workflow_id!r}")

    @rule("list.status", "list with a status returns exactly the states with that status")
    async def test_list_filters_by_status(self, run: ContractRun) -> None:
        store = await run.open()
        saved = await _save_mix(run, store, 2)
        for status in WorkflowStatus:
            result = await listed(store, WorkflowFilter(status=status))
            wrong = [s.workflow_id for s in result if s.status is not status]
            check(not wrong, f"list(status={status.value}) returned {wrong[:1]} of another status")
            expected = sorted(s.workflow_id for s in saved if s.status is status)
            got = sorted(ids(run.mine(result)))
            check(
                got == expected, f"list(status={status.value}) returned {got}, expected {expected}"
            )

    @rule("list.limit", "list with limit > 0 returns at most limit states, all of them if fewer")
    async def test_list_honours_limit(self, run: ContractRun) -> None:
        store = await run.open()
        await _save_mix(run, store, 2)
        everything = ids(await listed(store))
        for limit in (1, 2, 3, 5, 7):
            result = await listed(store, WorkflowFilter(limit=limit))
            expected = min(limit, len(everything))
            check(
                len(result) == expected,
                f"list(limit={limit}) returned {len(result)} states; "
                f"{len(everything)} exist, so expected {expected}",
            )
            unknown = [i for i in ids(result) if i not in everything]
            check(not unknown, f"list(limit={limit}) returned {unknown[:1]}, which list() lacks")

    @rule("list.status_and_limit", "status and limit together: at most limit states of that status")
    async def test_list_combines_status_and_limit(self, run: ContractRun) -> None:
        store = await run.open()
        for index in range(4):
            await store.save(sample_state(run.id(f"running-{index}"), index))
        for index in range(3):
            await store.save(
                sample_state(run.id(f"done-{index}"), index, status=WorkflowStatus.COMPLETED)
            )
        for status in (WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING, WorkflowStatus.CANCELED):
            total = len(await listed(store, WorkflowFilter(status=status)))
            for limit in (1, 2, 3, 4, 6):
                result = await listed(store, WorkflowFilter(status=status, limit=limit))
                what = f"list(status={status.value}, limit={limit})"
                wrong = [s.workflow_id for s in result if s.status is not status]
                check(not wrong, f"{what} returned {wrong[:1]} of another status")
                expected = min(limit, total)
                check(
                    len(result) == expected,
                    f"{what} returned {len(result)} states; {total} have that status, "
                    f"so expected {expected}",
                )

    @rule("list.limit_zero", "limit=0 means no limit")
    async def test_limit_zero_means_no_limit(self, run: ContractRun) -> None:
        store = await run.open()
        await _save_mix(run, store, 1)
        everything = sorted(ids(await listed(store)))
        unlimited = sorted(ids(await listed(store, WorkflowFilter(limit=0))))
        check(
            unlimited == everything,
            f"list(limit=0) returned {len(unlimited)} of {len(everything)} states",
        )
        for status in WorkflowStatus:
            expected = sorted(ids(await listed(store, WorkflowFilter(status=status))))
            got = sorted(ids(await listed(store, WorkflowFilter(status=status, limit=0))))
            check(
                got == expected,
                f"list(status={status.value}, limit=0) returned {len(got)} "
                f"of {len(expected)} states",
            )

    @rule("list.limit_above_count", "a limit larger than the number of matches returns them all")
    async def test_large_limit_returns_all(self, run: ContractRun) -> None:
        store = await run.open()
        await _save_mix(run, store, 1)
        everything = sorted(ids(await listed(store)))
        for limit in (len(everything) + 1, len(everything) + 100, 10**9):
            got = sorted(ids(await listed(store, WorkflowFilter(limit=limit))))
            check(
                got == everything,
                f"list(limit={limit}) returned {len(got)} of {len(everything)} states",
            )

    @rule(
        "list.skips_unreadable",
        "a record the store cannot decode does not stop list: it is left out and reported by id "
        "(beluga_workflow.listing.unreadable_records), load of it raises CorruptStateError, "
        "and delete removes it",
    )
    async def test_unreadable_record_does_not_stop_list(self, run: ContractRun) -> None:
        store = await run.open()
        saved = await _save_mix(run, store, 1)
        bad = run.id("unreadable")
        await run.poison(store, bad)
        for filter in (None, WorkflowFilter(status=WorkflowStatus.RUNNING)):
            what = "list()" if filter is None else "list(status=running)"
            try:
                result = await listed(store, filter)
            except CorruptStateError as exc:
                raise Broken(f"{what} raised for one unreadable record: {exc}") from exc
            check(bad not in ids(result), f"{what} returned the unreadable record {bad!r}")
            if filter is None:
                got, expected = sorted(ids(run.mine(result))), sorted(ids(saved))
                check(got == expected, f"{what} returned {got} besides it, expected {expected}")
                reported = unreadable_records(result)
                check(
                    bad in reported,
                    f"{what} did not report the unreadable record {bad!r}: return a "
                    "beluga_workflow.listing.StateList",
                )
                check(
                    isinstance(reported[bad], CorruptStateError),
                    f"{what} reported {reported[bad]!r} for {bad!r}, not a CorruptStateError",
                )
        await expect_raises(CorruptStateError, store.load(bad), f"load({bad!r}) of the record")
        await store.delete(bad)
        await expect_absent(store, bad, "after deleting the unreadable record")
        after = await listed(store)
        check(bad not in unreadable_records(after), "list() still reports the deleted record")
