"""Where "now" comes from: the wall clock, or a test clock set for the tasks of one test.

:func:`beluga_workflow.models.utc_now` asks :data:`TEST_CLOCK` first, so the
time-skipping test kit (:mod:`beluga_workflow.testing`) can make timestamps,
timer due times and ``ctx.now()`` follow its virtual clock. A context
variable keeps that to the tasks the kit starts; everything else, in the same
process, keeps reading the wall clock.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import datetime

__all__ = ["TEST_CLOCK"]

TEST_CLOCK: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "beluga_workflow_test_clock", default=None
)
"""A function giving the current UTC time, for the tasks that see it; ``None``: the wall clock."""
