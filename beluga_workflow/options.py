"""What a caller chooses when starting a workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beluga_workflow.idpolicy import IdReusePolicy
from beluga_workflow.pinning import Versioning
from beluga_workflow.queues.placement import QueueOptions
from beluga_workflow.system_records import require_run_id

__all__ = ["WorkflowOptions"]


class WorkflowOptions(BaseModel):
    """Options of :meth:`Executor.execute <beluga_workflow.executor.Executor.execute>`.

    ``id`` names the workflow (a random one is generated when empty) and is an
    idempotency key: ``id_reuse`` says what a start of an id that already names
    a run does (by default it returns that run; see
    :class:`~beluga_workflow.idpolicy.IdReusePolicy`). Ids beginning
    ``~beluga/`` are the engine's own and refused.
    ``input`` must be a JSON value. ``timeout`` (seconds or a ``timedelta``)
    bounds the whole workflow, across restarts: the deadline is stored with it.
    ``queue`` starts the run on a queue (``submit`` only): it waits there until
    a worker serving the queue has room within the queue's limits.
    ``versioning="pinned"`` keeps the run on the build of the code that first
    runs it (see :mod:`beluga_workflow.pinning`); the default lets any worker
    that registers the workflow resume it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    input: Any = None
    timeout: float | None = Field(default=None, gt=0)
    id_reuse: IdReusePolicy = IdReusePolicy.USE_EXISTING
    queue: QueueOptions | None = None
    versioning: Versioning = Versioning.AUTO_UPGRADE

    @field_validator("id")
    @classmethod
    def _not_an_engine_id(cls, value: str) -> str:
        return require_run_id(value)

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return value.total_seconds() if isinstance(value, timedelta) else value
