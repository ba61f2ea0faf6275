"""A second OS process for durability checks: ``python -m beluga_workflow_contract_tests.child``.

Reads one JSON order from stdin, opens the store with
:func:`beluga_workflow.open_store`, checks the states it must (or must not)
find, performs the saves and deletes it is told to, and prints one JSON line:
``{"problems": [...]}``. A crash exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from beluga_workflow import WorkflowState, open_store
from beluga_workflow_contract_tests.compare import first_difference

__all__ = ["main"]


async def carry_out(order: dict[str, Any]) -> list[str]:
    """Do what ``order`` says; return what this process found wrong."""
    problems: list[str] = []
    store = open_store(order["spec"])
    try:
        for text in order.get("expect", []):
            saved = WorkflowState.model_validate_json(text)
            loaded = await store.load(saved.workflow_id)
            if loaded is None:
                problems.append(f"load({saved.workflow_id!r}) returned None in another process")
            elif difference := first_difference(saved, loaded):
                problems.append(f"another process loaded a different state: {difference}")
        for workflow_id in order.get("absent", []):
            if await store.load(workflow_id) is not None:
                problems.append(f"another process still loaded the deleted id {workflow_id!r}")
        for text in order.get("save", []):
            await store.save(WorkflowState.model_validate_json(text))
        for workflow_id in order.get("delete", []):
            await store.delete(workflow_id)
    finally:
        await store.close()
    return problems


def main() -> None:
    """Entry point of the child process."""
    order = json.loads(sys.stdin.read())
    problems = asyncio.run(carry_out(order))
    print(json.dumps({"problems": problems}))


if __name__ == "__main__":
    main()
