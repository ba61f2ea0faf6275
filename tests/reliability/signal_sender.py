"""A client process that sends signals to one workflow, then exits.

    python -m tests.reliability.signal_sender STORE_SPEC_JSON ID FIRST COUNT

It sends ``item`` signals with payloads ``FIRST`` .. ``FIRST + COUNT - 1`` to
workflow ``ID`` and exits once every one was acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from beluga_workflow import Client, RetryPolicy

PATIENT = RetryPolicy(max_attempts=40, initial_interval=0.02, max_interval=0.25, jitter=0.1)


async def main(spec: dict[str, Any], workflow_id: str, first: int, count: int) -> None:
    async with Client(spec, load_plugins=False, store_retry=PATIENT) as client:
        for item in range(first, first + count):
            await client.signal(workflow_id, "item", item)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
