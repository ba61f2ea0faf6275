"""Testing workflows: a time-skipping environment and replaying golden history files.

- :class:`WorkflowEnvironment` (and the ``workflow_environment`` pytest
  fixture of :mod:`beluga_workflow.testing.fixtures`) runs an executor on an
  event loop whose clock skips ahead whenever nothing but a timer is left.
- :func:`assert_replays` replays history files checked into a project
  against the current code and fails naming the run and event that diverge;
  :func:`~beluga_workflow.replaying.save_history` writes such files.
"""

from __future__ import annotations

from beluga_workflow.replaying import save_history
from beluga_workflow.testing.golden import assert_replays
from beluga_workflow.testing.time_skipping import TimeSkippingLoop, WorkflowEnvironment

__all__ = ["TimeSkippingLoop", "WorkflowEnvironment", "assert_replays", "save_history"]
