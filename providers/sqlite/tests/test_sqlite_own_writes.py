"""A run on a SQLite file does not read itself back for its own writes.

A write of this store reaches its watchers at once and is found again by
their poll of the ``changes`` table. Told twice, the run takes the second
notice for another process's write and reads its whole state back, so each
step costs more as the history grows. Counting the loads of a run that
steps through many polls shows it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from beluga_workflow import Executor, WorkflowContext, WorkflowOptions, WorkflowState
from beluga_workflow_sqlite import SQLiteStore
from beluga_workflow_sqlite.config import SQLiteConfig

STEPS = 60
POLL = 0.01


async def pause(n: int) -> int:
    await asyncio.sleep(POLL)  # a poll or so per step
    return n


async def steps(ctx: WorkflowContext, count: int) -> int:
    for n in range(count):
        await ctx.execute_activity(pause, n)
    return count


class CountingStore(SQLiteStore):
    def __init__(self, config: SQLiteConfig) -> None:
        super().__init__(config=config)
        self.loads = 0

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.loads += 1
        return await super().load(workflow_id)


async def test_a_run_stepping_through_many_polls_never_reads_itself_back(tmp_path: Path) -> None:
    store = CountingStore(SQLiteConfig(path=str(tmp_path / "runs.db"), watch_interval=POLL))
    async with Executor(store=store, workflows=[steps], load_plugins=False) as executor:
        handle = await executor.execute(steps, WorkflowOptions(id="own", input=STEPS))
        loaded_at_start = store.loads
        assert await handle.result() == STEPS
        read_backs = store.loads - loaded_at_start
    # The watch's first notice says "re-read anything": one read back at most.
    assert read_backs <= 1, f"{read_backs} loads during {STEPS} steps of its own"
