"""A real crash: a child process running a workflow is killed with SIGKILL, another recovers it.

Each runs on two durable stores: SQLite (which appends each step) and a file
store kept for these tests (which only saves whole states). Each activity
appends a line to a side-effect file, which shows what really ran: everything
finished before the kill runs exactly once, and at most the activity in flight
at the kill runs twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, Signal, WorkflowState, WorkflowStatus, utc_now
from tests.executor.crash_app import ACTIVITY_COUNT, SLEEP_SECONDS, WORKFLOW_ID, open_durable_store

ROOT = Path(__file__).resolve().parents[2]
KILL_TIMEOUT = 20.0


@pytest.fixture(params=["sqlite", "file"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def _start(
    scenario: str, action: str, kind: str, store_dir: Path, side_effects: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.executor.crash_app",
            scenario,
            action,
            kind,
            str(store_dir),
            str(side_effects),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _lines(side_effects: Path) -> list[str]:
    if not side_effects.exists():
        return []
    return side_effects.read_text(encoding="utf-8").splitlines()


def _wait_until(condition: object, what: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + KILL_TIMEOUT
    while not condition():  # type: ignore[operator]
        if process.poll() is not None:
            pytest.fail(
                f"the child exited before {what}: {process.stderr.read() if process.stderr else ''}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def _finish(process: subprocess.Popen[str]) -> object:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


async def _maybe_stored(kind: str, store_dir: Path) -> WorkflowState | None:
    store = open_durable_store(kind, str(store_dir))
    try:
        return await store.load(WORKFLOW_ID)
    finally:
        await store.close()


def _stored(kind: str, store_dir: Path) -> WorkflowState:
    state = asyncio.run(_maybe_stored(kind, store_dir))
    assert state is not None
    return state


@pytest.mark.parametrize("kill_after", [1, 6, 11])
def test_killed_workflow_resumes_without_rerunning_finished_activities(
    tmp_path: Path, store_kind: str, kill_after: int
) -> None:
    store_dir, side_effects = tmp_path / "store", tmp_path / "side-effects.txt"
    child = _start("activities", "start", store_kind, store_dir, side_effects)
    _wait_until(lambda: len(_lines(side_effects)) >= kill_after, f"{kill_after} activities", child)
    _kill(child)
    ran_before_kill = _lines(side_effects)
    assert _stored(store_kind, store_dir).status is WorkflowStatus.RUNNING

    result = _finish(_start("activities", "recover", store_kind, store_dir, side_effects))

    expected = [f"step-{index}" for index in range(ACTIVITY_COUNT)]
    assert result == expected
    runs = Counter(_lines(side_effects))
    assert set(runs) == set(expected)
    repeated = [label for label, count in runs.items() if count > 1]
    assert len(repeated) <= 1, runs
    if repeated:  # only the activity in flight at the kill may have run twice
        assert runs[repeated[0]] == 2
        assert repeated[0] == ran_before_kill[-1]
    state = _stored(store_kind, store_dir)
    assert state.status is WorkflowStatus.COMPLETED
    completed = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert completed == expected


def test_durable_sleep_waits_only_the_remaining_time_after_a_crash(
    tmp_path: Path, store_kind: str
) -> None:
    store_dir, side_effects = tmp_path / "store", tmp_path / "side-effects.txt"
    child = _start("sleep", "start", store_kind, store_dir, side_effects)

    def timer_stored() -> bool:
        state = _stored(store_kind, store_dir) if _lines(side_effects) else None
        return state is not None and state.history[-1].type is EventType.TIMER_STARTED

    _wait_until(timer_stored, "the timer to be stored", child)
    time.sleep(SLEEP_SECONDS / 2)  # let part of the sleep pass before the crash
    _kill(child)
    recovery_began = utc_now()

    assert _finish(_start("sleep", "recover", store_kind, store_dir, side_effects)) == [
        "before",
        "after",
    ]

    assert Counter(_lines(side_effects)) == {"before": 1, "after": 1}
    state = _stored(store_kind, store_dir)
    (started,) = [e for e in state.history if e.type is EventType.TIMER_STARTED]
    (fired,) = [e for e in state.history if e.type is EventType.TIMER_FIRED]
    assert started.fire_at is not None
    assert fired.timestamp >= started.fire_at  # never early
    # Sleeping the whole duration again would fire no sooner than this (half of it is
    # left for the recovering process to start, however busy the machine):
    assert fired.timestamp < recovery_began + timedelta(seconds=SLEEP_SECONDS)


def test_signal_sent_while_no_process_runs_the_workflow_is_delivered_once(
    tmp_path: Path, store_kind: str
) -> None:
    store_dir, side_effects = tmp_path / "store", tmp_path / "side-effects.txt"
    child = _start("signal", "start", store_kind, store_dir, side_effects)

    def waiting_for_signals() -> bool:
        state = _stored(store_kind, store_dir) if _lines(side_effects) else None
        # A signal wait is recorded as a timer of no duration, naming the signal.
        return state is not None and state.history[-1].signal_name == "item"

    _wait_until(waiting_for_signals, "the signal wait to be stored", child)
    _kill(child)

    async def send_while_stopped() -> None:
        store = open_durable_store(store_kind, str(store_dir))
        async with Executor(store, load_plugins=False) as executor:
            for payload in ("a", "b", "stop"):
                await executor.signal(WORKFLOW_ID, Signal(name="item", payload=payload))
        await store.close()

    asyncio.run(send_while_stopped())
    assert _finish(_start("signal", "recover", store_kind, store_dir, side_effects)) == ["a", "b"]
    assert Counter(_lines(side_effects)) == {"first": 1, "a": 1, "b": 1}
    state = _stored(store_kind, store_dir)
    received = [e.signal_payload for e in state.history if e.type is EventType.SIGNAL_RECEIVED]
    assert received == ["a", "b", "stop"]
