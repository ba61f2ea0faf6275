"""The program the crash tests start, kill with SIGKILL, and start again to recover.

    python -m tests.executor.crash_app SCENARIO start|recover sqlite|file STORE_DIR SIDE_EFFECTS

``start`` starts the scenario's workflow and runs it; ``recover`` calls
``Executor.recover()`` and runs what it resumed. Either prints the workflow's
result as JSON when it completes. Every activity appends one line to the side
effect file, so the test can count how often each one really ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from beluga_workflow.context import WorkflowContext
from beluga_workflow.executor import Executor
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.store import WorkflowStore
from tests.executor.file_store import FileStore

WORKFLOW_ID = "crash-test"
ACTIVITY_COUNT = 12
SLEEP_SECONDS = 3.0


def open_durable_store(kind: str, directory: str) -> WorkflowStore:
    """The SQLite provider's store (append and compare-and-save) or the file store (save only)."""
    os.makedirs(directory, exist_ok=True)
    if kind == "file":
        return FileStore(directory)
    from beluga_workflow_sqlite import SQLiteStore

    store: WorkflowStore = SQLiteStore(os.path.join(directory, "runs.db"))
    return store


def write_line(arguments: dict[str, Any]) -> str:
    """The activity (a plain function, run in a thread): note that it ran, take a moment."""
    with Path(arguments["side_effects"]).open("a", encoding="utf-8") as side_effects:
        side_effects.write(arguments["label"] + "\n")
    time.sleep(arguments.get("pause", 0.05))
    return str(arguments["label"])


async def many_activities(ctx: WorkflowContext, input: dict[str, Any]) -> list[str]:
    done = []
    for index in range(ACTIVITY_COUNT):
        step = {"side_effects": input["side_effects"], "label": f"step-{index}"}
        done.append(await ctx.execute_activity(write_line, step))
    return done


async def sleep_between(ctx: WorkflowContext, input: dict[str, Any]) -> list[str]:
    before = await ctx.execute_activity(
        write_line, {"side_effects": input["side_effects"], "label": "before", "pause": 0}
    )
    await ctx.sleep(SLEEP_SECONDS)
    after = await ctx.execute_activity(
        write_line, {"side_effects": input["side_effects"], "label": "after", "pause": 0}
    )
    return [before, after]


async def collect_signals(ctx: WorkflowContext, input: dict[str, Any]) -> list[Any]:
    await ctx.execute_activity(
        write_line, {"side_effects": input["side_effects"], "label": "first", "pause": 0}
    )
    items = []
    async for item in ctx.signals("item"):
        if item == "stop":
            break
        items.append(item)
        await ctx.execute_activity(
            write_line, {"side_effects": input["side_effects"], "label": item, "pause": 0}
        )
    return items


AWAIT_ROUNDS = 4
FILLER_RUNS = 200


async def _via_helper(ctx: WorkflowContext, side_effects: str, label: str) -> str:
    await asyncio.sleep(0.01)
    result: str = await ctx.execute_activity(
        write_line, {"side_effects": side_effects, "label": label, "pause": 0.01}
    )
    return result


async def plain_awaits(ctx: WorkflowContext, input: dict[str, Any]) -> list[str]:
    """Awaits outside the context between calls: none of them may look like divergence."""
    side_effects = input["side_effects"]
    done = []
    for index in range(AWAIT_ROUNDS):
        step = {"side_effects": side_effects, "label": f"step-{index}", "pause": 0.02}
        done.append(await ctx.execute_activity(write_line, step))
        await asyncio.sleep(0.05)
        await asyncio.to_thread(time.sleep, 0.01)
        done.append(await _via_helper(ctx, side_effects, f"helper-{index}"))
        same = {"side_effects": side_effects, "label": f"same-{index}", "pause": 0.02}
        done.extend(
            await asyncio.gather(
                ctx.execute_activity(write_line, same), ctx.execute_activity(write_line, same)
            )
        )
    return done


async def _echo(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


async def filler(ctx: WorkflowContext, input: int) -> None:
    """One of many runs replaying alongside: a few calls with plain awaits, then a long wait."""
    for index in range(3):
        await asyncio.sleep(0.001 * (input % 4))
        await ctx.execute_activity(_echo, [input, index])
    await ctx.wait_for_signal("never")


async def _patch_step(ctx: WorkflowContext, side_effects: str, label: str, pause: float) -> str:
    step = {"side_effects": side_effects, "label": label, "pause": pause}
    result: str = await ctx.execute_activity(write_line, step)
    return result


async def before_patch(ctx: WorkflowContext, input: dict[str, Any]) -> list[str]:
    """The code before a change: a, c, then b (slow: the kill comes while it runs)."""
    side_effects = input["side_effects"]
    done = [await _patch_step(ctx, side_effects, "a", 0)]
    done.append(await _patch_step(ctx, side_effects, "c", 0))
    done.append(await _patch_step(ctx, side_effects, "b", 1.0))
    return done


async def with_patch(ctx: WorkflowContext, input: dict[str, Any]) -> list[str]:
    """The same workflow with a step added behind a patch marker."""
    side_effects = input["side_effects"]
    done = [await _patch_step(ctx, side_effects, "a", 0)]
    if await ctx.patched("add-x"):
        done.append(await _patch_step(ctx, side_effects, "x", 0))
    done.append(await _patch_step(ctx, side_effects, "c", 0))
    done.append(await _patch_step(ctx, side_effects, "b", 1.0))
    return done


PATCHED_NAME = "patchable"
"""Both versions are registered under this name, as one workflow deployed twice."""

SCENARIOS = {
    "activities": many_activities,
    "sleep": sleep_between,
    "signal": collect_signals,
    "awaits": plain_awaits,
    "awaits-busy": plain_awaits,
    "before-patch": before_patch,
    "with-patch": with_patch,
}


async def main(scenario: str, action: str, kind: str, store_dir: str, side_effects: str) -> None:
    workflow = SCENARIOS[scenario]
    store = open_durable_store(kind, store_dir)
    # One worker id for the process that starts and the one that recovers: a worker
    # restarted under its id takes its runs back at once, without waiting for the lease.
    worker = Executor(
        store, workflows=[workflow, filler], load_plugins=False, worker_id="crash-app"
    )
    if scenario in ("before-patch", "with-patch"):
        worker.register(workflow, name=PATCHED_NAME)
    async with worker as executor:
        if action == "start":
            if scenario == "awaits-busy":  # these replay on the same loop on recovery
                for number in range(FILLER_RUNS):
                    options = WorkflowOptions(id=f"filler-{number}", input=number)
                    await executor.execute(filler, options)
            options = WorkflowOptions(id=WORKFLOW_ID, input={"side_effects": side_effects})
            patching = scenario in ("before-patch", "with-patch")
            handle = await executor.execute(PATCHED_NAME if patching else workflow, options)
        else:
            report = await executor.recover()
            (handle,) = [each for each in report.resumed if each.id == WORKFLOW_ID]
        result = await handle.result()
    await store.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
