"""A signal reaches a waiting run through the watch alone, on the real server.

The watch and the writes of the owner's store share its connection, and the
server delivers a write's notice there before the write's answer. Both
executors poll, and renew leases, once an hour: a signal that arrives at all
was pushed. The bound on each wait only stops a broken run from hanging.
"""

from __future__ import annotations

import asyncio
from typing import Any

from beluga_workflow import EventType, Signal, WorkflowContext, WorkflowOptions
from beluga_workflow.executor import Executor
from beluga_workflow_nats import NatsStore

NO_POLL = 3600.0
HANG = 20.0
LOOK = 0.05
SIGNALS = 10


async def takes_pings(ctx: WorkflowContext, count: int) -> list[Any]:
    return [await ctx.wait_for_signal("ping") for _ in range(count)]


def executor(store: NatsStore, worker_id: str) -> Executor:
    return Executor(
        store,
        load_plugins=False,
        poll_interval=NO_POLL,
        lease_duration=NO_POLL,
        worker_id=worker_id,
    )


async def test_every_signal_from_another_store_is_pushed_to_the_waiting_run(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as owner_store,
        NatsStore(nats_url, bucket=bucket) as client_store,
        executor(owner_store, "owner") as owner,
        executor(client_store, "client") as client,
    ):
        handle = await owner.execute(takes_pings, WorkflowOptions(id="w", input=SIGNALS))
        for n in range(SIGNALS):
            await client.signal("w", Signal(name="ping", payload=n))
            # The run took it (its next wait is stored) before the next one is sent.
            async with asyncio.timeout(HANG):
                while not await _took(client_store, n):
                    # The test's own look is bounded (a change may come before it waits).
                    await client.wait_for_change("w", LOOK)
        assert await asyncio.wait_for(handle.result(), HANG) == list(range(SIGNALS))


async def _took(store: NatsStore, n: int) -> bool:
    """Whether the run has stored the timer of the wait after signal ``n`` (or ended)."""
    state = await store.load("w")
    assert state is not None
    if state.status.is_terminal:
        return True
    types = [event.type for event in state.history]
    return (
        types.count(EventType.SIGNAL_RECEIVED) == n + 1
        and types.count(EventType.TIMER_STARTED) == n + 2
    )
