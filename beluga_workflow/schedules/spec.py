"""What a schedule says: which workflow, when (a cron expression or a fixed interval), and
what to do about ticks missed while no worker ran."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from beluga_workflow.queues.placement import QueueOptions
from beluga_workflow.validation import require_name

__all__ = ["CatchUp", "Schedule", "tick_run_id"]


class CatchUp(StrEnum):
    """What a worker does with ticks that passed while no worker was there to start them.

    A tick is *missed* when it is found more than ``late_after`` seconds after
    it was due. ``skip`` starts none of them, ``once`` starts one run for the
    latest, ``all`` starts one per missed tick (the latest ``max_catch_up``).
    Ticks found in time always start.
    """

    SKIP = "skip"
    ONCE = "once"
    ALL = "all"


class Schedule(BaseModel):
    """Start ``workflow`` (a registered name) with ``input`` at every tick.

    Ticks come from ``cron`` (five fields, or six with seconds last, read by
    ``croniter``) in ``timezone`` (an IANA name: "0 9 * * *" with
    "Europe/Berlin" is 9:00 Berlin time, summer and winter), or every
    ``every`` seconds from when the schedule was created. Each tick starts one
    run whose id is ``"<name>@<tick in UTC>"``, optionally on ``queue``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    workflow: str = Field(min_length=1)
    input: Any = None
    cron: str | None = None
    every: float | None = Field(default=None, ge=0.1, le=366 * 86_400)
    timezone: str = "UTC"
    catch_up: CatchUp = CatchUp.ONCE
    max_catch_up: int = Field(default=10, ge=1, le=1000)
    late_after: float = Field(default=5.0, gt=0, le=86_400)
    queue: QueueOptions | None = None

    @field_validator("name", "workflow")
    @classmethod
    def _storable(cls, value: str) -> str:
        return require_name(value, "schedule or workflow name")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> Schedule:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give a schedule either cron or every, not both or neither")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"invalid cron expression {self.cron!r}")
        if self.queue is not None and self.queue.dedup_key is not None:
            raise ValueError("a schedule's runs have ids of their own: no dedup_key")
        return self

    def ticks_before(
        self, until: datetime, after: datetime, anchor: datetime
    ) -> Iterator[datetime]:
        """Ticks in ``(after, until]``, latest first, in UTC; intervals count from ``anchor``."""
        if self.every is not None:
            step = self.every
            k = math.floor((until - anchor).total_seconds() / step)
            while k >= 1:
                tick = anchor + timedelta(seconds=k * step)
                if tick <= after:
                    return
                yield tick
                k -= 1
            return
        assert self.cron is not None
        zone = ZoneInfo(self.timezone)
        ticks = croniter(self.cron, until.astimezone(zone) + timedelta(microseconds=1))
        while True:
            previous: datetime = ticks.get_prev(datetime).astimezone(anchor.tzinfo)
            if previous <= after:
                return
            yield previous

    def next_tick(self, after: datetime, anchor: datetime) -> datetime:
        """The first tick after ``after``, in UTC."""
        if self.every is not None:
            k = math.floor((after - anchor).total_seconds() / self.every) + 1
            return anchor + timedelta(seconds=max(1, k) * self.every)
        assert self.cron is not None
        ticks = croniter(self.cron, after.astimezone(ZoneInfo(self.timezone)))
        result: datetime = ticks.get_next(datetime).astimezone(anchor.tzinfo)
        return result


def tick_run_id(schedule: str, tick: datetime) -> str:
    """The id of the run started for ``tick``: the same in every worker, so it starts once."""
    return f"{schedule}@{tick.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
