"""Durable schedules: start a workflow at every tick of a cron expression or an interval.

Schedules live in the shared store (:class:`ScheduleBook`); workers started
with ``Worker(..., schedules=True)`` start each tick's run, exactly once
however many of them run (:mod:`beluga_workflow.schedules.ticker`).
"""

from beluga_workflow.schedules.book import ScheduleBook, ScheduleEntry
from beluga_workflow.schedules.spec import CatchUp, Schedule, tick_run_id

__all__ = ["CatchUp", "Schedule", "ScheduleBook", "ScheduleEntry", "tick_run_id"]
