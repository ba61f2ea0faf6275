"""Stores in different namespaces of one backend never meet, however the namespaces nest."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus, WorkflowStore
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_state, listed
from beluga_workflow_contract_tests.violations import check, short

__all__ = ["NESTINGS", "NamespaceRules", "Nesting"]

NEEDS_HOOK = (
    "provide the namespace_factory fixture (a callable taking a suffix and opening a store "
    "on the same backend in the test's namespace extended by that suffix) so the suite "
    "can open stores in other namespaces"
)

SEPARATORS = (":", ".", "/", "-", "_")
"""Characters key layouts commonly join a namespace, a kind of record and an id with."""

KINDS = ("", "state", "events", "status", "meta", "data")
"""Words such layouts commonly name their kinds of record with ("": no kind)."""


@dataclass(frozen=True)
class Nesting:
    """A namespace inside the test's one, and the id of the outer one its keys could meet.

    A store whose keys are ``namespace + sep + kind + sep + id`` writes the
    outer namespace's ``outer_id`` and this namespace's id ``c`` to one key.
    """

    suffix: str
    outer_id: str


def _nestings() -> tuple[Nesting, ...]:
    found = []
    for sep in SEPARATORS:
        for kind in KINDS:
            middle = f"{sep}{kind}{sep}" if kind else sep
            found.append(Nesting(f"{middle}b", f"b{middle}c"))
    return tuple(found)


NESTINGS = _nestings()
"""Every nesting the rule tries (a provider refuses the suffixes its namespaces cannot hold)."""

INNER_ID = "c"


class NamespaceRules:
    """SPEC 4: several applications may share one backend, each in its own namespace."""

    @rule(
        "namespaces.isolated",
        "stores in different namespaces of one backend, also namespaces that nest "
        "(a, and a:state:b), never see, change or delete each other's states",
    )
    async def test_namespaces_are_isolated(self, run: ContractRun) -> None:
        if run.namespace_factory is None:
            pytest.skip(f"namespaces.isolated: {NEEDS_HOOK}")
        outer = await run.open()
        opened = await asyncio.gather(*(run.open_namespace(n.suffix) for n in NESTINGS))
        inner = {n: store for n, store in zip(NESTINGS, opened, strict=True) if store is not None}
        check(
            inner,
            "the namespace_factory fixture refused every namespace the rule tried "
            f"(suffixes {', '.join(repr(n.suffix) for n in NESTINGS[:6])}, ...): "
            "it must accept at least one",
        )
        mine = {
            n: sample_state(run.exact_id(n.outer_id), marker, status=WorkflowStatus.RUNNING)
            for marker, n in enumerate(inner)
        }
        same_id = sample_state(run.exact_id(INNER_ID), 500, status=WorkflowStatus.RUNNING)
        theirs = {
            n: sample_state(INNER_ID, 1000 + marker, status=WorkflowStatus.COMPLETED)
            for marker, n in enumerate(inner)
        }
        for state in [*mine.values(), same_id]:
            await outer.save(state)
        await asyncio.gather(*(store.save(theirs[n]) for n, store in inner.items()))

        outer_states = [*mine.values(), same_id]
        inner_states = list(theirs.values())
        for n, store in inner.items():
            where = f"in the namespace extended by {n.suffix!r}"
            await expect_state(store, theirs[n], f"{where}, after the outer namespace wrote")
            await _lists(store, [theirs[n]], [*outer_states, *inner_states], where)
        await expect_state(outer, same_id, "after an inner namespace saved the same id")
        for n, state in mine.items():
            await expect_state(outer, state, f"after the namespace {n.suffix!r} saved {INNER_ID!r}")
        await _lists(outer, outer_states, inner_states, "in the outer namespace")

        for n, state in mine.items():
            await outer.delete(state.workflow_id)
            await expect_state(
                inner[n], theirs[n], f"after the outer namespace deleted {short(state.workflow_id)}"
            )
        await asyncio.gather(*(store.delete(INNER_ID) for store in inner.values()))
        await expect_state(outer, same_id, f"after every inner namespace deleted {INNER_ID!r}")


async def _lists(
    store: WorkflowStore, states: list[WorkflowState], others: list[WorkflowState], where: str
) -> None:
    """``store`` lists each of ``states`` (also by status) and none of ``others``.

    States are told apart by their ``run_id``: ids repeat across namespaces.
    """
    foreign = {s.run_id for s in others} - {s.run_id for s in states}
    for status in (None, *sorted({s.status for s in [*states, *others]}, key=str)):
        what = f"list({'' if status is None else f'status={status.value!r}'}) {where}"
        found = await listed(store, None if status is None else WorkflowFilter(status=status))
        strangers = [s.workflow_id for s in found if s.run_id in foreign]
        check(not strangers, f"{what} returned {short(strangers)} of another namespace")
        runs = {s.run_id for s in found}
        missing = [
            s.workflow_id for s in states if s.run_id not in runs and status in (None, s.status)
        ]
        check(not missing, f"{what} left out {short(missing)}")
