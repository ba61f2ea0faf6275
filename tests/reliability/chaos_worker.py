"""A worker process for the reliability tests: claims and runs their workflows until killed.

    python -m tests.reliability.chaos_worker STORE_SPEC_JSON WORKER_ID SIDE_EFFECTS [LEASE]

It runs the workflows of :mod:`tests.reliability.chaos_app` and
:mod:`tests.reliability.client_app`.
Every activity appends ``workflow-id step worker-id`` to ``SIDE_EFFECTS``, so
the test can tell an activity run twice, and by whom; every run the worker
stops because it could not write it (its lease was taken over, or the store
failed) is appended as ``workflow-id worker-id`` to ``SIDE_EFFECTS.halted``.
SIGTERM stops the
worker gracefully (its runs are handed back); SIGKILL is a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
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


class _HaltLog(logging.Handler):
    """Notes the runs the executor stopped because it could not write them."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.WARNING)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "workflow %s stopped in worker %s: %s" and isinstance(record.args, tuple):
            with self.path.open("a", encoding="utf-8") as log:
                log.write(f"{record.args[0]} {record.args[1]}\n")


if __name__ == "__main__":
    logging.getLogger("beluga_workflow.executor").addHandler(
        _HaltLog(Path(sys.argv[3] + ".halted"))
    )
    chaos_app.WORKER_ID = sys.argv[2]
    lease_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    asyncio.run(main(json.loads(sys.argv[1]), chaos_app.WORKER_ID, lease_seconds))
