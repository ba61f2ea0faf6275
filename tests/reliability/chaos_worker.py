"""A worker process for the reliability tests: claims and runs their workflows until killed.

    python -m tests.reliability.chaos_worker STORE_SPEC_JSON WORKER_ID SIDE_EFFECTS [LEASE]

It runs the workflows of :mod:`tests.reliability.chaos_app` and
:mod:`tests.reliability.client_app`.
Every activity appends ``workflow-id step worker-id`` to ``SIDE_EFFECTS``, so
the test can tell an activity run twice, and by whom. SIGTERM stops the
worker gracefully (its runs are handed back); SIGKILL is a crash.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from beluga_workflow import RetryPolicy, Worker
from tests.reliability import chaos_app, client_app

PATIENT = RetryPolicy(max_attempts=40, initial_interval=0.02, max_interval=0.25, jitter=0.1)


async def main(spec: dict[str, Any], worker_id: str, lease: float) -> None:
    worker = Worker(
        spec,
        workflows=[chaos_app.chaos, *client_app.WORKFLOWS],
        concurrency=10,
        worker_id=worker_id,
        lease_duration=lease,
        poll_interval=0.1,
        load_plugins=False,
        store_retry=PATIENT,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    chaos_app.WORKER_ID = sys.argv[2]
    lease_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    asyncio.run(main(json.loads(sys.argv[1]), chaos_app.WORKER_ID, lease_seconds))
