"""Acknowledged signals and cancels from another process survive transient store faults.

A worker process (:mod:`tests.reliability.message_worker`) runs 50 workflows.
This process is the client: it signals 40 of them and cancels 10, at random
moments while they run activities or wait, and notes each acknowledged call.
Meanwhile the worker's connection to the store keeps failing: the contract
suite's outage proxy cuts it (PostgreSQL, Redis, NATS) or another connection
holds the SQLite write lock past the worker's ``busy_timeout``. Afterwards
every acknowledged signal was delivered exactly once and every acknowledged
cancel was honoured, and no activity ran twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    Executor,
    RetryPolicy,
    Signal,
    WorkflowStatus,
    open_store,
)
from tests.reliability.targets import KINDS, Target, faulty_target

ROOT = Path(__file__).resolve().parents[2]
COUNT = 50
CANCEL_EVERY = 5
PATIENT = RetryPolicy(max_attempts=60, initial_interval=0.02, max_interval=0.25, jitter=0.1)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_acknowledged_messages_survive_transient_faults_of_the_owner(
    kind: str, tmp_path: Path
) -> None:
    async with faulty_target(kind, tmp_path) as target:
        side_effects = tmp_path / "side-effects.log"
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.reliability.message_worker",
            json.dumps(target.worker_spec),
            str(COUNT),
            str(side_effects),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            outcomes, worker_log = await _message_while_faulty(worker, target)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await _check(target.client_spec, outcomes, side_effects)
    retries = worker_log.count("trying again")
    assert retries > 0, "no fault reached the worker's writes:\n" + worker_log[-2000:]


async def _message_while_faulty(
    worker: asyncio.subprocess.Process, target: Target
) -> tuple[dict[str, Any], str]:
    assert worker.stdout is not None
    assert worker.stderr is not None
    errors = asyncio.create_task(worker.stderr.read())
    started = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert started.strip() == b"started", (started, await errors)
    done = asyncio.Event()
    faults = asyncio.create_task(target.faults(done))
    rng = random.Random(1)
    async with Executor(target.client_spec, store_retry=PATIENT, load_plugins=False) as client:

        async def message(i: int) -> None:
            await asyncio.sleep(rng.uniform(0, 1.2))
            if i % CANCEL_EVERY == 0:
                await client.cancel(f"m{i}")
            else:
                await client.signal(f"m{i}", Signal(name="go", payload={"i": i}))

        await asyncio.gather(*(message(i) for i in range(COUNT)))  # every call acknowledged
        await asyncio.sleep(0.5)  # faults go on while the worker takes the messages in
    done.set()
    await faults
    line = await asyncio.wait_for(worker.stdout.readline(), 120)
    await asyncio.wait_for(worker.wait(), 30)
    log = (await errors).decode(errors="replace")
    assert line, log[-3000:]
    outcomes: dict[str, Any] = json.loads(line)
    return outcomes, log


async def _check(spec: dict[str, Any], outcomes: dict[str, Any], side_effects: Path) -> None:
    lines = await asyncio.to_thread(side_effects.read_text, encoding="utf-8")
    ran = Counter(lines.split("\n")[:-1])
    assert max(ran.values()) == 1, f"activities ran twice: {[k for k, n in ran.items() if n > 1]}"
    store = open_store(spec)
    try:
        for i in range(COUNT):
            workflow_id = f"m{i}"
            state = await store.load(workflow_id)
            assert state is not None
            assert [e.id for e in state.history] == list(range(1, len(state.history) + 1))
            signals = [
                e.signal_payload for e in state.history if e.type is EventType.SIGNAL_RECEIVED
            ]
            steps = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
            assert steps == list(range(len(steps))), (workflow_id, steps)
            if i % CANCEL_EVERY == 0:
                assert outcomes[workflow_id] == ["canceled", None], (workflow_id, outcomes)
                assert state.status is WorkflowStatus.CANCELED
                assert state.history[-1].type is EventType.WORKFLOW_CANCELED
                assert signals == []
            else:
                assert outcomes[workflow_id] == ["completed", {"i": i}], (workflow_id, outcomes)
                assert state.status is WorkflowStatus.COMPLETED
                assert signals == [{"i": i}], (workflow_id, signals)
    finally:
        await store.close()
