"""Continue-as-new: a run ends and a fresh run of the same workflow takes its id.

A workflow that loops forever (a poller, an entity) would grow its history
forever; instead, at a point of its choosing, it calls
``ctx.continue_as_new(input)``. The run stops there and one write replaces
it with a new run under the same id: a new ``run_id``, the new input and a
history of one ``workflow_started`` event. The new run's ``metadata`` names
the run it continues (:data:`~beluga_workflow.idpolicy.PREVIOUS_RUN_ID`) and
counts the runs of the chain (:data:`RUN_NUMBER`), and keeps the input the
id was first started with (:data:`~beluga_workflow.idpolicy.FIRST_INPUT`), so
that repeating that start still finds the chain; the old run's history is
not kept (that is the point). A deadline set at the first start still
applies. Signals that arrive while the run is being replaced are handed to
the new run; a cancel that arrives first wins. Handles to the id follow the
chain to its last run.
"""

from __future__ import annotations

import uuid
from typing import Any

from beluga_workflow.errors import ConcurrencyConflictError
from beluga_workflow.idpolicy import FIRST_INPUT, PREVIOUS_RUN_ID
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState, WorkflowStatus, utc_now
from beluga_workflow.ownership import same_holder
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.store import SupportsCompareAndSave, WorkflowStore
from beluga_workflow.writes import MESSAGE_EVENTS, StoreAttempts

__all__ = ["RUN_NUMBER", "ContinueAsNew", "store_successor", "successor_of"]

RUN_NUMBER = "run_number"
"""``WorkflowState.metadata`` key: which run of a continue-as-new chain this is (from 2)."""

_KEPT = ("deadline", "timeout")


class ContinueAsNew(BaseException):
    """Raised by ``ctx.continue_as_new``; the executor ends the run and starts its successor.

    A ``BaseException``, so a workflow's ``except Exception`` does not swallow it.
    """

    def __init__(self, input: Any) -> None:
        super().__init__("continue as new")
        self.input = input


def successor_of(current: WorkflowState, input: Any) -> WorkflowState:
    """The fresh run that continues ``current`` with ``input`` (same id, same lease)."""
    now = utc_now()
    metadata = {key: current.metadata[key] for key in _KEPT if key in current.metadata}
    metadata[PREVIOUS_RUN_ID] = current.run_id
    metadata[FIRST_INPUT] = current.metadata.get(FIRST_INPUT, current.input)
    metadata[RUN_NUMBER] = int(current.metadata.get(RUN_NUMBER, 1)) + 1
    started = HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED, timestamp=now, input=input)
    return WorkflowState(
        workflow_id=current.workflow_id,
        run_id=uuid.uuid4().hex,
        status=WorkflowStatus.RUNNING,
        input=input,
        history=[started],
        created_at=now,
        updated_at=now,
        workflow_name=current.workflow_name,
        metadata=metadata,
        lease=current.lease,
    )


async def store_successor(
    store: WorkflowStore, retry: RetryPolicy, current: WorkflowState, successor: WorkflowState
) -> bool:
    """Replace ``current`` (as last stored by its run) with ``successor``, in one write.

    Returns ``False`` when another process ended ``current`` first (a cancel);
    signals stored for ``current`` meanwhile are moved to ``successor``.
    Raises ``ConcurrencyConflictError`` when the run was replaced, deleted,
    or taken over by another worker.
    """
    workflow_id = current.workflow_id
    expected, known = current.version, len(current.history)
    attempts = StoreAttempts(retry, f"continuing workflow {workflow_id!r} as new")
    while True:
        try:
            if isinstance(store, SupportsCompareAndSave):
                successor.version = await store.compare_and_save(successor, expected)
            else:  # a store for one writer: nothing else can have moved it on
                await store.save(successor)
            return True
        except ConcurrencyConflictError:
            pass
        except Exception as exc:
            await attempts.failed(exc)
        stored = await attempts.call(lambda: store.load(workflow_id))
        if stored is not None and stored.run_id == successor.run_id:
            successor.version = stored.version  # the write whose answer was lost had landed
            return True
        if stored is None or stored.run_id != current.run_id:
            raise ConcurrencyConflictError(
                f"workflow {workflow_id!r} was deleted or replaced while it continued as new"
            )
        if stored.status.is_terminal:
            return False
        if current.lease is not None and not same_holder(stored.lease, current.lease):
            raise ConcurrencyConflictError(
                f"workflow {workflow_id!r} was taken over by another worker while it continued"
            )
        later = stored.history[known:]
        if any(event.type not in MESSAGE_EVENTS for event in later):
            raise ConcurrencyConflictError(
                f"another process recorded steps of workflow {workflow_id!r} while it continued"
            )
        for event in later:  # signals for the old run go to the new one
            moved = event.model_copy(deep=True)
            moved.id = len(successor.history) + 1
            successor.history.append(moved)
        expected, known = stored.version, len(stored.history)
