"""DBOS Transact's queue: the same one-step workflow through a queue with a concurrency limit.

Runs in a process of its own (DBOS is a process-wide singleton). Prints one
JSON line: the seconds each batch of ``--runs`` enqueued workflows took to
finish, enqueueing included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from typing import Any

from dbos import DBOS, DBOSConfig


@DBOS.step()
async def one_step(i: int) -> dict[str, Any]:
    return {"step": i, "ok": True}


@DBOS.workflow()
async def queued_job(i: int) -> int:
    await one_step(i)
    return i


async def main(args: argparse.Namespace) -> list[float]:
    DBOS.launch()
    queue = await DBOS.register_queue_async(
        "bench", global_concurrency=args.concurrency, polling_interval_sec=args.poll
    )
    await (await queue.enqueue_async(queued_job, -1)).get_result()  # warm up
    batches = []
    for _ in range(args.batches):
        started = time.perf_counter()
        handles = [await queue.enqueue_async(queued_job, i) for i in range(args.runs)]
        for handle in handles:
            await handle.get_result()
        batches.append(time.perf_counter() - started)
    return batches


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--batches", type=int, default=1)
    arguments = parser.parse_args()
    logging.disable(logging.INFO)
    config: DBOSConfig = {"name": "beluga-bench-queue", "system_database_url": arguments.url}
    DBOS(config=config)
    try:
        print(json.dumps(asyncio.run(main(arguments))))
    finally:
        DBOS.destroy()
