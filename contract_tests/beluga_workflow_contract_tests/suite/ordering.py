"""Capability ``ordered_list``: list is ordered by created_at, then workflow_id."""

from __future__ import annotations

import itertools
from datetime import timedelta

from beluga_workflow import Capability, WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import BASE_TIME, sample_state
from beluga_workflow_contract_tests.suite.expectations import ids, listed
from beluga_workflow_contract_tests.violations import check

__all__ = ["OrderingRules"]


def _key(state: WorkflowState) -> tuple[object, str]:
    return (state.created_at, state.workflow_id)


def _check_sorted(states: list[WorkflowState], what: str) -> None:
    for before, after in itertools.pairwise(states):
        check(
            _key(before) <= _key(after),
            f"{what} put {before.workflow_id!r} (created {before.created_at.isoformat()}) before "
            f"{after.workflow_id!r} (created {after.created_at.isoformat()})",
        )


class OrderingRules:
    """Capability ``ordered_list``: created_at then workflow_id (code point order), ascending."""

    @rule(
        "ordered_list.order",
        "list returns states by created_at, then workflow_id (code point order), ascending, "
        "also with a status or a limit",
        capability=Capability.ORDERED_LIST,
    )
    async def test_list_is_ordered(self, run: ContractRun) -> None:
        store = await run.open()
        micro = timedelta(microseconds=1)
        # Saved out of order; ties on created_at are broken by id, where "B" < "_" < "a"
        # in code point order but not in most locale collations.
        plan = [
            ("late", BASE_TIME + 3 * micro, WorkflowStatus.COMPLETED),
            ("tie-a", BASE_TIME + micro, WorkflowStatus.RUNNING),
            ("earliest", BASE_TIME - timedelta(days=400), WorkflowStatus.COMPLETED),
            ("tie-B", BASE_TIME + micro, WorkflowStatus.COMPLETED),
            ("middle", BASE_TIME + 2 * micro, WorkflowStatus.RUNNING),
            ("tie-_", BASE_TIME + micro, WorkflowStatus.COMPLETED),
            ("same-second", BASE_TIME + 4 * micro, WorkflowStatus.RUNNING),
        ]
        states = [
            sample_state(run.id(name), marker, status=status, created_at=created)
            for marker, (name, created, status) in enumerate(plan)
        ]
        for state in states:
            await store.save(state)
        everything = await listed(store)
        _check_sorted(everything, "list()")
        expected = [s.workflow_id for s in sorted(states, key=_key)]
        check(
            ids(run.mine(everything)) == expected,
            f"list() order {ids(run.mine(everything))}, expected {expected}",
        )
        for status in (WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING):
            by_status = await listed(store, WorkflowFilter(status=status))
            _check_sorted(by_status, f"list(status={status.value})")
            full = ids(by_status)
            for limit in (1, 2, 3):
                limited = ids(await listed(store, WorkflowFilter(status=status, limit=limit)))
                check(
                    limited == full[:limit],
                    f"list(status={status.value}, limit={limit}) returned {limited}, "
                    f"not the first {limit} in order {full[:limit]}",
                )
        for limit in (1, 4):
            limited = ids(await listed(store, WorkflowFilter(limit=limit)))
            check(
                limited == ids(everything)[:limit],
                f"list(limit={limit}) returned {limited}, not the first {limit} in order",
            )
