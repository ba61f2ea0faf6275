"""Schedule rules in one process: ticks, catch-up policies, pause/resume, the book, bad input.

Exactly-once across processes is proven in
:mod:`tests.queues.test_schedules_across_processes`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from beluga_workflow import (
    CatchUp,
    InvalidArgumentError,
    Schedule,
    ScheduleBook,
    WorkflowFilter,
    WorkflowNotFoundError,
    WorkflowStatus,
)
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.schedules.book import ScheduleEntry
from beluga_workflow.schedules.ticker import ScheduleTicker, due_ticks

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def entry(catch_up: CatchUp, last: datetime, **extra: object) -> ScheduleEntry:
    schedule = Schedule(
        name="s", workflow="w", every=1.0, catch_up=catch_up, late_after=0.5, **extra
    )
    return ScheduleEntry(schedule=schedule, anchor=T0, last_tick=last)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (CatchUp.SKIP, [20]),
        (CatchUp.ONCE, [19, 20]),
        (CatchUp.ALL, [15, 16, 17, 18, 19, 20]),  # the latest 5 missed, then 20
    ],
)
def test_catch_up_after_ten_missed_seconds(policy: CatchUp, expected: list[int]) -> None:
    now = T0 + timedelta(seconds=20.2)  # ticks 11..19 missed, 20 is on time
    on_time, caught_up, latest = due_ticks(
        entry(policy, T0 + timedelta(seconds=10), max_catch_up=5), now
    )
    assert on_time == [T0 + timedelta(seconds=20)]
    assert caught_up + on_time == [T0 + timedelta(seconds=s) for s in expected]
    assert latest == T0 + timedelta(seconds=20)


def test_nothing_is_due_before_the_next_tick() -> None:
    on_time, caught_up, latest = due_ticks(
        entry(CatchUp.ALL, T0 + timedelta(seconds=3)), T0 + timedelta(seconds=3.9)
    )
    assert on_time == caught_up == []
    assert latest is None


def test_cron_ticks_follow_the_time_zone_across_a_change_of_clocks() -> None:
    schedule = Schedule(name="s", workflow="w", cron="0 9 * * *", timezone="Europe/Berlin")
    before = schedule.next_tick(datetime(2026, 3, 27, 12, tzinfo=UTC), T0)
    after = schedule.next_tick(before, T0)  # clocks go forward on 29 March 2026
    assert (before.day, before.hour) == (28, 8)  # 9:00 CET is 8:00 UTC
    assert (after.day, after.hour) == (29, 7)  # 9:00 CEST is 7:00 UTC


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "s", "workflow": "w"},
        {"name": "s", "workflow": "w", "every": 1, "cron": "* * * * *"},
        {"name": "s", "workflow": "w", "cron": "not cron"},
        {"name": "s", "workflow": "w", "every": 0},
        {"name": "s", "workflow": "w", "every": 1, "timezone": "Mars/Olympus"},
        {"name": "", "workflow": "w", "every": 1},
    ],
)
def test_bad_schedules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Schedule(**bad)  # type: ignore[arg-type]


async def test_the_book_creates_lists_pauses_resumes_and_deletes() -> None:
    store = InMemoryStore()
    book = ScheduleBook(store)
    await book.create(Schedule(name="b", workflow="w", every=60))
    await book.create(Schedule(name="a", workflow="w", cron="0 * * * *"))
    with pytest.raises(InvalidArgumentError):
        await book.create(Schedule(name="a", workflow="w", every=5))
    assert [e.schedule.name for e in await book.list()] == ["a", "b"]
    assert (await book.pause("a")).paused
    assert (await book.get("a")).paused
    resumed = await book.resume("a")
    assert not resumed.paused
    await book.delete("a")
    await book.delete("a")  # a no-op
    assert [e.schedule.name for e in await book.list()] == ["b"]
    with pytest.raises(WorkflowNotFoundError):
        await book.pause("a")
    assert await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING)) == []


async def test_a_tick_starts_one_run_however_many_tickers_reach_it() -> None:
    store = InMemoryStore()
    book = ScheduleBook(store)
    await book.create(Schedule(name="s", workflow="w", every=0.2, catch_up=CatchUp.ALL))
    entry = (await book.list())[0]
    tickers = [ScheduleTicker(store) for _ in range(3)]
    import asyncio

    await asyncio.sleep(0.45)
    for ticker in tickers:
        await ticker.tick()
    runs = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
    ids = sorted(r.workflow_id for r in runs)
    assert len(ids) == 2
    assert (
        ids[0] == f"s@{(entry.anchor + timedelta(seconds=0.2)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    )
    assert all(r.workflow_name == "w" for r in runs)
    await book.pause("s")
    await asyncio.sleep(0.45)
    await tickers[0].tick()
    assert len(await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))) == 2
    await book.resume("s")  # the ticks of the pause are not caught up
    await tickers[0].tick()
    assert len(await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))) == 2
