"""A caller's reference to one workflow run: its ids, its status and its result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from beluga_workflow.errors import (
    NonDeterminismError,
    WorkflowCanceledError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowTimeoutError,
)
from beluga_workflow.models import WorkflowState, WorkflowStatus

__all__ = ["Outcome", "WorkflowHandle", "outcome_of"]

# Failures are stored as "TypeName: message"; these names come back as their own type.
_FAILURE_TYPES: dict[str, type[WorkflowError]] = {
    WorkflowTimeoutError.__name__: WorkflowTimeoutError,
    NonDeterminismError.__name__: NonDeterminismError,
}


@dataclass(frozen=True)
class Outcome:
    """How a run ended as seen by its handle.

    ``status`` is ``running`` when the run stopped in this process without
    finishing (executor closed, store unavailable); ``stopped`` then says why.
    ``cause`` is the workflow's own exception when this process saw it.
    """

    status: WorkflowStatus
    result: Any = None
    error: str | None = None
    cause: BaseException | None = None
    stopped: BaseException | None = None


def outcome_of(state: WorkflowState) -> Outcome:
    """The outcome a stored, finished state records."""
    return Outcome(status=state.status, result=state.result, error=state.error)


class WorkflowHandle:
    """Returned by ``Executor.execute`` and ``Executor.get_handle``.

    ``await handle.result()`` waits for the workflow and returns its result,
    or raises ``WorkflowFailedError`` (``WorkflowTimeoutError`` for a timeout,
    ``NonDeterminismError`` when replay diverged) or ``WorkflowCanceledError``.
    """

    def __init__(
        self,
        workflow_id: str,
        run_id: str,
        *,
        status: Callable[[], WorkflowStatus],
        outcome: Callable[[], Awaitable[Outcome]],
    ) -> None:
        self._id = workflow_id
        self._run_id = run_id
        self._status = status
        self._outcome = outcome

    def __repr__(self) -> str:
        return (
            f"WorkflowHandle(id={self._id!r}, run_id={self._run_id!r}, status={self.status.value})"
        )

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def status(self) -> WorkflowStatus:
        """The latest status this process knows of."""
        return self._status()

    async def result(self) -> Any:
        """Wait until the workflow ends; return its result or raise its failure."""
        outcome = await self._outcome()
        if outcome.status is WorkflowStatus.COMPLETED:
            return outcome.result
        if outcome.status is WorkflowStatus.CANCELED:
            raise WorkflowCanceledError(f"workflow {self._id!r} was canceled")
        if outcome.status is WorkflowStatus.FAILED:
            error = outcome.error or "unknown error"
            name, _, detail = error.partition(": ")
            kind = _FAILURE_TYPES.get(name)
            if kind is not None:  # these messages name the workflow themselves
                raise kind(detail) from outcome.cause
            raise WorkflowFailedError(f"workflow {self._id!r} failed: {error}") from outcome.cause
        raise outcome.stopped or WorkflowError(f"workflow {self._id!r} did not finish")
