"""Workflows for the pinning tests: each step logs which build ran it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowContext


def _build() -> str:
    return os.environ.get("BELUGA_WORKFLOW_BUILD_ID", "none")


async def note(line: str) -> str:
    """Append ``line`` and this process's build to the log named by ``$PINNING_LOG``."""
    with Path(os.environ["PINNING_LOG"]).open("a") as log:  # noqa: ASYNC230 - one short line
        log.write(f"{_build()} {line}\n")
    return _build()


async def two_steps(ctx: WorkflowContext, input: Any) -> list[str]:
    """One step, a wait for signal ``go``, another step: a deploy can land in between."""
    first = await ctx.execute_activity(note, f"first {ctx.workflow_id}")
    await ctx.wait_for_signal("go")
    second = await ctx.execute_activity(note, f"second {ctx.workflow_id}")
    return [first, second]
