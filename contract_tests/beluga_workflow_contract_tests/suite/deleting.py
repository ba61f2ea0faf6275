"""delete removes one state; deleting a missing id is a no-op."""

from __future__ import annotations

from beluga_workflow import WorkflowFilter, WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    ids,
    listed,
)
from beluga_workflow_contract_tests.violations import check, short

__all__ = ["DeleteRules"]


def _read_paths() -> list[WorkflowFilter | None]:
    """Every way list can find the deleted state: plain, by its status, with a limit."""
    completed = WorkflowStatus.COMPLETED
    return [
        None,
        WorkflowFilter(status=completed),
        WorkflowFilter(limit=1000),
        WorkflowFilter(status=completed, limit=1000),
    ]


def _describe(filter: WorkflowFilter) -> str:
    parts = [f"status={filter.status.value}"] if filter.status is not None else []
    return ", ".join([*parts, *([f"limit={filter.limit}"] if filter.limit else [])])


class DeleteRules:
    """SPEC 4: delete removes the state; deleting a missing id is a no-op."""

    @rule("delete.removes", "after delete, load returns None and list leaves the id out")
    async def test_delete_removes_the_state(self, run: ContractRun) -> None:
        store = await run.open()
        state = sample_state(run.id("doomed"), status=WorkflowStatus.COMPLETED)
        await store.save(state)
        # Read it through every path first: a store that caches what it read must forget it.
        await expect_state(store, state, "before delete")
        for filter in _read_paths():
            await listed(store, filter)
        await store.delete(state.workflow_id)
        await expect_absent(store, state.workflow_id, "after delete")
        for filter in _read_paths():
            what = "list()" if filter is None else f"list({_describe(filter)})"
            check(
                state.workflow_id not in ids(await listed(store, filter)),
                f"{what} still returned the deleted state",
            )

    @rule(
        "delete.missing_noop", "deleting an id that is not stored does nothing and raises nothing"
    )
    async def test_delete_of_missing_id_is_a_no_op(self, run: ContractRun) -> None:
        store = await run.open()
        kept = sample_state(run.id("kept"))
        await store.save(kept)
        before = sorted(ids(await listed(store)))
        missing = run.id("never-saved")
        await store.delete(missing)
        await store.delete(missing)
        await store.delete(kept.workflow_id + "-suffix")
        await expect_state(store, kept, "after deleting ids that were not stored")
        after = sorted(ids(await listed(store)))
        check(after == before, f"deleting missing ids changed list() from {before} to {after}")

    @rule("delete.only_its_id", "delete removes only its own id, never a neighbour")
    async def test_delete_keeps_neighbours(self, run: ContractRun) -> None:
        store = await run.open()
        target = run.id("target")
        neighbours = [
            run.id("before"),
            run.id("target-2"),
            run.id("targe"),
            run.id("target/child"),
            run.id("target.json"),
            run.id("Target"),
            run.id("after"),
        ]
        states = [
            sample_state(i, marker)
            for marker, i in enumerate([*neighbours[:2], target, *neighbours[2:]])
        ]
        for state in states:
            await store.save(state)
        await store.delete(target)
        await expect_absent(store, target, "after delete")
        for state in states:
            if state.workflow_id != target:
                await expect_state(store, state, f"after deleting the neighbour {short(target)}")

    @rule("delete.then_save", "an id can be saved again after delete and loads the new state")
    async def test_save_after_delete(self, run: ContractRun) -> None:
        store = await run.open()
        workflow_id = run.id("reborn")
        await store.save(sample_state(workflow_id, 1, events=4))
        await store.delete(workflow_id)
        again = sample_state(workflow_id, 2, events=1)
        await store.save(again)
        await expect_state(store, again, "after delete and a new save")
        listed_again = [s for s in await listed(store) if s.workflow_id == workflow_id]
        check(len(listed_again) == 1, f"list() returned the id {len(listed_again)} times")
