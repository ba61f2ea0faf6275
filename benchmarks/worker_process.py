"""A worker process for the workers benchmarks: claims and runs the benchmark workflows.

    python -m benchmarks.worker_process STORE_SPEC_JSON --worker-id ID [--lease S]
        [--poll S] [--concurrency N]

It prints ``ready`` once its worker is built, then works until SIGTERM (its
runs are handed back) or SIGKILL (the crash whose takeover is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from beluga_workflow import Worker
from benchmarks.workflows import LATENCY_WORKFLOWS, sequential_steps, waits


async def main(args: argparse.Namespace) -> None:
    worker = Worker(
        json.loads(args.store),
        workflows=[sequential_steps, waits, *LATENCY_WORKFLOWS],
        concurrency=args.concurrency,
        worker_id=args.worker_id,
        lease_duration=args.lease,
        poll_interval=args.poll,
        load_plugins=False,
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", flush=True)
    await worker.run()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker_process")
    parser.add_argument("store", help="the store's configuration, as JSON")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lease", type=float, default=10.0, help="lease duration, seconds")
    parser.add_argument("--poll", type=float, default=0.1, help="poll interval, seconds")
    parser.add_argument("--concurrency", type=int, default=50)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
