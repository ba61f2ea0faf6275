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

from beluga_workflow import (
    Executor,
    IdReusePolicy,
    RetryPolicy,
    WorkflowAlreadyExistsError,
    WorkflowContext,
    WorkflowOptions,
    activity,
)

__all__ = ["WORKFLOWS", "note"]


def note(arguments: dict[str, Any]) -> str:
    """An activity: write one line to the side-effect file."""
    with Path(arguments["side_effects"]).open("a", encoding="utf-8") as side_effects:
        side_effects.write(arguments["label"] + "\n")
    return str(arguments["label"])


async def started_once(ctx: WorkflowContext, side_effects: str) -> str:
    """Notes its run id once; several processes race to start it under one id."""
    return await ctx.execute_activity(note, {"side_effects": side_effects, "label": ctx.run_id})


async def copy_items(arguments: dict[str, Any]) -> dict[str, Any]:
    """An activity that resumes where the last heartbeat of an earlier attempt left off."""
    info = activity.info()
    start = info.heartbeat_details or 0
    for index in range(start, arguments["count"]):
        note({"side_effects": arguments["side_effects"], "label": f"item {index}"})
        activity.heartbeat(index + 1)
        await asyncio.sleep(0.05)
    return {"start": start, "attempt": info.attempt}


async def long_copy(ctx: WorkflowContext, arguments: dict[str, Any]) -> Any:
    """One long activity that heartbeats its progress."""
    return await ctx.execute_activity(
        copy_items, arguments, heartbeat_timeout=5, retry=RetryPolicy(max_attempts=3)
    )


async def child_steps(ctx: WorkflowContext, side_effects: str) -> str:
    """Two steps with a durable pause between them (when the test kills the process)."""
    await ctx.execute_activity(note, {"side_effects": side_effects, "label": "child 1"})
    await ctx.sleep(1.5)
    return await ctx.execute_activity(note, {"side_effects": side_effects, "label": "child 2"})


async def parent_of_one(ctx: WorkflowContext, side_effects: str) -> list[str]:
    """A step, a child it waits for, a step."""
    first = await ctx.execute_activity(note, {"side_effects": side_effects, "label": "parent 1"})
    result = await ctx.execute_child(child_steps, side_effects)
    last = await ctx.execute_activity(note, {"side_effects": side_effects, "label": "parent 2"})
    return [first, result, last]


WORKFLOWS = [started_once, long_copy, child_steps, parent_of_one]


async def race(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    async with Executor(spec, workflows=WORKFLOWS, load_plugins=False) as executor:
        await asyncio.sleep(max(0.0, arguments["go_at"] - time.time()))
        options = WorkflowOptions(
            id=arguments["id"],
            input=arguments["side_effects"],
            id_reuse=IdReusePolicy(arguments.get("policy", "use_existing")),
        )
        try:
            handle = await executor.execute(started_once, options)
        except WorkflowAlreadyExistsError:
            return {"refused": True}
        return {"run_id": handle.run_id, "result": await handle.result()}


async def start(spec: dict[str, Any], arguments: dict[str, Any]) -> Any:
    """Start ``arguments["workflow"]`` here and wait for its result (or to be killed)."""
    async with Executor(spec, workflows=WORKFLOWS, load_plugins=False, lease_duration=1.0) as ex:
        options = WorkflowOptions(id=arguments["id"], input=arguments["input"])
        workflow = {fn.__name__: fn for fn in WORKFLOWS}[arguments["workflow"]]
        handle = await ex.execute(workflow, options)
        return await handle.result()


async def recover(spec: dict[str, Any], arguments: dict[str, Any]) -> Any:
    """Take runs over as their leases run out, until run ``arguments["id"]`` has a result."""
    async with Executor(spec, workflows=WORKFLOWS, load_plugins=False, lease_duration=1.0) as ex:
        claims = asyncio.create_task(_keep_claiming(ex))
        try:
            return await (await ex.get_handle(arguments["id"])).result()
        finally:
            claims.cancel()


async def _keep_claiming(executor: Executor) -> None:
    while True:
        await executor.recover()
        await asyncio.sleep(0.1)


COMMANDS = {"race": race, "start": start, "recover": recover}


def main() -> None:
    command, spec, arguments = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    print(json.dumps(asyncio.run(COMMANDS[command](spec, arguments))), flush=True)


if __name__ == "__main__":
    main()
