"""The frames of the conditional writes: checks first, the backend's write, the standard conflict.

A store mixes in a frame and implements only the write its backend can make
atomically, answering whether it happened. The frame checks the arguments
before anything is changed and raises the standard
:class:`~beluga_workflow.errors.ConcurrencyConflictError` when the write did
not happen. Mixing one in also declares the ability to the executor (it
checks the :mod:`beluga_workflow.store` protocols), so mix in only what the
plugin record's capabilities say.
"""

from __future__ import annotations

from beluga_workflow.models import WorkflowState
from beluga_workflow.storekit.checks import require_append, require_state, require_version_number
from beluga_workflow.storekit.conflicts import history_conflict, version_conflict

__all__ = ["AppendFrame", "CompareAndSaveFrame"]


class CompareAndSaveFrame:
    """``compare_and_save`` (``optimistic_concurrency``) around :meth:`save_if_version`."""

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        """Save ``state`` with the next version if the stored one is ``expected_version``."""
        expected = require_version_number(expected_version)
        require_state(state)
        versioned = state.model_copy(update={"version": expected + 1})
        if not await self.save_if_version(versioned, expected):
            raise version_conflict(state.workflow_id, expected)
        return expected + 1

    async def save_if_version(self, state: WorkflowState, expected: int) -> bool:
        """Save ``state`` (already at its new version) if ``expected`` is stored (0: nothing).

        Answers whether it was saved; it must check and write in one atomic step.
        """
        raise NotImplementedError


class AppendFrame:
    """``append`` (``append_history``) around :meth:`append_if_length`."""

    async def append(self, state: WorkflowState, new_events: int) -> None:
        """Persist ``state`` whose last ``new_events`` events are new (see ``SupportsAppend``)."""
        kept = require_append(state, new_events)
        if not await self.append_if_length(state, kept):
            raise history_conflict(state.workflow_id, kept)

    async def append_if_length(self, state: WorkflowState, kept: int) -> bool:
        """Write ``state``'s head and its events from ``kept`` on if ``kept`` events are stored.

        With nothing stored, save the whole state (check it first with
        ``require_state``: only the head and the new events were checked).
        Answers whether it was written.
        """
        raise NotImplementedError
