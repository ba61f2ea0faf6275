"""list by status follows every change of status, through every write path.

A store that keeps a status index beside its states (a Redis set, a SQL
index column, a key per status) must move an id between entries each time a
write changes its status, not only when the id is first saved. Each rule here
overwrites states with other statuses, back and forth, through one write path,
and lists by every status after each round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from beluga_workflow import Capability, WorkflowFilter, WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import next_step, sample_state
from beluga_workflow_contract_tests.suite.expectations import ids, listed
from beluga_workflow_contract_tests.violations import fail

__all__ = ["StatusIndexRules"]

S = WorkflowStatus
PLANS: dict[str, list[WorkflowStatus]] = {
    "finishes": [S.RUNNING, S.COMPLETED],
    "fails": [S.RUNNING, S.FAILED],
    "canceled": [S.RUNNING, S.CANCELED],
    "comes-back": [S.RUNNING, S.COMPLETED, S.RUNNING],
    "wanders": [S.COMPLETED, S.FAILED, S.CANCELED, S.RUNNING],
    "stays": [S.RUNNING, S.RUNNING, S.RUNNING],
}
"""The statuses each id takes, one write per round."""

Write = Callable[[WorkflowState | None, WorkflowState], Awaitable[WorkflowState]]
"""Writes ``state`` (its previous stored version given) and returns what is now stored."""


def _method(store: WorkflowStore, name: str) -> Any:
    method = getattr(store, name, None)
    if not callable(method):
        fail(f"the store has no {name} method")
    return method


def _by_save(store: WorkflowStore) -> Write:
    async def write(previous: WorkflowState | None, state: WorkflowState) -> WorkflowState:
        await store.save(state)
        return state

    return write


def _by_compare_and_save(store: WorkflowStore) -> Write:
    compare_and_save = _method(store, "compare_and_save")

    async def write(previous: WorkflowState | None, state: WorkflowState) -> WorkflowState:
        expected = 0 if previous is None else previous.version
        version = await compare_and_save(state, expected)
        return state.model_copy(update={"version": version}, deep=True)

    return write


def _by_append(store: WorkflowStore) -> Write:
    append = _method(store, "append")

    async def write(previous: WorkflowState | None, state: WorkflowState) -> WorkflowState:
        await append(state, len(state.history) - (0 if previous is None else len(previous.history)))
        return state

    return write


def _by_compare_and_append(store: WorkflowStore) -> Write:
    compare_and_append = _method(store, "compare_and_append")

    async def write(previous: WorkflowState | None, state: WorkflowState) -> WorkflowState:
        kept = 0 if previous is None else len(previous.history)
        expected = 0 if previous is None else previous.version
        version = await compare_and_append(state, len(state.history) - kept, expected)
        return state.model_copy(update={"version": version}, deep=True)

    return write


async def _check_status_lists(
    run: ContractRun, store: WorkflowStore, current: dict[str, WorkflowState], when: str
) -> None:
    for status in WorkflowStatus:
        what = f"list(status={status.value}) {when}"
        result = await listed(store, WorkflowFilter(status=status))
        for state in result:
            if state.status is not status:
                fail(f"{what} returned {state.workflow_id!r}, whose status is {state.status.value}")
        got = sorted(ids(run.mine(result)))
        expected = sorted(i for i, s in current.items() if s.status is status)
        if got != expected:
            lost = sorted(set(expected) - set(got))
            fail(f"{what} returned {got}, expected {expected} (left out {lost})")


async def _walk_statuses(run: ContractRun, store: WorkflowStore, write: Write, how: str) -> None:
    current: dict[str, WorkflowState] = {}
    rounds = max(len(plan) for plan in PLANS.values())
    for round in range(rounds):
        for marker, (name, plan) in enumerate(PLANS.items()):
            if round >= len(plan):
                continue
            workflow_id = run.id(name)
            previous = current.get(workflow_id)
            status = plan[round]
            if previous is None:
                state = sample_state(workflow_id, marker, status=status, events=1)
            else:
                state = next_step(previous, 1, status=status, run_id=f"run-{round}")
            current[workflow_id] = await write(previous, state)
        await _check_status_lists(run, store, current, f"after round {round + 1} of {how}")


class StatusIndexRules:
    """SPEC 4: list by status returns the states with that status now, however written."""

    @rule(
        "list.status_after_overwrite",
        "after save overwrites a state with another status, list by status returns it "
        "under the new status only",
    )
    async def test_status_follows_save(self, run: ContractRun) -> None:
        store = await run.open()
        await _walk_statuses(run, store, _by_save(store), "save")

    @rule(
        "optimistic_concurrency.status_after_overwrite",
        "after compare_and_save changes a state's status, list by status returns it under "
        "the new status only",
        capability=Capability.OPTIMISTIC_CONCURRENCY,
    )
    async def test_status_follows_compare_and_save(self, run: ContractRun) -> None:
        store = await run.open()
        await _walk_statuses(run, store, _by_compare_and_save(store), "compare_and_save")

    @rule(
        "append_history.status_after_append",
        "after append changes a state's status, list by status returns it under the new "
        "status only",
        capability=Capability.APPEND_HISTORY,
    )
    async def test_status_follows_append(self, run: ContractRun) -> None:
        store = await run.open()
        await _walk_statuses(run, store, _by_append(store), "append")

    @rule(
        "compare_and_append.status_after_append",
        "after compare_and_append changes a state's status, list by status returns it under "
        "the new status only",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_status_follows_compare_and_append(self, run: ContractRun) -> None:
        store = await run.open()
        await _walk_statuses(run, store, _by_compare_and_append(store), "compare_and_append")
