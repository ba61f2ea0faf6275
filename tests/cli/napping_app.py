"""A workflow whose one activity is a plain blocking function, for the stop-signal tests.

``nap`` writes ``$NAP_MARKER`` when it starts, then sleeps ``$NAP_SECONDS``
(default: the workflow input), so a test can stop the process mid-activity
and resume the run later with a short nap.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from beluga_workflow import WorkflowContext


def nap(seconds: float) -> float:
    Path(os.environ["NAP_MARKER"]).write_text("napping\n")
    time.sleep(float(os.environ.get("NAP_SECONDS", seconds)))
    return seconds


async def napping_workflow(ctx: WorkflowContext, seconds: float) -> dict[str, Any]:
    slept = await ctx.execute_activity(nap, seconds)
    return {"slept": slept}
