"""list stays correct while other tasks save, overwrite and delete.

A store that walks its live state across an ``await`` (a dict iterated while
it yields, a cursor over keys that other tasks remove) breaks only when
writes land between its steps, so these rules list *during* writes. Writers
and listers yield to each other after every operation, so the interleaving is
the same on every run: no verdict depends on timing or on a random seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow_contract_tests.compare import first_difference
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import ids, listed
from beluga_workflow_contract_tests.violations import Broken, check, clip, fail

__all__ = ["LiveListingRules"]

WRITERS = 8
ROUNDS = 12
LISTERS = 3
STATUSES = list(WorkflowStatus)


@dataclass
class Churn:
    """The states writers save and delete, and the ones nobody touches while listing."""

    stable: list[WorkflowState]
    versions: dict[str, list[WorkflowState]] = field(default_factory=dict)
    writing: bool = True
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def saved_as(self, state: WorkflowState) -> bool:
        """Whether ``state`` is exactly one of the versions written for its id."""
        known = self.versions.get(state.workflow_id)
        if known is None:
            known = [s for s in self.stable if s.workflow_id == state.workflow_id]
        return any(first_difference(version, state) is None for version in known)


async def _prepare(run: ContractRun, store: WorkflowStore) -> Churn:
    stable = [
        sample_state(run.id(f"stable-{n}"), n, status=STATUSES[n % len(STATUSES)])
        for n in range(2 * len(STATUSES))
    ]
    for state in stable:
        await store.save(state)
    return Churn(stable)


async def _writer(run: ContractRun, store: WorkflowStore, churn: Churn, task: int) -> None:
    """Overwrites two ids with status after status and deletes one now and then, yielding."""
    mine = [run.id(f"churn-{task}-{n}") for n in range(2)]
    for round in range(ROUNDS):
        for which, workflow_id in enumerate(mine):
            status = STATUSES[(round + task + which) % len(STATUSES)]
            state = sample_state(workflow_id, 1000 + task * 100 + round * 2 + which, status=status)
            churn.versions.setdefault(workflow_id, []).append(state)
            await store.save(state)
            churn.started.set()
            await asyncio.sleep(0)
        if (round + task) % 3 == 2:
            await store.delete(mine[1])
            await asyncio.sleep(0)


async def _listing(
    store: WorkflowStore, filter: WorkflowFilter | None, what: str
) -> list[WorkflowState]:
    try:
        return await listed(store, filter)
    except Broken:
        raise
    except Exception as exc:
        raise Broken(
            f"{what} raised {type(exc).__name__} while other tasks saved and deleted: "
            f"{clip(str(exc))}"
        ) from exc


async def _lister(run: ContractRun, store: WorkflowStore, churn: Churn, by_status: bool) -> int:
    """Lists until the writers are done, checking each answer; returns how many it made."""
    await churn.started.wait()
    made = 0
    while churn.writing or made == 0:
        filters: Sequence[WorkflowStatus | None] = STATUSES if by_status else [None]
        for status in filters:
            filter = None if status is None else WorkflowFilter(status=status)
            what = "list()" if status is None else f"list(status={status.value})"
            result = await _listing(store, filter, what)
            _check_answer(run, churn, result, status, what)
            made += 1
            await asyncio.sleep(0)
    return made


def _check_answer(
    run: ContractRun,
    churn: Churn,
    result: list[WorkflowState],
    status: WorkflowStatus | None,
    what: str,
) -> None:
    for state in run.mine(result):
        if status is not None and state.status is not status:
            fail(
                f"{what} during writes returned {state.workflow_id!r} with status "
                f"{state.status.value}"
            )
        if not churn.saved_as(state):
            fail(
                f"{what} during writes returned {state.workflow_id!r} as no version "
                "that was saved for it (a mix of two writes?)"
            )
    present = set(ids(result))
    for state in churn.stable:
        if status is None or state.status is status:
            check(
                state.workflow_id in present,
                f"{what} during writes left out {state.workflow_id!r}, which no task touched",
            )


async def _churn_and_list(run: ContractRun, *, by_status: bool) -> None:
    store = await run.open()
    churn = await _prepare(run, store)

    async def writers() -> None:
        try:
            await asyncio.gather(*(_writer(run, store, churn, task) for task in range(WRITERS)))
        finally:
            churn.writing = False

    results = await asyncio.gather(
        writers(), *(_lister(run, store, churn, by_status) for _ in range(LISTERS))
    )
    check(all(results[1:]), "no list ran while the writers wrote")


class LiveListingRules:
    """SPEC 4: all operations are safe under concurrent use, list included."""

    @rule(
        "list.during_writes",
        "list while other tasks save, overwrite and delete raises nothing and returns only "
        "saved states, each once, never leaving out a state nobody touched",
    )
    async def test_list_during_writes(self, run: ContractRun) -> None:
        await _churn_and_list(run, by_status=False)

    @rule(
        "list.status_during_writes",
        "list by status while other tasks save, overwrite with another status and delete "
        "returns only states of that status, never leaving out one nobody touched",
    )
    async def test_list_by_status_during_writes(self, run: ContractRun) -> None:
        await _churn_and_list(run, by_status=True)
