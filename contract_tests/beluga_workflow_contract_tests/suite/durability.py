"""Capabilities ``durable`` and ``multi_process``: what one store wrote, another sees."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow import Capability, WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.processes import in_other_process
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    ids,
    listed,
)
from beluga_workflow_contract_tests.violations import check, fail

__all__ = ["DurabilityRules"]

NEEDS_SPEC = (
    "provide the store_spec fixture (an open_store() argument for the test's namespace) "
    "so the suite can open the store in another process"
)


class DurabilityRules:
    """SPEC 4: a new store on the same backend sees everything (capability ``durable``)."""

    @rule(
        "durable.reopen",
        "a new store from the factory sees every save, overwrite and delete of a closed one",
        capability=Capability.DURABLE,
    )
    async def test_new_store_sees_everything(self, run: ContractRun) -> None:
        first = await run.open()
        kept = sample_state(run.id("kept"), 1, events=4)
        replaced = sample_state(run.id("replaced"), 2, status=WorkflowStatus.COMPLETED)
        deleted = sample_state(run.id("deleted"), 3)
        for state in (kept, sample_state(replaced.workflow_id, 9), deleted):
            await first.save(state)
        await first.save(replaced)
        await first.delete(deleted.workflow_id)
        await first.close()
        second = await run.open()
        await expect_state(second, kept, "in a new store")
        await expect_state(second, replaced, "in a new store, after an overwrite")
        await expect_absent(second, deleted.workflow_id, "in a new store, after a delete")
        found = sorted(ids(run.mine(await listed(second))))
        wanted = sorted([kept.workflow_id, replaced.workflow_id])
        check(found == wanted, f"list() in a new store returned {found}, expected {wanted}")

    @rule(
        "durable.processes",
        "another OS process opening the same backend sees the states, and its writes are seen",
        capability=Capability.DURABLE,
    )
    async def test_other_process_sees_everything(self, run: ContractRun) -> None:
        if run.store_spec is None:
            pytest.skip(f"durable.processes: {NEEDS_SPEC}")
        first = await run.open()
        kept = sample_state(run.id("from-parent"), 1, events=3)
        doomed = sample_state(run.id("deleted-by-child"), 2)
        deleted = sample_state(run.id("deleted-by-parent"), 3)
        for state in (kept, doomed, deleted):
            await first.save(state)
        await first.delete(deleted.workflow_id)
        await first.close()
        written = sample_state(run.id("from-child"), 4, status=WorkflowStatus.FAILED)
        problems = await in_other_process(
            run.store_spec,
            expect=[kept, doomed],
            absent=[deleted.workflow_id],
            save=[written],
            delete=[doomed.workflow_id],
        )
        check(not problems, "; ".join(problems))
        second = await run.open()
        await expect_state(second, written, "after another process saved it")
        await expect_absent(second, doomed.workflow_id, "after another process deleted it")
        await expect_state(second, kept, "after another process used the backend")

    @rule(
        "multi_process.concurrent_writers",
        "two OS processes writing to one backend at once lose nothing",
        capability=Capability.MULTI_PROCESS,
    )
    async def test_processes_write_concurrently(self, run: ContractRun) -> None:
        if run.store_spec is None:
            fail(f"the provider declares multi_process, checked across processes: {NEEDS_SPEC}")
        batches = [
            [
                sample_state(run.id(f"p{process}-{n}"), process * 100 + n, events=2)
                for n in range(40)
            ]
            for process in range(2)
        ]
        shared = run.id("shared")
        versions = [
            [sample_state(shared, p * 100 + n, events=1) for n in range(10)] for p in range(2)
        ]
        results = await asyncio.gather(
            *(
                in_other_process(run.store_spec, save=[*batch, *mine])
                for batch, mine in zip(batches, versions, strict=True)
            )
        )
        for problems in results:
            check(not problems, "; ".join(problems))
        store = await run.open()
        for batch in batches:
            for state in batch:
                await expect_state(store, state, "after two processes wrote at once")
        final = await store.load(shared)
        check(
            final is not None and final in (versions[0][-1], versions[1][-1]),
            "the id both processes overwrote does not hold either process's last save",
        )
