"""What starting an id that already names a run does: ids are idempotency keys.

A caller that retries a start (a web handler called twice, a parent replaying
its child's start) must not run anything twice, so by default a second start
of an id returns the run that is there. The other policies reject the
duplicate, allow a new run only after a failure or cancel, or end the running
run and start anew. Whenever a new run takes the place of a stored one, the
stored one is first copied under :func:`archive_id`, so no history is lost.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from beluga_workflow.errors import WorkflowAlreadyExistsError, WorkflowIdConflictError
from beluga_workflow.history import new_event
from beluga_workflow.models import EventType, WorkflowState, WorkflowStatus, utc_now

__all__ = [
    "ARCHIVED_FROM",
    "FIRST_INPUT",
    "PREVIOUS_RUN",
    "PREVIOUS_RUN_ID",
    "IdReusePolicy",
    "StartDecision",
    "archive_id",
    "archived_copy",
    "decide_start",
]

PREVIOUS_RUN_ID = "previous_run_id"
"""``WorkflowState.metadata`` key: the run this one took the id over from."""

PREVIOUS_RUN = "previous_run"
"""``WorkflowState.metadata`` key: the store id the previous run was archived under."""

FIRST_INPUT = "first_input"
"""``WorkflowState.metadata`` key of a run that continued as new: the input the id was started
with, which a repeated start is compared with."""

ARCHIVED_FROM = "archived_from"
"""``WorkflowState.metadata`` key of an archived copy: the id it was the run of."""


class IdReusePolicy(StrEnum):
    """``WorkflowOptions.id_reuse``: what a start does when its id already names a run."""

    USE_EXISTING = "use_existing"
    """Default: return a handle to the stored run, whatever its status; run nothing.

    The start must repeat the stored one (same workflow name, same input), or
    ``WorkflowIdConflictError`` is raised.
    """
    REJECT_DUPLICATE = "reject_duplicate"
    """Raise ``WorkflowAlreadyExistsError`` whenever the id names a run."""
    ALLOW_AFTER_FAILURE = "allow_after_failure"
    """Start a new run only if the stored one failed or was canceled; else raise."""
    TERMINATE_EXISTING = "terminate_existing"
    """Cancel a running run (it is archived as ``canceled``) and start a new one."""


StartDecision = Literal["create", "existing", "replace", "terminate"]
"""``create``: the id is free; ``existing``: hand back the stored run; ``replace``: archive
the finished run and start anew; ``terminate``: end the running run first."""


def decide_start(
    policy: IdReusePolicy, stored: WorkflowState | None, name: str, input: Any
) -> StartDecision:
    """What a start of ``name`` with ``input`` does to ``stored`` (raises if it is refused)."""
    if stored is None:
        return "create"
    status = stored.status
    if policy is IdReusePolicy.USE_EXISTING:
        _require_same_start(stored, name, input)
        return "existing"
    if policy is IdReusePolicy.TERMINATE_EXISTING:
        return "terminate" if status is WorkflowStatus.RUNNING else "replace"
    if policy is IdReusePolicy.ALLOW_AFTER_FAILURE and status in (
        WorkflowStatus.FAILED,
        WorkflowStatus.CANCELED,
    ):
        return "replace"
    raise WorkflowAlreadyExistsError(
        f"workflow {stored.workflow_id!r} already names run {stored.run_id} ({status.value}); "
        f"id policy {policy.value!r} does not start it again"
    )


def archive_id(workflow_id: str, run_id: str) -> str:
    """The store id a replaced run of ``workflow_id`` is kept under: ``"<id>@<run_id>"``."""
    return f"{workflow_id}@{run_id}"


def archived_copy(stored: WorkflowState) -> WorkflowState:
    """A copy of ``stored`` to keep under :func:`archive_id`; a running one is ended ``canceled``.

    The copy holds no lease and is never running, so no worker picks it up.
    """
    copy = stored.model_copy(deep=True)
    copy.workflow_id = archive_id(stored.workflow_id, stored.run_id)
    copy.version = 0
    copy.lease = None
    copy.metadata[ARCHIVED_FROM] = stored.workflow_id
    if copy.status is WorkflowStatus.RUNNING:
        ended = new_event(
            EventType.WORKFLOW_CANCELED, error="terminated: a new run took over the id"
        )
        ended.id = len(copy.history) + 1
        copy.history.append(ended)
        copy.status = WorkflowStatus.CANCELED
        copy.error = ended.error
        copy.updated_at = utc_now()
    return copy


def _require_same_start(stored: WorkflowState, name: str, input: Any) -> None:
    if stored.workflow_name != name:
        raise WorkflowIdConflictError(
            f"workflow {stored.workflow_id!r} is a run of {stored.workflow_name!r}, not {name!r}; "
            "an id names one start (choose another id, or another id policy)"
        )
    if _key(stored.metadata.get(FIRST_INPUT, stored.input)) != _key(input):
        raise WorkflowIdConflictError(
            f"workflow {stored.workflow_id!r} was started with another input; "
            "an id names one start (choose another id, or another id policy)"
        )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
