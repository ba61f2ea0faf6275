"""Changing workflow code while runs are in progress: patch markers.

Replay matches each call a workflow makes with the call recorded at the same
position (see :mod:`beluga_workflow.replay`), so code that adds, removes or
changes a call would diverge from the histories of runs started before it.
Such a change goes behind ``if await ctx.patched("change-id"):``:

- a new run (or a run that reaches that place after all it recorded) records a
  ``marker_recorded`` event there and takes the new path;
- a run whose history has another call at that place was started by the old
  code: ``patched`` returns ``False`` and the run keeps the old path, without
  using up a position, so its recorded calls still line up;
- a run replaying a history that holds the marker takes the new path again.

Once no run that started before the change is in progress, the old path is
deleted and ``ctx.patched`` becomes ``ctx.deprecate_patch`` (which records
nothing, and lets histories holding the marker replay); once no run holding
the marker is left either, that line goes too.

The answer for one change id is fixed for the life of a run: later calls with
the same id return what the first returned, and record nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.history import new_event
from beluga_workflow.models import EventType
from beluga_workflow.validation import require_name

if TYPE_CHECKING:
    from beluga_workflow.context import WorkflowContext

__all__ = ["deprecate_patch", "patched"]


async def patched(context: WorkflowContext, change_id: str) -> bool:
    """Whether the run takes the new path of ``change_id``; records the marker on a new run."""
    require_name(change_id, "change id")
    context._journal.check_open()
    known = context._patches.get(change_id)
    if known is not None:
        return known
    positions = context._positions
    replayer = context._replayer
    if replayer is not None:
        recorded = replayer.marker_at(positions.next(), change_id)
        if recorded is not None:
            if recorded:
                positions.take()
            context._patches[change_id] = recorded
            return recorded
    position = positions.take()
    context._patches[change_id] = True
    if replayer is not None and replayer.active:
        await replayer.finished.wait()  # record after what history holds, as any new call
    marker = new_event(EventType.MARKER_RECORDED, change_id=change_id, position=position)
    await context._journal.record([marker])
    return True


def deprecate_patch(context: WorkflowContext, change_id: str) -> None:
    """Take the place of a marker ``change_id`` recorded here, if any; record nothing."""
    require_name(change_id, "change id")
    context._journal.check_open()
    if change_id in context._patches:
        return
    context._patches[change_id] = True
    replayer = context._replayer
    positions = context._positions
    if replayer is not None and replayer.marker_at(positions.next(), change_id):
        positions.take()
