"""Listing by status stays true to what is stored while writers race, on the real server.

Two stores (two connections) race saves, status changes and deletes of the
same ids; afterwards every stored state must be listed under its status, in
list order, and nothing else.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow_nats import NatsStore, front

BASE = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = (WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED)


def _state(name: str, status: WorkflowStatus) -> WorkflowState:
    created = BASE + timedelta(seconds=int(name.rsplit("-", 1)[1]))
    return WorkflowState(workflow_id=name, status=status, created_at=created)


async def _truth(store: NatsStore, ids: list[str], status: WorkflowStatus) -> list[str]:
    """The ids stored with ``status``, in list order, as loads tell."""
    loaded = [state for state in await asyncio.gather(*map(store.load, ids)) if state is not None]
    wanted = [state for state in loaded if state.status == status]
    return [s.workflow_id for s in sorted(wanted, key=lambda s: (s.created_at, s.workflow_id))]


async def _listed(store: NatsStore, status: WorkflowStatus, limit: int = 0) -> list[str]:
    return [s.workflow_id for s in await store.list(WorkflowFilter(status=status, limit=limit))]


async def test_a_delete_racing_a_save_never_leaves_a_stored_state_unlisted(
    nats_url: str, bucket: str
) -> None:
    ids = [f"race-{n}" for n in range(8)]
    async with (
        NatsStore(nats_url, bucket=bucket) as saver,
        NatsStore(nats_url, bucket=bucket) as deleter,
    ):
        for _ in range(25):
            await asyncio.gather(
                *(saver.save(_state(i, WorkflowStatus.RUNNING)) for i in ids),
                *(deleter.delete(i) for i in ids),
            )
            stored = await _truth(saver, ids, WorkflowStatus.RUNNING)
            assert await _listed(deleter, WorkflowStatus.RUNNING) == stored
            assert await _listed(deleter, WorkflowStatus.RUNNING, limit=3) == stored[:3]


@pytest.mark.parametrize("capacity", [front.CAPACITY, 3])
async def test_racing_status_changes_keep_the_first_of_each_status_listed_in_order(
    nats_url: str, bucket: str, capacity: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small page makes the racing writes cross its bound, and lists rebuild it.
    monkeypatch.setattr(front, "CAPACITY", capacity)
    ids = [f"flip-{n}" for n in range(12)]
    rng = random.Random(7)
    async with (
        NatsStore(nats_url, bucket=bucket) as one,
        NatsStore(nats_url, bucket=bucket) as two,
    ):
        for _ in range(20):
            calls = []
            for workflow_id, store in itertools.product(ids, (one, two)):
                if rng.random() < 0.15:
                    calls.append(store.delete(workflow_id))
                else:
                    calls.append(store.save(_state(workflow_id, rng.choice(STATUSES))))
            await asyncio.gather(*calls)
            for status in STATUSES:
                stored = await _truth(one, ids, status)
                assert await _listed(two, status, limit=4) == stored[:4]
                assert await _listed(one, status) == stored
