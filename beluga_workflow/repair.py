"""Repairing runs: resume a failed or canceled run, or fork a run from step N into a new one.

Both build a state whose history is a recorded prefix, so the run replays
that prefix (nothing in it runs again) and carries on for real after it.

A *step* is one activity call that ended: its last attempt completed, or
failed with no retry left. Steps are numbered from 1 in history order;
:func:`step_count` says how many a history holds.

* **Resume** keeps the run (same id, same ``run_id``) and cuts its history
  just before the end: the ``workflow_failed``/``workflow_canceled`` event,
  and, when the last step failed for good, that step's last attempt too, so it
  is tried once more. Signals recorded after the cut are kept. A deadline
  (``WorkflowOptions.timeout``) no longer applies to a resumed run.
* **Fork** copies the history up to the end of step N into a new run (a new
  id), which replays steps 1..N and runs every step after N again. Signals
  recorded after step N belong to the old run and are not copied.
"""

from __future__ import annotations

import uuid
from typing import Any

from beluga_workflow.children import child_starts
from beluga_workflow.errors import (
    ConcurrencyConflictError,
    InvalidArgumentError,
    WorkflowAlreadyRunningError,
    WorkflowError,
)
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState, WorkflowStatus, utc_now
from beluga_workflow.pinning import BUILD_ID_KEY, PINNED_KEY, build_id_of, is_pinned
from beluga_workflow.retry import RetryPolicy
from beluga_workflow.store import SupportsCompareAndSave, WorkflowStore
from beluga_workflow.writes import StoreAttempts

__all__ = [
    "FORKED_FROM",
    "RANDOM_SEED",
    "RESUMES",
    "forked_state",
    "inherited_children",
    "resumed_state",
    "step_count",
    "store_resumed",
]

FORKED_FROM = "forked_from"
"""``WorkflowState.metadata`` key of a fork: ``{"workflow_id", "run_id", "step"}`` it came from,
and ``"children"``: how many child starts it copied (those children stay the source's)."""

RANDOM_SEED = "random_seed"
"""``WorkflowState.metadata`` key: the run id ``ctx.random()`` is seeded from, when not its own.

A fork replays its source's prefix, so it draws the numbers its source drew.
"""

RESUMES = "resumes"
"""``WorkflowState.metadata`` key: how often the run has been resumed."""

_DEADLINE_KEYS = ("deadline", "timeout")
_TERMINAL = (EventType.WORKFLOW_COMPLETED, EventType.WORKFLOW_FAILED, EventType.WORKFLOW_CANCELED)


def _step_ends(history: list[HistoryEvent]) -> list[int]:
    """Positions (0-based) of the events that end each step."""
    ends = []
    for position, event in enumerate(history):
        if event.type is EventType.ACTIVITY_COMPLETED or (
            event.type is EventType.ACTIVITY_FAILED and event.fire_at is None
        ):
            ends.append(position)
    return ends


def step_count(history: list[HistoryEvent]) -> int:
    """How many steps (activity calls that ended) ``history`` records."""
    return len(_step_ends(history))


def resumed_state(stored: WorkflowState) -> WorkflowState:
    """``stored`` (failed or canceled) made running again, its history cut before its end.

    Raises ``WorkflowAlreadyRunningError`` for a running run and
    ``WorkflowError`` for a completed one; ``stored`` is not changed.
    """
    if stored.status is WorkflowStatus.RUNNING:
        raise WorkflowAlreadyRunningError(
            f"workflow {stored.workflow_id!r} is running; only a failed or canceled run is resumed"
        )
    if stored.status is WorkflowStatus.COMPLETED:
        raise WorkflowError(
            f"workflow {stored.workflow_id!r} completed; only a failed or canceled run is resumed "
            "(fork it to run its steps again)"
        )
    history = stored.history
    end = len(history)
    while end > 1 and history[end - 1].type in _TERMINAL:
        end -= 1
    cut = end
    ends = [position for position in _step_ends(history) if position < end]
    if stored.status is WorkflowStatus.FAILED and ends:
        last = history[ends[-1]]
        if last.type is EventType.ACTIVITY_FAILED and ends[-1] > 0:
            cut = ends[-1] - 1  # its started event: the attempt runs again
    kept = [event.model_copy(deep=True) for event in history[:cut]]
    kept += _renumbered_signals(history[cut:end], len(kept))
    state = stored.model_copy(deep=True)
    state.history = kept
    state.status = WorkflowStatus.RUNNING
    state.result = None
    state.error = None
    state.lease = None
    state.updated_at = utc_now()
    for key in _DEADLINE_KEYS:
        state.metadata.pop(key, None)
    state.metadata[RESUMES] = int(state.metadata.get(RESUMES, 0)) + 1
    return state


def forked_state(stored: WorkflowState, from_step: int, new_id: str) -> WorkflowState:
    """A new running run ``new_id`` of ``stored``'s workflow that keeps steps 1..``from_step``.

    ``from_step`` is 0 (run everything again) to :func:`step_count`; anything
    else raises ``InvalidArgumentError``.
    """
    ends = _step_ends(stored.history)
    if isinstance(from_step, bool) or not isinstance(from_step, int):
        raise InvalidArgumentError(f"from_step must be an int, got {from_step!r}")
    if not 0 <= from_step <= len(ends):
        raise InvalidArgumentError(
            f"from_step must be 0 to {len(ends)} (the steps workflow {stored.workflow_id!r} "
            f"recorded), got {from_step}"
        )
    cut = ends[from_step - 1] + 1 if from_step else 1
    now = utc_now()
    prefix = [event.model_copy(deep=True) for event in stored.history[:cut]]
    source: dict[str, Any] = {
        "workflow_id": stored.workflow_id,
        "run_id": stored.run_id,
        "step": from_step,
        "children": child_starts(prefix),
    }
    metadata: dict[str, Any] = {
        FORKED_FROM: source,
        RANDOM_SEED: stored.metadata.get(RANDOM_SEED, stored.run_id),
    }
    if is_pinned(stored):  # the kept steps were recorded by that build: it runs the rest
        metadata[PINNED_KEY] = True
        stamp_build = build_id_of(stored)
        if stamp_build is not None:
            metadata[BUILD_ID_KEY] = stamp_build
    return WorkflowState(
        workflow_id=new_id,
        run_id=uuid.uuid4().hex,
        status=WorkflowStatus.RUNNING,
        input=stored.input,
        history=prefix,
        created_at=now,
        updated_at=now,
        workflow_name=stored.workflow_name,
        metadata=metadata,
    )


def _renumbered_signals(events: list[HistoryEvent], after: int) -> list[HistoryEvent]:
    signals: list[HistoryEvent] = []
    for event in events:
        if event.type is EventType.SIGNAL_RECEIVED:
            copy = event.model_copy(deep=True)
            copy.id = after + len(signals) + 1
            signals.append(copy)
    return signals


async def store_resumed(
    store: WorkflowStore, retry: RetryPolicy, state: WorkflowState, previous: WorkflowState
) -> None:
    """Store the resumed ``state`` over ``previous``, unless the stored run moved on first.

    Raises ``WorkflowAlreadyRunningError`` when another writer (another
    resume, most likely) changed the run meanwhile. A write whose answer was
    lost is read back before it is tried again.
    """
    workflow_id = state.workflow_id
    attempts = StoreAttempts(retry, f"storing the resumed workflow {workflow_id!r}")
    while True:
        try:
            if isinstance(store, SupportsCompareAndSave):
                state.version = await store.compare_and_save(state, previous.version)
            else:  # a store for one writer: nothing else can have moved it on
                await store.save(state)
            return
        except ConcurrencyConflictError as exc:
            raise WorkflowAlreadyRunningError(
                f"workflow {workflow_id!r} changed while it was being resumed (resumed elsewhere?)"
            ) from exc
        except Exception as exc:
            await attempts.failed(exc)
        stored = await attempts.call(lambda: store.load(workflow_id))
        if stored is not None and stored.updated_at == state.updated_at:
            state.version = stored.version  # the write whose answer was lost had landed
            return
        if stored is None or stored.version != previous.version:
            raise WorkflowAlreadyRunningError(
                f"workflow {workflow_id!r} changed while it was being resumed (resumed elsewhere?)"
            )


def inherited_children(state: WorkflowState) -> int:
    """How many of ``state``'s recorded child starts a fork copied from its source."""
    source = state.metadata.get(FORKED_FROM)
    return int(source.get("children", 0)) if isinstance(source, dict) else 0
