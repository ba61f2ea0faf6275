"""The standard :class:`~beluga_workflow.errors.ConcurrencyConflictError` of each write.

A store says what it knows: when it read what is stored it names it (``is
at version 3``), when its backend only answered "not written" the message
says what the write expected.
"""

from __future__ import annotations

from beluga_workflow.errors import ConcurrencyConflictError

__all__ = ["history_conflict", "step_conflict", "version_conflict"]


def version_conflict(
    workflow_id: str, expected: int, current: int | None = None
) -> ConcurrencyConflictError:
    """A ``compare_and_save`` (or any write conditional on the version) that lost."""
    if current is None:
        return ConcurrencyConflictError(
            f"workflow {workflow_id!r} is not at the expected version {expected}; "
            "another writer saved it first"
        )
    return ConcurrencyConflictError(
        f"workflow {workflow_id!r} is at version {current}, not the expected {expected}"
    )


def history_conflict(
    workflow_id: str, kept: int, stored: int | None = None
) -> ConcurrencyConflictError:
    """An ``append`` whose stored history is not the one its new events extend."""
    if stored is None:
        return ConcurrencyConflictError(
            f"workflow {workflow_id!r} does not have the {kept} stored events "
            "this append extends; another writer moved it on"
        )
    return ConcurrencyConflictError(
        f"workflow {workflow_id!r} has {stored} stored events, not the "
        f"{kept} this append extends; another writer moved it on"
    )


def step_conflict(workflow_id: str, expected: int, kept: int) -> ConcurrencyConflictError:
    """A ``compare_and_append`` that found another version or history length."""
    return ConcurrencyConflictError(
        f"workflow {workflow_id!r} is not at the expected version {expected} "
        f"with {kept} stored events; another writer moved it on"
    )
