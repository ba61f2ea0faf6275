"""A worker is SIGKILLed mid-activity; the worker that takes the run over gets its last details."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from beluga_workflow import open_store
from beluga_workflow.heartbeats import HEARTBEATS
from tests.lifecycle.test_id_race import APP, ROOT, run_app

COUNT = 40


async def stored_details(spec: dict[str, Any]) -> int:
    store = open_store(spec)
    try:
        state = await store.load("copy")
    finally:
        await store.close()
    if state is None:
        return 0
    beats = state.metadata.get(HEARTBEATS, {})
    return max((int(beat["details"]) for beat in beats.values()), default=0)


async def test_the_attempt_after_a_killed_worker_starts_from_the_last_heartbeat(
    shared_spec: dict[str, Any], tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    arguments = {
        "workflow": "long_copy",
        "id": "copy",
        "input": {"side_effects": str(side_effects), "count": COUNT},
    }
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
        for _ in range(600):
            if await stored_details(shared_spec) >= 5:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no heartbeat details were stored")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    durable = await stored_details(shared_spec)
    done_before = side_effects.read_text(encoding="utf-8").splitlines()
    assert len(done_before) >= durable >= 5

    result = await run_app("recover", shared_spec, arguments)

    assert result == {"start": durable, "attempt": 1}  # the killed attempt never ended
    lines = side_effects.read_text(encoding="utf-8").splitlines()
    assert lines[len(done_before) :] == [f"item {index}" for index in range(durable, COUNT)]
    assert done_before[:durable] == [f"item {index}" for index in range(durable)]
