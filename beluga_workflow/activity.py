"""What an activity can ask while it runs: who it is, and a heartbeat to report progress.

Inside an activity function (async, or plain on its thread)::

    from beluga_workflow import activity

    async def copy_files(paths):
        start = activity.info().heartbeat_details or 0   # where an earlier attempt got to
        for index in range(start, len(paths)):
            copy(paths[index])
            activity.heartbeat(index + 1)

A heartbeat says the attempt is alive (``heartbeat_timeout`` on
``execute_activity`` fails an attempt that goes longer without one) and
carries JSON ``details``. The latest details are kept with the run and handed
to the next attempt, also one that another worker runs after this one died.
They reach the store at most once per :data:`~beluga_workflow.heartbeats.WRITE_INTERVAL`
(the last ones with the attempt's outcome), so a tight loop of heartbeats costs
a bounded number of writes.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow.errors import WorkflowError
from beluga_workflow.heartbeats import ActivityInfo, AttemptHeartbeats, current_attempt

__all__ = ["ActivityInfo", "heartbeat", "info", "in_activity"]


def in_activity() -> bool:
    """Whether the caller runs inside an activity attempt."""
    return current_attempt() is not None


def info() -> ActivityInfo:
    """The running attempt: its workflow, activity name, attempt number, last details.

    Raises ``WorkflowError`` outside an activity.
    """
    return _attempt().info


def heartbeat(details: Any = None) -> None:
    """Report that the attempt is alive, with JSON ``details`` of its progress.

    Safe to call from an async activity and from a plain one on its thread;
    it never blocks. Raises ``PayloadSerializationError`` for details that are
    not JSON, and ``WorkflowError`` outside an activity.
    """
    _attempt().beat(details)


def _attempt() -> AttemptHeartbeats:
    attempt = current_attempt()
    if attempt is None:
        raise WorkflowError("not inside an activity: heartbeat() and info() work in activities")
    return attempt
