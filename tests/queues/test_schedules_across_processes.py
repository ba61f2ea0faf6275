"""Schedules across worker processes on SQLite and PostgreSQL: one run per tick, catch-up.

Three worker processes (:mod:`tests.queues.queue_app`, ``--schedules``) tick
one schedule every second for 15 s; one is SIGKILLed half-way. Every tick
then has exactly one run: its id names the tick, and the activities' log shows
one run id per tick. A second test stops every worker for a few seconds and
checks what each catch-up policy starts for the ticks that passed meanwhile.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from beluga_workflow import (
    CatchUp,
    Schedule,
    ScheduleBook,
    WorkflowState,
    WorkflowStatus,
    open_store,
)
from beluga_workflow.system_records import without_system_records
from tests.queues.processes import QueueWorkers, run_ids
from tests.queues.queue_app import NAME
from tests.reliability.targets import faulty_target

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _runs_of(spec: dict[str, object], schedule: str) -> list[WorkflowState]:
    store = open_store(spec)
    try:
        states = without_system_records(await store.list())
    finally:
        await store.close()
    return sorted(
        (s for s in states if s.metadata.get("schedule") == schedule),
        key=lambda s: s.workflow_id,
    )


def _tick(state: WorkflowState) -> datetime:
    return datetime.fromisoformat(str(state.metadata["tick"]))


async def test_a_schedule_starts_one_run_per_tick_while_a_worker_is_killed(
    kind: str, tmp_path: Path
) -> None:
    log = tmp_path / "activities.log"
    async with faulty_target(kind, tmp_path) as target:
        workers = QueueWorkers(target.client_spec, log, schedules=True)
        store = open_store(target.client_spec)
        try:
            for _ in range(3):
                await workers.start()
            workers.open_gate()
            book = ScheduleBook(store)
            created = await book.create(
                Schedule(
                    name="every-second",
                    workflow=NAME,
                    input={"pause": 0.0},
                    cron="* * * * * *",  # six fields: the last is seconds
                    catch_up=CatchUp.SKIP,  # a tick found late would be lost: none may be
                    late_after=1.5,
                )
            )
            await asyncio.sleep(7)
            await workers.kill("w2")
            await asyncio.sleep(8)
            await book.pause("every-second")
            ended = (await book.get("every-second")).last_tick
            await asyncio.sleep(2)  # the last runs finish
        finally:
            await workers.stop_all()
            await store.close()
        runs = await _runs_of(target.client_spec, "every-second")
    ticks = [_tick(s) for s in runs]
    first = created.last_tick.replace(microsecond=0) + timedelta(seconds=1)
    expected = [
        first + timedelta(seconds=i) for i in range(int((ended - first).total_seconds()) + 1)
    ]
    assert ticks == expected  # every tick, once, and nothing else
    assert len(ticks) >= 13
    assert all(s.status is WorkflowStatus.COMPLETED for s in runs)
    ran = run_ids(log)
    assert all(len(ran[s.workflow_id]) == 1 for s in runs)  # no tick's run was replaced


async def test_catch_up_policies_after_an_outage(kind: str, tmp_path: Path) -> None:
    log = tmp_path / "activities.log"
    names = {policy: f"catch-{policy.value}" for policy in CatchUp}
    async with faulty_target(kind, tmp_path) as target:
        store = open_store(target.client_spec)
        workers = QueueWorkers(target.client_spec, log, schedules=True)
        try:
            book = ScheduleBook(store)
            for policy, name in names.items():
                await book.create(
                    Schedule(
                        name=name,
                        workflow=NAME,
                        input={"pause": 0.0},
                        every=0.5,
                        catch_up=policy,
                        max_catch_up=3,
                        late_after=0.3,
                    )
                )
            await asyncio.sleep(4)  # the outage: no worker runs, 8 ticks pass
            await workers.start()
            workers.open_gate()
            back = datetime.now(UTC)
            await asyncio.sleep(2.5)
            for name in names.values():
                await book.pause(name)
            await asyncio.sleep(1)
        finally:
            await workers.stop_all()
            await store.close()
        found = {policy: await _runs_of(target.client_spec, name) for policy, name in names.items()}
    for policy, runs in found.items():
        caught_up = [s for s in runs if s.metadata["caught_up"]]
        on_time = [s for s in runs if not s.metadata["caught_up"]]
        assert len(on_time) >= 3, policy  # ticks after the outage all start
        assert all(_tick(s) > back - timedelta(seconds=0.3) for s in on_time), policy
        expected = {CatchUp.SKIP: 0, CatchUp.ONCE: 1, CatchUp.ALL: 3}[policy]
        assert len(caught_up) == expected, (policy, [s.workflow_id for s in caught_up])
        if caught_up:  # the latest missed ticks, right before the first on-time one
            ticks = sorted(_tick(s) for s in runs)
            assert ticks[expected - 1] - ticks[0] == timedelta(seconds=0.5 * (expected - 1))
            assert max(_tick(s) for s in caught_up) < back
            assert ticks[expected] - ticks[expected - 1] == timedelta(seconds=0.5)
        assert all(s.status is WorkflowStatus.COMPLETED for s in runs)
