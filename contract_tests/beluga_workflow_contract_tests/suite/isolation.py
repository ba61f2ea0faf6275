"""Nothing the caller holds is shared with the store."""

from __future__ import annotations

from beluga_workflow import EventType, HistoryEvent, WorkflowState, WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_state, listed
from beluga_workflow_contract_tests.violations import check

__all__ = ["IsolationRules"]


def _mutate(state: WorkflowState) -> None:
    """Change a state in place everywhere a shared object could hide."""
    state.status = WorkflowStatus.CANCELED
    state.error = "mutated by the caller"
    state.input["order"]["items"].append("mutated")
    state.input["new-key"] = "mutated"
    state.metadata["marker"] = "mutated"
    state.history[0].result = {"mutated": True}
    state.history[1].input["args"].append("mutated")
    state.history.append(HistoryEvent(id=999, type=EventType.WORKFLOW_CANCELED))


class IsolationRules:
    """SPEC 4: mutating a state after save, load or list never changes what is stored."""

    @rule("isolation.after_save", "changing a state after saving it does not change the stored one")
    async def test_mutating_saved_state(self, run: ContractRun) -> None:
        store = await run.open()
        state = sample_state(run.id("saved"), 1, events=4)
        snapshot = state.model_copy(deep=True)
        await store.save(state)
        _mutate(state)
        await expect_state(store, snapshot, "after the caller changed the saved object")

    @rule("isolation.after_load", "changing a loaded state does not change the stored one")
    async def test_mutating_loaded_state(self, run: ContractRun) -> None:
        store = await run.open()
        state = sample_state(run.id("loaded"), 2, events=4)
        await store.save(state)
        loaded = await store.load(state.workflow_id)
        check(loaded is not None, "load returned None after save")
        assert loaded is not None
        _mutate(loaded)
        await expect_state(store, state, "after the caller changed a loaded copy")

    @rule("isolation.after_list", "changing a listed state does not change the stored one")
    async def test_mutating_listed_state(self, run: ContractRun) -> None:
        store = await run.open()
        state = sample_state(run.id("listed"), 3, events=4)
        await store.save(state)
        for entry in run.mine(await listed(store)):
            _mutate(entry)
        await expect_state(store, state, "after the caller changed a listed copy")
        for entry in run.mine(await listed(store)):
            check(entry.error is None, "list() returned a state the caller had changed")
