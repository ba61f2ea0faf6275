"""A parent's process is SIGKILLed while its child runs; another worker finishes both.

The child's activities ran once, the child was started once, and the parent's
replay was handed the recorded start instead of starting another child.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from beluga_workflow import EventType, WorkflowStatus, open_store
from beluga_workflow.children import START_STEP
from beluga_workflow.models import WorkflowState
from tests.lifecycle.test_id_race import APP, ROOT, run_app


async def load_all(spec: dict[str, Any]) -> list[WorkflowState]:
    store = open_store(spec)
    try:
        return list(await store.list())
    finally:
        await store.close()


def completed(state: WorkflowState, label: str) -> bool:
    return any(
        event.type is EventType.ACTIVITY_COMPLETED and event.result == label
        for event in state.history
    )


async def test_a_child_runs_its_steps_once_across_a_killed_parent(
    shared_spec: dict[str, Any], tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    arguments = {"workflow": "parent_of_one", "id": "parent", "input": str(side_effects)}
    first = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        APP,
        "start",
        json.dumps(shared_spec),
        json.dumps(arguments),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # the child recorded its first step and sleeps durably
            states = await load_all(shared_spec)
            if any(s.workflow_id != "parent" and completed(s, "child 1") for s in states):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the child never recorded its first step")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()

    result = await run_app("recover", shared_spec, arguments)

    assert result == ["parent 1", "child 2", "parent 2"]
    assert side_effects.read_text(encoding="utf-8").splitlines() == [
        "parent 1",
        "child 1",
        "child 2",
        "parent 2",
    ]
    states = {state.workflow_id: state for state in await load_all(shared_spec)}
    assert len(states) == 2  # the parent and its one child
    parent = states.pop("parent")
    (child,) = states.values()
    assert child.status is WorkflowStatus.COMPLETED
    starts = [e for e in parent.history if e.activity_name == START_STEP]
    assert [e.type for e in starts] == [EventType.ACTIVITY_STARTED, EventType.ACTIVITY_COMPLETED]
