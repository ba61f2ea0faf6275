"""save persists and overwrites; load returns the state or None."""

from __future__ import annotations

from datetime import timedelta

from beluga_workflow import WorkflowState, WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import BASE_TIME, history, sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_absent, expect_state
from beluga_workflow_contract_tests.violations import check

__all__ = ["SaveLoadRules"]


class SaveLoadRules:
    """SPEC 4: save persists and overwrites, load returns the state or None."""

    @rule("save.roundtrip", "a saved state loads back with every field unchanged")
    async def test_save_then_load_returns_every_field(self, run: ContractRun) -> None:
        store = await run.open()
        states = [
            sample_state(run.id(status.value), marker, status=status)
            for marker, status in enumerate(WorkflowStatus)
        ]
        for state in states:
            await store.save(state)
        for state in states:
            await expect_state(store, state)

    @rule("save.overwrite", "saving an existing id must replace every field")
    async def test_save_replaces_every_field(self, run: ContractRun) -> None:
        store = await run.open()
        workflow_id = run.id("overwritten")
        first = sample_state(workflow_id, 1, status=WorkflowStatus.COMPLETED)
        second = WorkflowState(
            workflow_id=workflow_id,
            run_id="another-run",
            status=WorkflowStatus.FAILED,
            input=["now", "a", "list"],
            result="now a string",
            error="boom",
            history=history(3, marker=2, start=40),
            created_at=BASE_TIME - timedelta(days=3),
            updated_at=BASE_TIME + timedelta(days=3),
            workflow_name=None,
            version=9,
            metadata={"other": {"keys": True}},
        )
        cleared = WorkflowState(workflow_id=workflow_id, created_at=BASE_TIME)
        await store.save(first)
        await store.save(second)
        await expect_state(store, second, "after saving a second state under the same id")
        await store.save(cleared)
        await expect_state(store, cleared, "after overwriting with a state of default fields")

    @rule(
        "save.overwrite_history",
        "saving an existing id must replace the history, also with a shorter one",
    )
    async def test_save_replaces_history(self, run: ContractRun) -> None:
        store = await run.open()
        workflow_id = run.id("history")
        for count in (3, 1, 0, 5, 2):
            state = sample_state(workflow_id, count, events=count)
            await store.save(state)
            loaded = await store.load(workflow_id)
            check(loaded is not None, f"load returned None after saving {count} events")
            assert loaded is not None
            check(
                len(loaded.history) == count,
                f"history had {len(loaded.history)} events after saving {count}",
            )
            await expect_state(store, state, f"after saving {count} events")

    @rule("load.missing", "load of an id that was never saved (or was deleted) returns None")
    async def test_load_missing_returns_none(self, run: ContractRun) -> None:
        store = await run.open()
        await expect_absent(store, run.id("never-saved"), "in an empty namespace")
        saved = sample_state(run.id("present"))
        await store.save(saved)
        for near in (run.id("presen"), run.id("present-"), run.id("PRESENT"), run.id("never")):
            await expect_absent(store, near, f"next to a saved {saved.workflow_id!r}")
