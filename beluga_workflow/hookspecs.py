"""The plugin API: every hook a beluga-workflow plugin can implement.

A plugin is a module named by an entry point in the ``beluga_workflow`` group::

    [project.entry-points.beluga_workflow]
    myplugin = "my_package.plugin"

It implements hooks with :data:`hookimpl`. The plugin module should import
nothing heavy (no database client): discovery imports it, and a broken backend
library must not break listing the other providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from beluga_workflow.plugins.provider import StoreProvider

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "beluga_workflow"
"""The pluggy project name, which is also the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def beluga_workflow_store_providers() -> list[StoreProvider]:  # type: ignore[empty-body]
    """Return the store providers this plugin offers.

    Called once per discovery. Each :class:`StoreProvider` names its factory as
    a ``"module:callable"`` string (or a callable) that is imported only when a
    store is opened, so listing providers never imports a backend library.
    """


# --- workflow lifecycle ------------------------------------------------------
#
# Called by the executor when something happens in a workflow, in this process
# and for live events only: replaying a resumed workflow calls none of them.
# Implementations must be quick and must not change the values they are given;
# an exception raised by one is logged and never reaches the workflow. Any of
# the arguments may be left out of an implementation's signature.


@hookspec
def beluga_workflow_on_workflow_start(
    workflow_id: str, run_id: str, workflow_name: str, input: Any
) -> None:
    """A new workflow run was stored and its function is about to run (not on recovery)."""


@hookspec
def beluga_workflow_on_workflow_complete(
    workflow_id: str, run_id: str, workflow_name: str, result: Any
) -> None:
    """A workflow returned and its result is stored."""


@hookspec
def beluga_workflow_on_workflow_fail(
    workflow_id: str, run_id: str, workflow_name: str, error: str
) -> None:
    """A workflow failed (it raised, timed out or left its history) and is stored as failed."""


@hookspec
def beluga_workflow_on_workflow_cancel(workflow_id: str, run_id: str, workflow_name: str) -> None:
    """A workflow was canceled and is stored as canceled."""


@hookspec
def beluga_workflow_on_workflow_blocked(
    workflow_id: str, run_id: str, workflow_name: str, error: str, event_id: int | None
) -> None:
    """Replay stopped a run whose history the code no longer matches; it stays running.

    ``event_id`` names the recorded event the code diverged at. The run
    resumes when a worker with matching (or patched) code resumes it.
    """


@hookspec
def beluga_workflow_on_activity_start(
    workflow_id: str, run_id: str, activity_name: str, attempt: int, input: Any
) -> None:
    """An activity attempt is about to run (``attempt`` counts from 1)."""


@hookspec
def beluga_workflow_on_activity_complete(
    workflow_id: str, run_id: str, activity_name: str, attempt: int, result: Any, duration: float
) -> None:
    """An activity attempt returned and its result is stored."""


@hookspec
def beluga_workflow_on_activity_retry(
    workflow_id: str, run_id: str, activity_name: str, attempt: int, error: str, delay: float
) -> None:
    """An activity attempt failed and the next one runs after ``delay`` seconds."""


@hookspec
def beluga_workflow_on_activity_fail(
    workflow_id: str, run_id: str, activity_name: str, attempt: int, error: str
) -> None:
    """An activity failed for good: its retry policy allows no further attempt."""


@hookspec
def beluga_workflow_on_signal(
    workflow_id: str, run_id: str, signal_name: str, payload: Any
) -> None:
    """A signal for a workflow was stored (it is delivered to the workflow in order)."""
