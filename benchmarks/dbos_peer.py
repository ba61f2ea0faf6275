"""The same 100-step workflow on DBOS Transact, run in its own process.

DBOS is a process-wide singleton, so each backend gets a fresh process. Prints
one JSON line: the seconds each run of ``--workflows`` workflows took.
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
async def small_step(i: int) -> dict[str, Any]:
    return {"step": i, "ok": True}


@DBOS.workflow()
async def sequential_steps(steps: int) -> int:
    for i in range(steps):
        await small_step(i)
    return steps


async def main(args: argparse.Namespace) -> list[float]:
    DBOS.launch()
    await sequential_steps(args.steps)  # warm up
    runs = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for _ in range(args.workflows):
            await sequential_steps(args.steps)
        runs.append(time.perf_counter() - started)
    return runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    arguments = parser.parse_args()
    logging.disable(logging.INFO)
    config: DBOSConfig = {"name": "beluga-bench", "system_database_url": arguments.url}
    DBOS(config=config)
    try:
        print(json.dumps(asyncio.run(main(arguments))))
    finally:
        DBOS.destroy()
