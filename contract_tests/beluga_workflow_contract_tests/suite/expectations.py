"""Checks shared by many rules: "loads back exactly", "is gone", "lists as".

Each raises :class:`~beluga_workflow_contract_tests.violations.Broken` with a
message naming the operation and the first difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStore
from beluga_workflow_contract_tests.compare import first_difference
from beluga_workflow_contract_tests.violations import check, fail, short, shown

__all__ = ["expect_absent", "expect_state", "ids", "listed", "same_state"]


def same_state(saved: WorkflowState, got: object, what: str) -> None:
    """``got`` must be exactly ``saved`` (types, zones and order included)."""
    if not isinstance(got, WorkflowState):
        fail(f"{what} returned {short(got)}, not a WorkflowState")
    difference = first_difference(saved, got)
    if difference:
        fail(f"{what} differs from what was saved: {difference}")


async def expect_state(store: WorkflowStore, saved: WorkflowState, when: str = "") -> None:
    """``load`` must return exactly ``saved``."""
    what = f"load({shown(saved.workflow_id, 50)}){' ' + when if when else ''}"
    loaded = await store.load(saved.workflow_id)
    if loaded is None:
        fail(f"{what} returned None, but the state was saved")
    same_state(saved, loaded, what)


async def expect_absent(store: WorkflowStore, workflow_id: str, when: str = "") -> None:
    """``load`` must return ``None``."""
    loaded = await store.load(workflow_id)
    check(
        loaded is None,
        f"load({shown(workflow_id, 50)}){' ' + when if when else ''} returned a state, "
        "expected None",
    )


async def listed(store: WorkflowStore, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
    """``list(filter)``, checked to be a list of states without duplicate ids."""
    result = await store.list(filter)
    what = f"list({_describe(filter)})"
    check(isinstance(result, list), f"{what} returned {short(result)}, not a list")
    for item in result:
        check(isinstance(item, WorkflowState), f"{what} returned {short(item)}, not a state")
    repeated = [i for i, n in Counter(s.workflow_id for s in result).items() if n > 1]
    check(not repeated, f"{what} returned id {short(repeated[:1])} more than once")
    return result


def ids(states: Iterable[WorkflowState]) -> list[str]:
    """The ids of ``states``, in order."""
    return [state.workflow_id for state in states]


def _describe(filter: WorkflowFilter | None) -> str:
    if filter is None:
        return ""
    parts = []
    if filter.status is not None:
        parts.append(f"status={filter.status}")
    if filter.limit:
        parts.append(f"limit={filter.limit}")
    return f"WorkflowFilter({', '.join(parts)})"
