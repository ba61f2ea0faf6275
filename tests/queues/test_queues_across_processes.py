"""Queue limits across three worker processes on PostgreSQL, Redis and SQLite.

SQLite goes through the queue boards; PostgreSQL and Redis through their own
queue entries (``queue_dispatch``).

The client (this process) puts runs on five queues before the workers start;
three worker processes (:mod:`tests.queues.queue_app`) serve all five at once.
Every activity logs its start and end with the time, so the test reads the
largest overlap of runs actually in progress, not what the engine believes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import Executor, QueueOptions, WorkflowOptions
from tests.queues.processes import QueueWorkers, max_overlap, read_log
from tests.queues.queue_app import NAME, PATIENT
from tests.reliability.targets import faulty_target

QUEUES: list[dict[str, Any]] = [
    {"name": "global", "concurrency": 3},
    {"name": "keyed", "concurrency": 10, "key_concurrency": 1},
    {"name": "rated", "rate": {"limit": 3, "period": 1.0}},
    {"name": "ordered", "concurrency": 1},
    {"name": "dedup"},
]


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _submit(client: Executor, workflow_id: str, pause: float, **queue: Any) -> Any:
    options = WorkflowOptions(id=workflow_id, input={"pause": pause}, queue=QueueOptions(**queue))
    return await client.submit(NAME, options)


async def test_queue_limits_hold_across_three_worker_processes(kind: str, tmp_path: Path) -> None:
    log = tmp_path / "activities.log"
    async with (
        faulty_target(kind, tmp_path) as target,
        Executor(target.client_spec, load_plugins=False, store_retry=PATIENT) as c,
    ):
        handles = [await _submit(c, f"g-{i}", 0.15, name="global") for i in range(15)]
        handles += [
            await _submit(c, f"k-{who}-{i}", 0.1, name="keyed", key=who)
            for i in range(4)
            for who in ("ann", "bob", "cy")
        ]
        handles += [await _submit(c, f"r-{i}", 0.0, name="rated") for i in range(9)]
        handles += [
            await _submit(c, f"p-low-{i}", 0.02, name="ordered", priority=9) for i in range(3)
        ]
        handles += [
            await _submit(c, f"p-high-{i}", 0.02, name="ordered", priority=1) for i in range(3)
        ]
        deduplicated = [
            await c.submit(
                NAME,
                WorkflowOptions(
                    input={"pause": 0.3}, queue=QueueOptions(name="dedup", dedup_key="once")
                ),
            )
            for _ in range(4)
        ]
        workers = QueueWorkers(target.client_spec, log, QUEUES)
        try:
            for _ in range(3):
                await workers.start()
            workers.open_gate()
            await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles + deduplicated)), 60
            )
        finally:
            await workers.stop_all()
    entries = read_log(log)
    starts = [e for e in entries if e[0] == "start"]
    assert len({e[3] for e in starts}) > 1, "one worker ran everything: nothing was shared"

    assert max_overlap(entries, "g-") == 3  # the global limit is reached and never passed
    for who in ("ann", "bob", "cy"):
        assert max_overlap(entries, f"k-{who}-") == 1
    assert max_overlap(entries, "k-") > 1

    rated = sorted(e[2] for e in starts if e[1].startswith("r-"))
    assert len(rated) == 9
    for first, fourth in zip(rated, rated[3:], strict=False):
        assert fourth - first >= 0.8, rated  # 1 s window; the rest is dispatch-to-activity lag

    ordered = [e[1] for e in sorted(starts, key=lambda e: e[2]) if e[1].startswith("p-")]
    assert ordered[:3] == ["p-high-0", "p-high-1", "p-high-2"]
    assert max_overlap(entries, "p-") == 1

    assert len({h.id for h in deduplicated}) == 1
    assert [e[1] for e in starts if e[1] == deduplicated[0].id] == [deduplicated[0].id]


async def test_a_killed_worker_never_lets_more_runs_through(kind: str, tmp_path: Path) -> None:
    """Slots belong to runs: a dead worker's runs are taken over inside their slots."""
    log = tmp_path / "activities.log"
    async with (
        faulty_target(kind, tmp_path) as target,
        Executor(target.client_spec, load_plugins=False, store_retry=PATIENT) as c,
    ):
        handles = [await _submit(c, f"s-{i}", 0.6, name="slots") for i in range(10)]
        workers = QueueWorkers(target.client_spec, log, [{"name": "slots", "concurrency": 2}])
        try:
            for _ in range(3):
                await workers.start()
            workers.open_gate()
            await asyncio.sleep(1.0)
            busy = [w for w in sorted(workers.live) if _unfinished(read_log(log), w)]
            victim = busy[0]
            await workers.kill(victim)
            killed_at = time.time()
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)
        finally:
            await workers.stop_all()
    entries = read_log(log)
    open_runs = _unfinished(entries, victim)
    closed = entries + [("end", workflow_id, killed_at, victim) for workflow_id in open_runs]
    assert open_runs, "the killed worker was in no activity: the kill proved nothing"
    assert max_overlap(closed, "s-") <= 2
    assert {e[1] for e in entries if e[0] == "end"} == {f"s-{i}" for i in range(10)}


def _unfinished(entries: list[tuple[str, str, float, str]], worker: str) -> list[str]:
    """Activities ``worker`` started and never ended (it was killed in them)."""
    started = [e[1] for e in entries if e[0] == "start" and e[3] == worker]
    ended = [e[1] for e in entries if e[0] == "end" and e[3] == worker]
    for workflow_id in ended:
        started.remove(workflow_id)
    return started
