"""The workflow and worker process of the multi-process queue and schedule tests.

    python -m tests.queues.queue_app STORE_SPEC_JSON WORKER_ID LOG_FILE QUEUES_JSON [--schedules]

Every activity appends ``start|end workflow-id epoch-seconds worker-id run-id`` to
``LOG_FILE`` (one ``write`` per line, in append mode: lines from several
processes never mix), so the test can compute the largest overlap of runs.
SIGTERM stops the worker gracefully; SIGKILL is a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

from beluga_workflow import Queue, RetryPolicy, Worker, WorkflowContext

NAME = "queue-job"
PATIENT = RetryPolicy(max_attempts=40, initial_interval=0.02, max_interval=0.25, jitter=0.1)
LOG_FILE = ""
WORKER_ID = ""


def note(event: str, workflow_id: str, run_id: str) -> None:
    line = f"{event} {workflow_id} {time.time():.6f} {WORKER_ID} {run_id}\n".encode()
    fd = os.open(LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


async def job(ctx: WorkflowContext, input: Any) -> Any:
    pause = float((input or {}).get("pause", 0.1))

    async def work(_: Any) -> str:
        note("start", ctx.workflow_id, ctx.run_id)
        await asyncio.sleep(pause)
        note("end", ctx.workflow_id, ctx.run_id)
        return ctx.workflow_id

    return await ctx.execute_activity(work, input, name="work")


def _wait_for(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.01)


async def main(spec: dict[str, Any], queues: list[dict[str, Any]], schedules: bool) -> None:
    worker = Worker(
        spec,
        queues=[Queue.model_validate(queue) for queue in queues],
        concurrency=20,
        worker_id=WORKER_ID,
        lease_duration=1.0,
        poll_interval=0.05,
        load_plugins=False,
        store_retry=PATIENT,
        **({"schedules": True} if schedules else {}),
    )
    worker.executor.register(job, NAME)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", flush=True)
    gate = os.environ.get("QUEUE_TEST_GATE")
    if gate:  # all workers begin together, once the test opens the gate
        await asyncio.to_thread(_wait_for, gate)
    await worker.run()


if __name__ == "__main__":
    WORKER_ID = sys.argv[2]
    LOG_FILE = sys.argv[3]
    asyncio.run(main(json.loads(sys.argv[1]), json.loads(sys.argv[4]), "--schedules" in sys.argv))
