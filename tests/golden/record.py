"""Write the golden history files of the example workflows: ``python -m tests.golden.record``.

Each file is one finished (or waiting) run of an example, recorded by the
engine; ``tests/golden/test_golden_histories.py`` replays them against the
current code, so a change to an example that would break runs in progress
fails the tests. Re-record only for a deliberate, patched change.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from beluga_workflow.executor import Executor
from beluga_workflow.models import Signal
from beluga_workflow.options import WorkflowOptions
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.replaying import save_history

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import order_approval  # noqa: E402
import seed  # noqa: E402

WORKFLOWS: dict[str, Any] = {
    "order_approval:order_workflow": order_approval.order_workflow,
    "seed:my_workflow": seed.my_workflow,
}
"""Stored workflow names of the examples, as the golden files name them."""

_ORDER = {"order_id": "G-1", "amount": 42, "cooling_off": 0.05}


async def _record() -> None:
    store = InMemoryStore()
    executor = Executor(store, load_plugins=False)
    for name, fn in WORKFLOWS.items():
        executor.register(fn, name=name)
    approved = await executor.execute(
        "order_approval:order_workflow",
        WorkflowOptions(id="order-approved", input={**_ORDER, "approval_timeout": 30}),
    )
    await asyncio.sleep(0.5)
    await executor.signal("order-approved", Signal(name="approval", payload={"approved": True}))
    await approved.result()
    timed_out = await executor.execute(
        "order_approval:order_workflow",
        WorkflowOptions(
            id="order-timed-out", input={**_ORDER, "order_id": "G-2", "approval_timeout": 0.1}
        ),
    )
    await timed_out.result()
    waiting = await executor.execute(
        "order_approval:order_workflow",
        WorkflowOptions(
            id="order-waiting", input={**_ORDER, "order_id": "G-3", "approval_timeout": 3600}
        ),
    )
    await asyncio.sleep(0.6)
    hello = await executor.execute("seed:my_workflow", WorkflowOptions(id="seed", input="hello"))
    await hello.result()
    for workflow_id in ("order-approved", "order-timed-out", "order-waiting", "seed"):
        state = await store.load(workflow_id)
        assert state is not None
        save_history(state, HERE / f"{workflow_id}.json")
    del waiting
    await executor.close()


if __name__ == "__main__":
    asyncio.run(_record())
