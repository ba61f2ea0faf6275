"""The seed example: one workflow on the in-memory store.

Run it with ``python examples/seed.py``; it prints ``Result: processed: hello``.
"""

import asyncio
from typing import Any

from beluga_workflow import Executor, WorkflowContext, WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore


async def my_workflow(ctx: WorkflowContext, input: Any) -> str:
    return f"processed: {input}"


async def main() -> None:
    executor = Executor(store=InMemoryStore())
    handle = await executor.execute(my_workflow, WorkflowOptions(id="test-wf-1", input="hello"))
    print("Result:", await handle.result())


if __name__ == "__main__":
    asyncio.run(main())
