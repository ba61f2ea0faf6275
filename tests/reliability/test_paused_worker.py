"""A worker paused past its lease (SIGSTOP) and woken again (SIGCONT) writes nothing more.

Worker A claims a run and starts its slow first activity; the test stops A
with SIGSTOP for longer than its lease. Worker B takes the run over, runs it
(the first activity again: it was in flight) and finishes it. Then A is woken
with SIGCONT: its activity ends and it tries to record it, but its write is
refused (B holds the run now, and then nobody) and A stops the run. The
stored run is exactly as B left it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from beluga_workflow import EventType, Executor, Signal, WorkflowOptions, WorkflowStatus
from tests.reliability.chaos_app import NAME, STEPS
from tests.reliability.targets import KINDS, faulty_target
from tests.reliability.test_many_workers import LEASE, PATIENT, Workers


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _has_line(path: Path, line: str) -> bool:
    return path.exists() and line in path.read_text(encoding="utf-8").splitlines()


async def _wait_for_line(path: Path, line: str) -> None:
    for _ in range(600):
        if await asyncio.to_thread(_has_line, path, line):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{line!r} never appeared in {path}")


async def test_a_paused_worker_that_wakes_up_writes_nothing_for_a_run_taken_over(
    kind: str, tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    async with faulty_target(kind, tmp_path) as target:
        workers = Workers(target.client_spec, side_effects)
        paused = await workers.start()
        try:
            async with Executor(target.client_spec, load_plugins=False, store_retry=PATIENT) as c:
                given = {"file": str(side_effects), "first_pause": 3 * LEASE}
                handle = await c.submit(NAME, WorkflowOptions(id="p", input=given))
                await _wait_for_line(side_effects, f"p 0 {paused}")
                workers.live[paused].send_signal(signal.SIGSTOP)
                await asyncio.sleep(1.5 * LEASE)  # its lease runs out
                taker = await workers.start()
                await _wait_for_line(side_effects, f"p {STEPS - 1} {taker}")
                await c.signal("p", Signal(name="go", payload="on"))
                result = await asyncio.wait_for(handle.result(), 30)
                finished = await c.store.load("p")

                workers.live[paused].send_signal(signal.SIGCONT)
                await asyncio.sleep(3 * LEASE + 1)  # its activity ends, it tries to record it
                after = await c.store.load("p")
        finally:
            await workers.stop_all()
    assert result == {"steps": list(range(STEPS)), "go": "on", "last": STEPS}
    assert finished is not None
    assert finished.status is WorkflowStatus.COMPLETED
    assert after == finished, "the woken worker changed the run another worker finished"
    completed = [e.result for e in finished.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert completed == list(range(STEPS + 1))
    lines = (await asyncio.to_thread(side_effects.read_text, encoding="utf-8")).splitlines()
    assert [line for line in lines if line.endswith(f" {paused}")] == [f"p 0 {paused}"]
