"""Workflows that clients in other processes talk to: they wait for signals, or get canceled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowContext

__all__ = ["WORKFLOWS", "approval", "collector", "long_wait", "publisher"]


def _note(path: str, line: str) -> None:
    with Path(path).open("a", encoding="utf-8") as notes:
        notes.write(line + "\n")


async def approval(ctx: WorkflowContext, _: Any) -> Any:
    """Waits for one ``approve`` signal and returns its payload."""
    return await ctx.wait_for_signal("approve", timeout=120)


async def long_wait(ctx: WorkflowContext, notes: str) -> str:
    """Runs an activity that waits a long time, noting when it starts and if it is cancelled."""

    async def wait_long(workflow_id: str) -> str:
        _note(notes, f"started {workflow_id}")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            _note(notes, f"cancelled {workflow_id}")
            raise
        return "waited"

    return str(await ctx.execute_activity(wait_long, ctx.workflow_id, name="wait_long"))


async def collector(ctx: WorkflowContext, count: int) -> list[Any]:
    """Takes ``count`` ``item`` signals while it records a step between each two."""
    items: list[Any] = []
    while len(items) < count:
        items.append(await ctx.wait_for_signal("item", timeout=120))
        await ctx.execute_activity(len, items[-1:], name="step")
    return items


async def publisher(ctx: WorkflowContext, _: Any) -> Any:
    """Publishes a ``stage`` event before and after an ``approve`` signal."""
    await ctx.set_event("stage", "waiting")
    approver = await ctx.wait_for_signal("approve", timeout=120)
    await ctx.set_event("stage", f"approved by {approver}")
    return approver


WORKFLOWS = [approval, long_wait, collector, publisher]
"""What the worker processes register (as ``tests.reliability.client_app:<name>``)."""
