"""Many tasks using one store at once lose nothing and see no half-written state."""

from __future__ import annotations

import asyncio

from beluga_workflow import WorkflowState, WorkflowStatus
from beluga_workflow_contract_tests.compare import first_difference
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    ids,
    listed,
)
from beluga_workflow_contract_tests.violations import check, fail

__all__ = ["ConcurrencyRules"]

TASKS = 40
IDS_PER_TASK = 5


def _mix(got: WorkflowState | None, versions: list[WorkflowState]) -> str | None:
    """How ``got`` differs from the saved version it resembles most, or None if it is one."""
    if got is None:
        return "load returned None, but the id was saved"
    if any(first_difference(version, got) is None for version in versions):
        return None
    closest = next((v for v in versions if v.run_id == got.run_id), versions[0])
    return f"it matches no saved version; against run_id {closest.run_id!r}: " + str(
        first_difference(closest, got)
    )


class ConcurrencyRules:
    """SPEC 4: all operations are safe under concurrent use."""

    @rule("concurrency.saves", "saves of many ids from many tasks at once are all kept")
    async def test_concurrent_saves(self, run: ContractRun) -> None:
        store = await run.open()
        states = [
            [
                sample_state(run.id(f"t{task}-{n}"), task * 10 + n, events=2)
                for n in range(IDS_PER_TASK)
            ]
            for task in range(TASKS)
        ]

        async def writer(mine: list[WorkflowState]) -> None:
            for state in mine:
                await store.save(state)

        await asyncio.gather(*(writer(mine) for mine in states))
        flat = [state for mine in states for state in mine]
        listed_ids = set(ids(run.mine(await listed(store))))
        lost = [s.workflow_id for s in flat if s.workflow_id not in listed_ids]
        check(
            not lost,
            f"{len(lost)} of {len(flat)} concurrently saved states are missing from list()",
        )
        for state in flat:
            await expect_state(store, state, "after concurrent saves")

    @rule(
        "concurrency.mixed",
        "concurrent saves, loads, overwrites and deletes of many ids lose nothing",
    )
    async def test_concurrent_mixed_operations(self, run: ContractRun) -> None:
        store = await run.open()
        expected: dict[str, WorkflowState | None] = {}

        async def worker(task: int) -> None:
            first, second, third = (run.id(f"w{task}-{n}") for n in range(3))
            for n, workflow_id in enumerate((first, second, third)):
                await store.save(sample_state(workflow_id, task * 100 + n))
            await expect_state(store, sample_state(first, task * 100), "while other tasks write")
            replaced = sample_state(second, task * 100 + 50, status=WorkflowStatus.COMPLETED)
            await store.save(replaced)
            await store.delete(third)
            await expect_absent(store, third, "after delete, while other tasks write")
            await store.delete(first)
            again = sample_state(first, task * 100 + 70, events=1)
            await store.save(again)
            expected.update({first: again, second: replaced, third: None})

        await asyncio.gather(*(worker(task) for task in range(TASKS)))
        for workflow_id, state in expected.items():
            if state is None:
                await expect_absent(store, workflow_id, "after concurrent deletes")
            else:
                await expect_state(store, state, "after concurrent operations")
        present = set(ids(run.mine(await listed(store))))
        wanted = {i for i, s in expected.items() if s is not None}
        check(
            present == wanted, f"list() holds {len(present)} of the {len(wanted)} expected states"
        )

    @rule(
        "concurrency.same_id",
        "concurrent saves of one id leave exactly one of the saved states, never a mix",
    )
    async def test_concurrent_writes_to_one_id(self, run: ContractRun) -> None:
        store = await run.open()
        workflow_id = run.id("contended")
        versions = [
            sample_state(
                workflow_id,
                marker,
                status=list(WorkflowStatus)[marker % 4],
                events=marker % 6,
                input={"writer": marker},
                metadata={"writer": marker},
            )
            for marker in range(20)
        ]
        seen: list[WorkflowState | None] = []

        async def reader() -> None:
            for _ in range(10):
                seen.append(await store.load(workflow_id))
                await asyncio.sleep(0)

        await store.save(versions[0])
        await asyncio.gather(*(store.save(v) for v in versions), *(reader() for _ in range(5)))
        problem = _mix(await store.load(workflow_id), versions)
        if problem:
            fail(f"after concurrent saves of one id, {problem}")
        for loaded in seen:
            problem = _mix(loaded, versions)
            if problem:
                fail(f"a load during concurrent saves returned a mixed state: {problem}")
