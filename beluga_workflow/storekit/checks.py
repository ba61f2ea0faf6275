"""The argument checks every store makes before it changes anything, in one place.

Each raises :class:`~beluga_workflow.errors.InvalidArgumentError` with the
wording the contract suite expects, so every store refuses bad input alike.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.models import WorkflowState
from beluga_workflow.validation import (
    require_append,
    require_expected_version,
    require_filter,
    require_state,
    require_workflow_id,
)

__all__ = [
    "require_append",
    "require_expected_version",
    "require_filter",
    "require_state",
    "require_step",
    "require_version_number",
    "require_workflow_id",
]


def require_step(
    state: WorkflowState, new_events: int, expected_version: int
) -> tuple[int, WorkflowState]:
    """``compare_and_append``'s checks: how many events are kept, and the state at its new version.

    The state returned is a shallow copy at ``expected_version + 1``; only
    its head and new events are checked (as by :func:`require_append`).
    """
    kept = require_append(state, new_events)
    expected = require_expected_version(expected_version)
    return kept, state.model_copy(update={"version": expected + 1})


def require_version_number(expected_version: Any) -> int:
    """``compare_and_save``'s check: any ``int`` (not ``bool``).

    A negative version names no stored state, so it simply loses (a
    conflict) rather than being refused; ``compare_and_append`` is stricter,
    see :func:`~beluga_workflow.validation.require_expected_version`.
    """
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise InvalidArgumentError(f"expected_version must be an int, got {expected_version!r}")
    return expected_version
