"""Any non-empty string is an id, and distinct ids never collide."""

from __future__ import annotations

from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import COLLIDING_IDS, DIFFICULT_IDS, sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    ids,
    listed,
    same_state,
)
from beluga_workflow_contract_tests.violations import check, short, shown

__all__ = ["IdRules"]


class IdRules:
    """SPEC 4: any non-empty string is a valid id; ids never collide after encoding."""

    @rule(
        "ids.difficult",
        "ids with / . * > : spaces quotes % emoji, and 1,000-character ids, "
        "save, load, list and delete like any other",
    )
    async def test_difficult_ids(self, run: ContractRun) -> None:
        store = await run.open()
        states = [
            sample_state(run.exact_id(raw), marker) for marker, raw in enumerate(DIFFICULT_IDS)
        ]
        for state in states:
            await store.save(state)
        for state in states:
            await expect_state(store, state)
        listed_ids = set(ids(await listed(store)))
        missing = [s.workflow_id for s in states if s.workflow_id not in listed_ids]
        check(not missing, f"list() left out the id {short(missing[:1])}")
        for state in states:
            await store.delete(state.workflow_id)
            await expect_absent(store, state.workflow_id, "after delete")

    @rule("ids.no_collisions", "ids that differ in any character are different states")
    async def test_ids_do_not_collide(self, run: ContractRun) -> None:
        store = await run.open()
        groups = [[sample_state(run.exact_id(raw), 0) for raw in group] for group in COLLIDING_IDS]
        marker = 0
        for group in groups:
            for state in group:
                state.input = {"marker": marker, "id": state.workflow_id}
                state.version = marker
                marker += 1
                await store.save(state)
        for group in groups:
            for state in group:
                loaded = await store.load(state.workflow_id)
                other = getattr(loaded, "workflow_id", state.workflow_id)
                check(
                    other == state.workflow_id,
                    f"load({shown(state.workflow_id)}) returned the state saved as {shown(other)}: "
                    "the two ids collide in the store",
                )
                await expect_state(store, state, "after saving ids that differ only slightly")
        by_id = {state.workflow_id: state for group in groups for state in group}
        for entry in run.mine(await listed(store)):
            same_state(by_id[entry.workflow_id], entry, f"list() entry {shown(entry.workflow_id)}")
        for group in groups:
            await store.delete(group[0].workflow_id)
            await expect_absent(store, group[0].workflow_id, "after delete")
            for state in group[1:]:
                await expect_state(
                    store, state, f"after deleting the similar id {shown(group[0].workflow_id)}"
                )
