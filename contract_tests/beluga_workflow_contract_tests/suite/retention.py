"""Pruning by status and age removes exactly the matching runs, through the store's own calls.

``beluga_workflow.retention.prune`` filters in the core on what ``list`` returns
and deletes by id, so it holds on a store whose ``list``, ``load`` and
``delete`` keep ``updated_at`` and status as saved. The runs of this rule are
dated in January 2000 and pruned as of February 2000, so a shared namespace's
real data is never old enough to match.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from beluga_workflow import WorkflowStatus
from beluga_workflow.retention import RetentionPolicy, prune
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.violations import check

__all__ = ["RetentionRules"]

_NOW = datetime(2000, 2, 1, tzinfo=UTC)
_OLD = datetime(2000, 1, 1, tzinfo=UTC)
_RECENT = datetime(2000, 1, 30, tzinfo=UTC)


class RetentionRules:
    """Retention: prune deletes the finished runs of the chosen statuses older than the age."""

    @rule(
        "retention.prune",
        "prune deletes exactly the runs of the chosen statuses older than the age; "
        "a dry run deletes nothing",
    )
    async def test_prune_removes_exactly_the_matching_runs(self, run: ContractRun) -> None:
        store = await run.open()
        expected: set[str] = set()
        kept: set[str] = set()
        for marker, status in enumerate(WorkflowStatus):
            for label, moment in (("old", _OLD), ("recent", _RECENT)):
                state = sample_state(
                    run.id(f"{status.value}-{label}"),
                    marker,
                    status=status,
                    created_at=_OLD - timedelta(days=1),
                    updated_at=moment,
                )
                await store.save(state)
                matching = label == "old" and status in (
                    WorkflowStatus.COMPLETED,
                    WorkflowStatus.FAILED,
                )
                (expected if matching else kept).add(state.workflow_id)
        policy = RetentionPolicy(
            older_than=timedelta(days=7),
            statuses=frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED}),
        )
        dry = await prune(store, policy, dry_run=True, now=_NOW)
        mine = {workflow_id for workflow_id in dry.matched if workflow_id in expected | kept}
        check(mine == expected, f"a dry run matched {sorted(mine)}, expected {sorted(expected)}")
        for workflow_id in expected | kept:
            check(await store.load(workflow_id) is not None, f"a dry run deleted {workflow_id!r}")
        report = await prune(store, policy, now=_NOW)
        gone = {workflow_id for workflow_id in report.deleted if workflow_id in expected | kept}
        check(gone == expected, f"prune deleted {sorted(gone)}, expected {sorted(expected)}")
        for workflow_id in expected:
            check(await store.load(workflow_id) is None, f"pruned {workflow_id!r} still loads")
        for workflow_id in kept:
            check(await store.load(workflow_id) is not None, f"prune removed {workflow_id!r}")
