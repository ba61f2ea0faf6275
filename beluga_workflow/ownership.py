"""Leases: which worker runs which run, claimed, renewed and given up through the run's own writes.

A lease is kept in the run's state (:class:`~beluga_workflow.models.Lease`),
so it changes under the same version condition as everything else about the
run (the store's ``compare_and_append``): two workers claiming one run cannot
both win, a renewal cannot be undone by a writer that read the run earlier,
and a worker whose lease was taken finds its next write refused and stops.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.models import Lease, WorkflowState

__all__ = ["DEFAULT_LEASE_SECONDS", "LeaseTerms", "default_worker_id", "same_holder"]

DEFAULT_LEASE_SECONDS = 10.0
"""How long a lease lasts unless renewed: a dead worker's runs are taken over after this."""


def default_worker_id() -> str:
    """``host:pid:random``: unique per process, so a restarted process is a new worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class LeaseTerms:
    """The leases one worker takes: its id and how long each lasts.

    A lease is renewed by every write of its run, and by a write of its own
    when the run has written nothing for a third of ``duration``.
    """

    owner: str
    duration: float = DEFAULT_LEASE_SECONDS

    def __post_init__(self) -> None:
        if not isinstance(self.owner, str) or not self.owner:
            raise InvalidArgumentError("worker_id must be a non-empty str")
        if isinstance(self.duration, bool) or not isinstance(self.duration, int | float):
            raise InvalidArgumentError(f"lease_duration must be a number, got {self.duration!r}")
        if not 0 < self.duration < 86_400:
            raise InvalidArgumentError(
                f"lease_duration must be between 0 and one day (seconds), got {self.duration!r}"
            )

    @property
    def renew_every(self) -> float:
        return self.duration / 3

    def claim(self, previous: Lease | None, now: datetime) -> Lease:
        """The lease this worker takes over ``previous`` (``None``: a run nobody held)."""
        epoch = 1 if previous is None else previous.epoch + 1
        return Lease(owner=self.owner, epoch=epoch, expires_at=self._until(now))

    def renewed(self, lease: Lease, now: datetime) -> Lease:
        return lease.model_copy(update={"expires_at": self._until(now)})

    def claimable(self, state: WorkflowState, now: datetime) -> bool:
        """A run nobody holds, whose lease ran out, or one this worker's id held before."""
        lease = state.lease
        return lease is None or not lease.is_live(now) or lease.owner == self.owner

    def _until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.duration)


def same_holder(a: Lease | None, b: Lease | None) -> bool:
    """Whether two leases are one holding (same owner, same epoch), whatever their expiry."""
    return a is not None and b is not None and (a.owner, a.epoch) == (b.owner, b.epoch)
