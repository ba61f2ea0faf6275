"""The program the lifecycle tests start in processes of their own (and kill with SIGKILL).

    python -m tests.lifecycle.lifecycle_app COMMAND SPEC_JSON ARGUMENTS_JSON

Every activity appends a line to the side-effect file named in the arguments,
so the test can count how often each one really ran. Results are printed as
one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from beluga_workflow import Executor, WorkflowContext, WorkflowOptions

__all__ = ["WORKFLOWS", "note"]


def note(arguments: dict[str, Any]) -> str:
    """An activity: write one line to the side-effect file."""
    with Path(arguments["side_effects"]).open("a", encoding="utf-8") as side_effects:
        side_effects.write(arguments["label"] + "\n")
    return str(arguments["label"])


async def started_once(ctx: WorkflowContext, side_effects: str) -> str:
    """Notes its run id once; several processes race to start it under one id."""
    return await ctx.execute_activity(note, {"side_effects": side_effects, "label": ctx.run_id})


WORKFLOWS = [started_once]


async def race(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    async with Executor(spec, workflows=WORKFLOWS, load_plugins=False) as executor:
        await asyncio.sleep(max(0.0, arguments["go_at"] - time.time()))
        options = WorkflowOptions(id=arguments["id"], input=arguments["side_effects"])
        handle = await executor.execute(started_once, options)
        return {"run_id": handle.run_id, "result": await handle.result()}


COMMANDS = {"race": race}


def main() -> None:
    command, spec, arguments = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    print(json.dumps(asyncio.run(COMMANDS[command](spec, arguments))), flush=True)


if __name__ == "__main__":
    main()
