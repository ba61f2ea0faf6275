"""Pinning a run to the build of the code that started it.

``ctx.patched`` lets new code replay old histories; some changes are too large
for that, and a rolling deploy must then leave each run to the code that began
it. A worker names its code with a *build id* (``Worker(build_id=...)``, the
CLI's ``worker --build-id``, or ``$BELUGA_WORKFLOW_BUILD_ID``). A run started
with ``WorkflowOptions(versioning="pinned")`` records the build id of the
first executor that runs it, and from then on only executors with that build
id resume it: after a crash, a takeover, or a deploy that starts newer
workers beside the old ones. A run that is not pinned (the default,
``auto_upgrade``) is resumed by any worker that registers its workflow.

The build id and the pin live in the run's metadata, written in the same
conditional write that claims the run, so two workers of different builds
cannot both pin it.
"""

from __future__ import annotations

import os
from enum import StrEnum

from beluga_workflow.errors import InvalidArgumentError, WorkflowPinnedError
from beluga_workflow.models import WorkflowState

__all__ = [
    "BUILD_ID_ENV",
    "BUILD_ID_KEY",
    "PINNED_KEY",
    "Versioning",
    "WorkflowPinnedError",
    "build_id_of",
    "default_build_id",
    "is_pinned",
    "pin_refusal",
    "stamp",
]

BUILD_ID_ENV = "BELUGA_WORKFLOW_BUILD_ID"
BUILD_ID_KEY = "build_id"
"""Metadata key: the build id of the first executor that ran the run."""
PINNED_KEY = "pinned"
"""Metadata key: ``True`` when only executors of that build may resume the run."""


class Versioning(StrEnum):
    """Which code may resume a run (``WorkflowOptions.versioning``)."""

    AUTO_UPGRADE = "auto_upgrade"
    """Any worker that registers the workflow (changes are made with ``ctx.patched``)."""
    PINNED = "pinned"
    """Only workers of the build that first ran it."""


def default_build_id(build_id: str | None) -> str | None:
    """``build_id`` when given, else ``$BELUGA_WORKFLOW_BUILD_ID``, else ``None``."""
    if build_id is None:
        build_id = os.environ.get(BUILD_ID_ENV) or None
    if build_id is not None and (not isinstance(build_id, str) or not build_id.strip()):
        raise InvalidArgumentError(f"build_id must be a non-empty string, got {build_id!r}")
    return build_id


def is_pinned(state: WorkflowState) -> bool:
    return state.metadata.get(PINNED_KEY) is True


def build_id_of(state: WorkflowState) -> str | None:
    value = state.metadata.get(BUILD_ID_KEY)
    return value if isinstance(value, str) else None


def stamp(state: WorkflowState, build_id: str | None) -> None:
    """Record ``build_id`` as the run's build, unless one is recorded already."""
    if build_id is not None and build_id_of(state) is None:
        state.metadata[BUILD_ID_KEY] = build_id


def pin_refusal(state: WorkflowState, build_id: str | None) -> WorkflowPinnedError | None:
    """Why an executor of ``build_id`` must not run ``state``, or ``None`` when it may."""
    if not is_pinned(state):
        return None
    recorded = build_id_of(state)
    if recorded is None or recorded == build_id:
        return None  # not run yet by any build: the first one to run it pins it
    here = "no build id" if build_id is None else f"build {build_id!r}"
    return WorkflowPinnedError(
        f"workflow {state.workflow_id!r} is pinned to build {recorded!r} and this executor has "
        f"{here}; a worker started with build_id={recorded!r} resumes it"
    )
