"""Retention: deleting finished runs once they are old enough, so a store does not grow forever.

A run is *prunable* when its status is one of the policy's (finished ones
only: a running run is live work and never pruned) and it was last updated
before ``now - older_than``; the engine's own records (queue boards, the
schedule book) are not runs and are never pruned. Filtering happens here, in the core, on what
``list()`` returns for each status, so every store honours it the same way.

Each candidate is loaded again just before it is deleted and deleted only if
it still matches (same run, still finished, still old): a run whose id was
reused meanwhile is kept. A store offers no conditional delete, so a new run
started in the instant between that check and the delete could still be
lost; run prunes with an age well beyond how long ids take to be reused.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.models import WorkflowFilter, WorkflowState, WorkflowStatus, utc_now
from beluga_workflow.run_listing import list_runs
from beluga_workflow.store import WorkflowStore

__all__ = ["FINISHED", "PruneReport", "Pruner", "RetentionPolicy", "parse_age", "prune"]

logger = logging.getLogger("beluga_workflow.retention")

FINISHED = frozenset(status for status in WorkflowStatus if status.is_terminal)
"""The statuses a run may be pruned in: completed, failed, canceled."""

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """``"30s"``, ``"15m"``, ``"12h"``, ``"7d"``, ``"2w"`` as a timedelta (more than zero).

    Raises ``InvalidArgumentError`` for anything else.
    """
    match = _AGE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"age {text!r} is not a number followed by s, m, h, d or w (for example 7d)"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InvalidArgumentError(f"age {text!r} must be more than zero")
    return timedelta(seconds=seconds)


class RetentionPolicy(BaseModel):
    """Which finished runs to delete: those in ``statuses`` not updated for ``older_than``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    older_than: timedelta = Field(gt=timedelta(0))
    statuses: frozenset[WorkflowStatus] = FINISHED

    @field_validator("older_than", mode="before")
    @classmethod
    def _age_text(cls, value: object) -> object:
        return parse_age(value) if isinstance(value, str) else value

    @field_validator("statuses")
    @classmethod
    def _finished_only(cls, value: frozenset[WorkflowStatus]) -> frozenset[WorkflowStatus]:
        if not value:
            raise ValueError("name at least one status")
        if WorkflowStatus.RUNNING in value:
            raise ValueError("running runs are live work and are never pruned")
        return value

    def matches(self, state: WorkflowState, now: datetime) -> bool:
        """Whether ``state`` is prunable at ``now``."""
        return state.status in self.statuses and state.updated_at < now - self.older_than


@dataclass
class PruneReport:
    """What :func:`prune` found and did: the matching ids, and those it deleted."""

    matched: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False


async def prune(
    store: WorkflowStore,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> PruneReport:
    """Delete (or with ``dry_run`` only list) the runs ``policy`` matches on ``store``.

    ``now`` (default: the current time) is what ages are measured from;
    ``progress`` is called with each id as it is deleted. Returns a
    :class:`PruneReport`, ids sorted.
    """
    if not isinstance(policy, RetentionPolicy):
        raise InvalidArgumentError(f"policy must be a RetentionPolicy, got {policy!r}")
    moment = now or utc_now()
    if moment.tzinfo is None:
        raise InvalidArgumentError("now must be timezone-aware")
    candidates = sorted(await _candidates(store, policy, moment), key=lambda s: s.workflow_id)
    report = PruneReport(matched=[state.workflow_id for state in candidates], dry_run=dry_run)
    if dry_run:
        return report
    for listed in candidates:
        current = await store.load(listed.workflow_id)
        if current is None or current.run_id != listed.run_id:
            continue
        if not policy.matches(current, moment):
            continue
        await store.delete(listed.workflow_id)
        report.deleted.append(listed.workflow_id)
        if progress is not None:
            progress(listed.workflow_id)
    return report


async def _candidates(
    store: WorkflowStore, policy: RetentionPolicy, now: datetime
) -> Iterable[WorkflowState]:
    found: dict[str, WorkflowState] = {}
    for status in sorted(policy.statuses):
        for state in await list_runs(store, WorkflowFilter(status=status)):
            if policy.matches(state, now):
                found[state.workflow_id] = state
    return found.values()


class Pruner:
    """Applies a :class:`RetentionPolicy` every ``every`` seconds, next to a worker.

    ``await pruner.run()`` prunes at once and then each ``every`` seconds
    until :meth:`stop`; a round that fails (the store is down) is logged on
    the ``beluga_workflow.retention`` logger and the next round tries again.
    Several processes may run one: each deletes what is still there.
    """

    def __init__(self, store: WorkflowStore, policy: RetentionPolicy, *, every: float) -> None:
        if not isinstance(policy, RetentionPolicy):
            raise InvalidArgumentError(f"policy must be a RetentionPolicy, got {policy!r}")
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0:
            raise InvalidArgumentError(f"every must be a positive number of seconds, got {every!r}")
        self.store = store
        self.policy = policy
        self.every = float(every)
        self.deleted = 0
        """How many runs this pruner deleted so far."""
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the round in progress."""
        self._stopping.set()

    async def run(self) -> None:
        """Prune now and every ``every`` seconds until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                report = await prune(self.store, self.policy)
            except Exception:
                logger.exception("pruning %r failed; trying again in %ss", self.store, self.every)
            else:
                self.deleted += len(report.deleted)
                if report.deleted:
                    logger.info("pruned %d finished run(s)", len(report.deleted))
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.every)
            except TimeoutError:
                continue
