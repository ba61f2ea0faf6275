"""A worker process that never polls: every run it claims and signal it takes was pushed.

    python -m tests.reliability.push_worker STORE_SPEC_JSON

It prints ``ready``, then ``took N`` each time a run takes its ``ping``
signal ``N``, and works until SIGTERM. Its poll interval and its lease are an
hour long, so neither a poll nor a lease renewal finds anything for it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from beluga_workflow import Worker, WorkflowContext

PINGS = "push-worker-pings"
"""The name the workflow is registered under (the same in every process)."""
NEVER = 3600.0


async def takes_pings(ctx: WorkflowContext, count: int) -> int:
    for _ in range(count):
        n = await ctx.wait_for_signal("ping")
        if not ctx.is_replaying:
            print(f"took {n}", flush=True)
    return count


async def main(spec: dict[str, Any]) -> None:
    worker = Worker(
        spec, poll_interval=NEVER, lease_duration=NEVER, worker_id="pushed", load_plugins=False
    )
    worker.executor.register(takes_pings, PINGS)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
