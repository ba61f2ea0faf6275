"""Many worker processes on one store, killed at random: no run lost, none run twice at once.

The client (this process) submits workflows by name; three worker processes
(:mod:`tests.reliability.chaos_worker`) claim and run them, and the test
SIGKILLs a random worker again and again and starts a new one. Afterwards
every workflow completed with the right result, no event was recorded twice,
and an activity ran again only when the worker that ran it first was killed.
A paused worker (SIGSTOP past its lease) that wakes up writes nothing more
for the run another worker took over.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    Executor,
    RetryPolicy,
    Signal,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowStatus,
    open_store,
)
from tests.reliability.chaos_app import NAME, STEPS
from tests.reliability.targets import KINDS, faulty_target

ROOT = Path(__file__).resolve().parents[2]
COUNT = 100
LEASE = 1.0
PATIENT = RetryPolicy(max_attempts=40, initial_interval=0.02, max_interval=0.25, jitter=0.1)


class Workers:
    """Worker processes on one store: started, killed and counted by the test."""

    def __init__(self, spec: dict[str, Any], side_effects: Path) -> None:
        self.spec = spec
        self.side_effects = side_effects
        self.live: dict[str, asyncio.subprocess.Process] = {}
        self.killed: set[str] = set()
        self._count = 0

    async def start(self, *, wait: bool = True) -> str:
        """Start a worker; with ``wait``, return once it is ready to claim."""
        self._count += 1
        worker_id = f"w{self._count}"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.reliability.chaos_worker",
            json.dumps(self.spec),
            worker_id,
            str(self.side_effects),
            str(LEASE),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert process.stdout is not None
        self.live[worker_id] = process
        if wait:
            ready = await asyncio.wait_for(process.stdout.readline(), 60)
            assert ready.strip() == b"ready"
        return worker_id

    async def kill(self, worker_id: str) -> None:
        process = self.live.pop(worker_id)
        process.kill()
        await process.wait()
        self.killed.add(worker_id)

    async def stop_all(self) -> None:
        for process in self.live.values():
            process.send_signal(signal.SIGTERM)
        for process in self.live.values():
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        self.live.clear()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_workers_killed_at_random_lose_nothing_and_never_run_a_step_twice_at_once(
    kind: str, tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    async with faulty_target(kind, tmp_path) as target:
        workers = Workers(target.client_spec, side_effects)
        rng = random.Random(5)
        try:
            for _ in range(3):
                await workers.start()
            async with Executor(target.client_spec, load_plugins=False, store_retry=PATIENT) as c:
                given = {"file": str(side_effects), "pause": 0.25}

                async def kill_now_and_then() -> None:
                    for _ in range(4):  # a random worker that holds runs; a new one instead
                        await asyncio.sleep(rng.uniform(0.3, 0.6))
                        holders = await _holders(c, workers)
                        await workers.kill(rng.choice(holders or sorted(workers.live)))
                        await workers.start(wait=False)

                killing = asyncio.create_task(kill_now_and_then())  # while runs take steps
                handles = [
                    await c.submit(NAME, WorkflowOptions(id=f"c{i}", input=given))
                    for i in range(COUNT)
                ]
                await killing
                for i in range(COUNT):
                    await c.signal(f"c{i}", Signal(name="go", payload=i))
                results = await asyncio.wait_for(
                    asyncio.gather(*(handle.result() for handle in handles)), 90
                )
        finally:
            await workers.stop_all()
        expected = [{"steps": list(range(STEPS)), "go": i, "last": STEPS} for i in range(COUNT)]
        assert results == expected
        await _check_histories(target.client_spec)
    twice, taken_over = _steps_run_twice(side_effects, workers.killed)
    print(f"{len(workers.killed)} killed; {taken_over} runs taken over; {twice} steps ran again")
    assert taken_over > 0, "no run changed hands: the kills proved nothing"


async def _holders(client: Executor, workers: Workers) -> list[str]:
    """The live workers that hold leases on running runs now."""
    running = await client.store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
    owners = {state.lease.owner for state in running if state.lease is not None}
    return sorted(owners & set(workers.live))


async def _check_histories(spec: dict[str, Any]) -> None:
    store = open_store(spec)
    try:
        for i in range(COUNT):
            state = await store.load(f"c{i}")
            assert state is not None
            assert state.status is WorkflowStatus.COMPLETED
            assert [e.id for e in state.history] == list(range(1, len(state.history) + 1))
            completed = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
            assert completed == list(range(STEPS + 1)), (state.workflow_id, completed)
            signals = [e for e in state.history if e.type is EventType.SIGNAL_RECEIVED]
            assert len(signals) == 1
    finally:
        await store.close()


def _steps_run_twice(side_effects: Path, killed: set[str]) -> tuple[int, int]:
    """Steps that ran more than once, and runs whose steps more than one worker ran.

    Each earlier run of a step that ran again must be by a worker that was killed,
    or by one that lost the run's lease while the step ran (it stopped the run, as
    its write was fenced: a busy worker can miss renewing a one-second lease).
    """
    halted_log = side_effects.with_name(side_effects.name + ".halted")
    halted = set()
    if halted_log.exists():
        halted = {tuple(line.split()) for line in halted_log.read_text("utf-8").splitlines()}
    runs: dict[tuple[str, str], list[str]] = {}
    workers_of: dict[str, set[str]] = {}
    for line in side_effects.read_text(encoding="utf-8").splitlines():
        workflow_id, step, worker_id = line.split()
        runs.setdefault((workflow_id, step), []).append(worker_id)
        workers_of.setdefault(workflow_id, set()).add(worker_id)
    again = 0
    for key, by in runs.items():
        for earlier in by[:-1]:
            lost_lease = (key[0], earlier) in halted
            assert earlier in killed or lost_lease, (
                f"step {key} ran again though {earlier} was alive and kept its lease: {by}"
            )
        again += len(by) - 1
    return again, sum(1 for by in workers_of.values() if len(by) > 1)
