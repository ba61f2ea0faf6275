"""The worker process of the reliability tests: runs workflows that other processes message.

    python -m tests.reliability.message_worker STORE_SPEC_JSON COUNT SIDE_EFFECTS

It starts ``COUNT`` workflows ``m0`` .. ``m{COUNT-1}``, prints ``started``,
and runs them until each has finished, printing one JSON object of outcomes
(``{"m0": ["completed", payload], "m1": ["canceled", null], ...}``). Every
activity appends ``workflow-id step`` to ``SIDE_EFFECTS`` before it returns.
A workflow keeps recording steps until its signal (or a cancel) arrives.
The store retry is patient, so injected outages delay runs but never halt them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from beluga_workflow import (
    Executor,
    RetryPolicy,
    WorkflowCanceledError,
    WorkflowContext,
    WorkflowOptions,
    open_store,
)

MAX_STEPS = 400
PATIENT = RetryPolicy(max_attempts=60, initial_interval=0.02, max_interval=0.25, jitter=0.1)


def side_effect(arguments: dict[str, Any]) -> int:
    with Path(arguments["file"]).open("a", encoding="utf-8") as log:
        log.write(f"{arguments['id']} {arguments['step']}\n")
    return int(arguments["step"])


async def messaged(ctx: WorkflowContext, side_effects: str) -> Any:
    """Records a step and a short timed wait, again and again, until the signal comes.

    So the run writes all the time: messages race its writes, and faults meet them.
    """
    for step in range(MAX_STEPS):
        arguments = {"file": side_effects, "id": ctx.workflow_id, "step": step}
        await ctx.execute_activity(side_effect, arguments)
        try:
            return await ctx.wait_for_signal("go", timeout=0.05)
        except TimeoutError:
            await asyncio.sleep(0.005)  # an await outside the context, as real code has
    return "no signal came"


async def main(spec: dict[str, Any], count: int, side_effects: str) -> None:
    store = open_store(spec)
    async with Executor(store, store_retry=PATIENT, poll_interval=0.1, load_plugins=False) as ex:
        handles = [
            await ex.execute(messaged, WorkflowOptions(id=f"m{i}", input=side_effects))
            for i in range(count)
        ]
        print("started", flush=True)
        outcomes: dict[str, Any] = {}
        for handle in handles:
            try:
                outcomes[handle.id] = ["completed", await handle.result()]
            except WorkflowCanceledError:
                outcomes[handle.id] = ["canceled", None]
            except Exception as exc:
                outcomes[handle.id] = ["error", f"{type(exc).__name__}: {exc}"]
    await store.close()
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
