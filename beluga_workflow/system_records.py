"""Records the engine keeps in a store beside the runs: queue boards and the schedule book.

They are stored as :class:`~beluga_workflow.models.WorkflowState` records, so
every store keeps them with the abilities it already has (``load`` and
``compare_and_append``) and no store needs a new method. Their ids start with
:data:`SYSTEM_PREFIX`, their status is ``completed`` (``recover()`` and every
claim round list only ``running`` states, so they are never run) and they have
no history. ``store.list()`` returns them like any record, as the store
contract says; every listing of runs the engine shows or acts on leaves them
out through :func:`beluga_workflow.run_listing.list_runs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from beluga_workflow.errors import ConcurrencyConflictError, InvalidArgumentError
from beluga_workflow.history import DEFAULT_STORE_RETRY
from beluga_workflow.models import WorkflowState, WorkflowStatus, utc_now
from beluga_workflow.store import SupportsCompareAndAppend, WorkflowStore
from beluga_workflow.writes import Basis, ConditionalWriter, StoreAttempts, write_confirmed

__all__ = [
    "SYSTEM_PREFIX",
    "is_system_record",
    "read_record",
    "require_run_id",
    "require_versioned",
    "update_record",
    "without_system_records",
]

SYSTEM_PREFIX = "~beluga/"
"""Ids starting with this are the engine's own records, not workflow runs."""

_UPDATE_ATTEMPTS = 100
"""How often a record update is tried again after another writer changed it first."""


def is_system_record(state: WorkflowState | str) -> bool:
    """Whether ``state`` (or an id) is one of the engine's own records."""
    workflow_id = state if isinstance(state, str) else state.workflow_id
    return workflow_id.startswith(SYSTEM_PREFIX)


def without_system_records(states: Iterable[WorkflowState]) -> list[WorkflowState]:
    """``states`` without the engine's own records: what a listing of runs shows."""
    return [state for state in states if not is_system_record(state)]


def require_run_id(workflow_id: str) -> str:
    """``workflow_id``, refused when it is one the engine keeps for its own records.

    A run under such an id would be left out of every listing and never
    recovered, so starting one is refused with ``InvalidArgumentError``.
    """
    if is_system_record(workflow_id):
        raise InvalidArgumentError(
            f"workflow ids beginning {SYSTEM_PREFIX!r} are kept for the engine's own records "
            f"(queue boards, the schedule book); got {workflow_id!r}"
        )
    return workflow_id


def require_versioned(store: WorkflowStore, what: str) -> None:
    """Refuse a store that cannot change a record under a version condition."""
    if not isinstance(store, SupportsCompareAndAppend):
        raise InvalidArgumentError(
            f"{what} need a store with compare_and_append, so that every worker changes "
            f"them atomically; {store!r} lacks it"
        )


async def read_record(store: WorkflowStore, record_id: str, key: str) -> tuple[Any, int]:
    """The JSON kept under ``key`` in record ``record_id`` (``None`` if absent), and its version."""
    state = await store.load(record_id)
    if state is None:
        return None, 0
    return state.metadata.get(key), state.version


async def update_record(
    store: WorkflowStore,
    record_id: str,
    key: str,
    change: Callable[[Any], Any],
) -> Any:
    """Change the JSON under ``key`` in record ``record_id`` atomically and return the new value.

    ``change`` gets the stored value (``None`` when there is none) and returns
    the value to store, or the same object unchanged to write nothing. When
    another writer changed the record first, it is read again and ``change``
    runs again: ``change`` must therefore have no effects of its own. A write
    whose answer was lost is read back before it is made again
    (:func:`~beluga_workflow.writes.write_confirmed`), so a change is never
    applied twice.
    """
    writer = ConditionalWriter(store)
    attempts = StoreAttempts(DEFAULT_STORE_RETRY, f"updating record {record_id!r}")
    for _ in range(_UPDATE_ATTEMPTS):
        current, version = await read_record(store, record_id, key)
        result = change(current)
        if result is current:
            return current
        now = utc_now()
        state = WorkflowState(
            workflow_id=record_id,
            run_id=record_id,
            status=WorkflowStatus.COMPLETED,
            created_at=now,
            updated_at=now,
            metadata={key: result},
        )
        basis = Basis(record_id, 0, version)
        outcome = await write_confirmed(
            writer, state, basis, [], attempts, moved_on=_moved_from(basis), read_refusals=False
        )
        if outcome.landed:
            return result
    raise ConcurrencyConflictError(f"record {record_id!r} kept changing while being updated")


def _moved_from(basis: Basis) -> Callable[[WorkflowState | None], bool]:
    """Whether a record read back is another version than the one ``basis`` changed."""

    def moved(stored: WorkflowState | None) -> bool:
        return (0 if stored is None else stored.version) != basis.version

    return moved
