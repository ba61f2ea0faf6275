"""Child workflows: runs a workflow starts and awaits through durable steps of its own history.

Starting a child is a recorded step (an activity named :data:`START_STEP`)
whose work is an ordinary start under the default id policy, so it is
idempotent: a parent that crashed after the child was stored but before the
step was recorded starts it again and gets the same child back. The child's
id is the one given, or ``"<parent id>/<run>/<n>"`` for the parent's n-th
child; a replayed parent is handed the recorded start and starts nothing.
Awaiting the child is a step too (:data:`RESULT_STEP`), which waits for the
child's stored outcome, so the parent may run on one worker and the child on
another. A child whose workflow this executor has not registered is stored
for a worker that has.

When the parent ends (completes, fails or is canceled), its children started
with ``ParentClosePolicy.CANCEL`` that still run are canceled; ``ABANDON``
leaves them running. That happens right after the parent's end is stored: a
parent process killed in between leaves those children running. A parent
canceled while no process runs it has its children canceled by the process
that cancels it (:func:`children_to_cancel` reads them from its history).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from beluga_workflow.errors import (
    ChildWorkflowError,
    InvalidArgumentError,
    WorkflowCanceledError,
    WorkflowFailedError,
)
from beluga_workflow.models import EventType, HistoryEvent
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.validation import require_workflow_id

if TYPE_CHECKING:
    from beluga_workflow.context import WorkflowContext
    from beluga_workflow.executor import Executor, WorkflowFunction

__all__ = [
    "cancel_children",
    "child_starts",
    "children_to_cancel",
    "CANCEL_STEP",
    "RESULT_STEP",
    "START_STEP",
    "ChildHandle",
    "Children",
    "ParentClosePolicy",
]

logger = logging.getLogger("beluga_workflow.children")

START_STEP = "beluga_workflow.start_child"
"""The activity name a child's start is recorded under in the parent's history."""

RESULT_STEP = "beluga_workflow.child_result"
"""The activity name a child's outcome is recorded under in the parent's history."""

CANCEL_STEP = "beluga_workflow.cancel_child"
"""The activity name a parent's cancel of a child is recorded under."""


class ParentClosePolicy(StrEnum):
    """What happens to a child that still runs when its parent ends."""

    CANCEL = "cancel"
    """Default: the child is canceled (also when the parent is canceled)."""
    ABANDON = "abandon"
    """The child runs on by itself."""


class ChildHandle:
    """A started child, as its parent sees it: ids, and durable steps to await or cancel it."""

    def __init__(
        self, context: WorkflowContext, children: Children, workflow_id: str, run_id: str
    ) -> None:
        self._context = context
        self._children = children
        self.id = workflow_id
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"ChildHandle(id={self.id!r}, run_id={self.run_id!r})"

    async def result(self) -> Any:
        """Wait for the child (a recorded step) and return its result.

        Raises ``ChildWorkflowError`` when the child failed or was canceled.
        """
        outcome = await self._context.execute_activity(
            self._children.wait, {"id": self.id}, name=RESULT_STEP
        )
        if outcome["status"] == "completed":
            return outcome["result"]
        raise ChildWorkflowError(
            f"child workflow {self.id!r} {outcome['status']}: {outcome['error'] or 'no error text'}"
        )

    async def cancel(self) -> None:
        """Cancel the child (a recorded step); :meth:`result` then raises ``ChildWorkflowError``."""
        await self._context.execute_activity(
            self._children.cancel, {"id": self.id}, name=CANCEL_STEP
        )


class Children:
    """The children one run started, and the executor they are started on."""

    def __init__(
        self, executor: Executor, workflow_id: str, run_id: str, *, inherited: int = 0
    ) -> None:
        self._executor = executor
        self._prefix = f"{workflow_id}/{run_id[:12]}"
        self._count = 0
        self._inherited = inherited
        """Children whose start a fork copied from its source: the source's, not this run's."""
        self._to_cancel: dict[str, None] = {}

    async def start(
        self,
        context: WorkflowContext,
        workflow: WorkflowFunction | str,
        input: Any,
        workflow_id: str | None,
        parent_close: ParentClosePolicy,
    ) -> ChildHandle:
        """Start a child through a recorded step; its handle (see :class:`ChildHandle`)."""
        if workflow_id is not None:
            require_workflow_id(workflow_id)
        if not isinstance(parent_close, ParentClosePolicy):
            raise InvalidArgumentError(
                f"parent_close must be a ParentClosePolicy, got {parent_close!r}"
            )
        name = workflow if isinstance(workflow, str) else self._executor.register(workflow)
        self._count += 1
        request = {
            "workflow": name,
            "input": input,
            "id": workflow_id,
            "n": self._count,
            "parent_close": parent_close.value,
        }
        started = await context.execute_activity(self._start, request, name=START_STEP)
        if parent_close is ParentClosePolicy.CANCEL and self._count > self._inherited:
            self._to_cancel[started["workflow_id"]] = None
        return ChildHandle(context, self, started["workflow_id"], started["run_id"])

    async def close(self) -> None:
        """The parent ended: cancel the children it started with ``ParentClosePolicy.CANCEL``."""
        await cancel_children(self._executor, list(self._to_cancel))

    async def _start(self, request: dict[str, Any]) -> dict[str, str]:
        # A context of its own: the child's tasks must not see the parent's activity.
        started = asyncio.create_task(self._start_child(request), context=contextvars.Context())
        return await started

    async def _start_child(self, request: dict[str, Any]) -> dict[str, str]:
        executor = self._executor
        child_id = request["id"] or f"{self._prefix}/{request['n']}"
        options = WorkflowOptions(id=child_id, input=request["input"])
        name = request["workflow"]
        if executor.knows(name):
            handle = await executor.execute(name, options)
        else:
            handle = await executor.submit(name, options)
        return {"workflow_id": handle.id, "run_id": handle.run_id}

    async def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        handle = await self._executor.get_handle(request["id"])
        try:
            result = await handle.result()
        except WorkflowCanceledError as error:
            return {"status": "canceled", "result": None, "error": str(error)}
        except WorkflowFailedError as error:
            return {"status": "failed", "result": None, "error": str(error)}
        return {"status": "completed", "result": result, "error": None}

    async def cancel(self, request: dict[str, Any]) -> None:
        await self._executor.cancel(request["id"])


def child_starts(history: list[HistoryEvent]) -> int:
    """How many child starts ``history`` records."""
    return sum(
        1
        for event in history
        if event.type is EventType.ACTIVITY_COMPLETED and event.activity_name == START_STEP
    )


def children_to_cancel(history: list[HistoryEvent], *, inherited: int = 0) -> list[str]:
    """The ids of the children a run's history says it started with ``ParentClosePolicy.CANCEL``.

    Lets a process that cancels a stored parent (one no process runs) cancel
    its children too. The first ``inherited`` starts (a fork's, copied from its
    source) are the source's children, and are left alone.
    """
    ids = []
    seen = 0
    for position, event in enumerate(history):
        if (
            position > 0
            and event.type is EventType.ACTIVITY_COMPLETED
            and event.activity_name == START_STEP
            and isinstance(event.result, dict)
        ):
            seen += 1
            if seen <= inherited:
                continue
            request = history[position - 1].input
            policy = request.get("parent_close") if isinstance(request, dict) else None
            if policy in (None, ParentClosePolicy.CANCEL.value):
                ids.append(str(event.result["workflow_id"]))
    return ids


async def cancel_children(executor: Executor, child_ids: list[str]) -> None:
    """Cancel each child that still runs; a child that cannot be canceled is logged, not raised."""
    for child_id in child_ids:
        try:
            await executor.cancel(child_id)
        except Exception as exc:  # the parent has ended all the same
            logger.warning("could not cancel child workflow %r: %s", child_id, exc)
