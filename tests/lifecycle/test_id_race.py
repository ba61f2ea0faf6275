"""Several processes start one id at the same moment: exactly one run exists, run once."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowFilter, open_store

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.lifecycle.lifecycle_app"
PROCESSES = 5


async def run_app(command: str, spec: dict[str, Any], arguments: dict[str, Any]) -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        APP,
        command,
        json.dumps(spec),
        json.dumps(arguments),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


async def test_processes_racing_to_start_one_id_end_up_with_one_run(
    shared_spec: dict[str, Any], tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    arguments = {"id": "raced", "side_effects": str(side_effects), "go_at": time.time() + 4}
    answers = await asyncio.gather(
        *(run_app("race", shared_spec, arguments) for _ in range(PROCESSES))
    )

    run_ids = {answer["run_id"] for answer in answers}
    assert len(run_ids) == 1, answers
    (run_id,) = run_ids
    assert all(answer["result"] == run_id for answer in answers)
    assert side_effects.read_text(encoding="utf-8").splitlines() == [run_id]
    store = open_store(shared_spec)
    try:
        stored = await store.list(WorkflowFilter())
    finally:
        await store.close()
    assert [(state.workflow_id, state.run_id) for state in stored] == [("raced", run_id)]


async def test_processes_racing_to_start_one_id_that_reject_duplicates_leave_one_winner(
    shared_spec: dict[str, Any], tmp_path: Path
) -> None:
    side_effects = tmp_path / "side-effects.log"
    arguments = {
        "id": "rejected",
        "side_effects": str(side_effects),
        "go_at": time.time() + 4,
        "policy": "reject_duplicate",
    }
    answers = await asyncio.gather(
        *(run_app("race", shared_spec, arguments) for _ in range(PROCESSES))
    )

    winners = [answer for answer in answers if "run_id" in answer]
    assert len(winners) == 1, answers
    assert sum(1 for answer in answers if answer.get("refused")) == PROCESSES - 1
    assert side_effects.read_text(encoding="utf-8").splitlines() == [winners[0]["run_id"]]
