"""The workflow of the chaos tests, importable by the worker processes and the test alike."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowContext

__all__ = ["NAME", "STEPS", "chaos", "side_effect"]

WORKER_ID = "?"
"""Set by the worker process that imports this module: whose side effect a line is."""

STEPS = 4


def side_effect(arguments: dict[str, Any]) -> int:
    with Path(arguments["file"]).open("a", encoding="utf-8") as log:
        log.write(f"{arguments['id']} {arguments['step']} {WORKER_ID}\n")
    time.sleep(arguments.get("pause", 0.02))
    return int(arguments["step"])


async def chaos(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    """Activities, a durable timer and a signal: what a crash can interrupt."""
    done = []
    for step in range(STEPS):
        arguments = {**input, "id": ctx.workflow_id, "step": step}
        if step == 0 and "first_pause" in input:
            arguments["pause"] = input["first_pause"]
        done.append(await ctx.execute_activity(side_effect, arguments))
        if step == 1:
            await ctx.sleep(0.2)
    go = await ctx.wait_for_signal("go", timeout=120)
    last = await ctx.execute_activity(side_effect, {**input, "id": ctx.workflow_id, "step": STEPS})
    return {"steps": done, "go": go, "last": last}


NAME = f"{__name__}:chaos"
"""The name the workers register ``chaos`` under, and clients submit it by."""
