"""A workflow of three steps for the ``resume`` and ``fork`` command tests.

Each step appends its name to ``$REPAIR_SIDE_EFFECTS``; step ``b`` fails while
the file ``$REPAIR_BROKEN`` exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from beluga_workflow import RetryPolicy, WorkflowContext


def step(label: str) -> str:
    if label == "b" and Path(os.environ["REPAIR_BROKEN"]).exists():
        raise RuntimeError("b is broken")
    with Path(os.environ["REPAIR_SIDE_EFFECTS"]).open("a", encoding="utf-8") as side_effects:
        side_effects.write(label + "\n")
    return label


async def three_steps(ctx: WorkflowContext, _: Any) -> list[str]:
    once = RetryPolicy(max_attempts=1)
    return [await ctx.execute_activity(step, label, retry=once) for label in ("a", "b", "c")]
