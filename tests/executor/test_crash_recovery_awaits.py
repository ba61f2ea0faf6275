"""SIGKILL at many points of a workflow that awaits things outside its context, then recover.

Plain ``asyncio.sleep``, ``asyncio.to_thread``, helper coroutines and a gather
of identical activities sit between the calls; the recovering process must
replay them without calling it divergence, also while two hundred other runs
replay on the same event loop.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from beluga_workflow.models import WorkflowStatus
from tests.executor.crash_app import AWAIT_ROUNDS
from tests.executor.test_crash_recovery import (
    _finish,
    _kill,
    _lines,
    _start,
    _stored,
    _wait_until,
)

EXPECTED = [
    label
    for index in range(AWAIT_ROUNDS)
    for label in (f"step-{index}", f"helper-{index}", f"same-{index}", f"same-{index}")
]


def _crash_and_recover(scenario: str, kind: str, kill_after: int, tmp_path: Path) -> None:
    store_dir, side_effects = tmp_path / "store", tmp_path / "side-effects.txt"
    child = _start(scenario, "start", kind, store_dir, side_effects)
    _wait_until(lambda: len(_lines(side_effects)) >= kill_after, f"{kill_after} steps", child)
    _kill(child)
    before = Counter(_lines(side_effects))

    assert _finish(_start(scenario, "recover", kind, store_dir, side_effects)) == EXPECTED
    state = _stored(kind, store_dir)
    assert state.status is WorkflowStatus.COMPLETED
    after = Counter(_lines(side_effects))
    wanted = Counter(EXPECTED)
    for label, count in after.items():
        assert count >= wanted[label]
    # Only what was in flight at the kill ran again: at most the two identical calls.
    assert sum(after.values()) - sum(wanted.values()) <= 2
    assert set(before) <= set(after)


@pytest.mark.parametrize("kind", ["sqlite", "file"])
@pytest.mark.parametrize("kill_after", [1, 3, 5, 8, 11, 14])
def test_plain_awaits_recover_after_sigkill_at_many_points(
    tmp_path: Path, kind: str, kill_after: int
) -> None:
    _crash_and_recover("awaits", kind, kill_after, tmp_path)


@pytest.mark.parametrize("kill_after", [2, 7, 13])
def test_plain_awaits_recover_while_two_hundred_runs_replay_on_the_same_loop(
    tmp_path: Path, kill_after: int
) -> None:
    _crash_and_recover("awaits-busy", "sqlite", kill_after, tmp_path)
