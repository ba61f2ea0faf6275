"""The status index on the real server: one entry per status held, extras skipped, old records."""

from __future__ import annotations

import json

import nats
import pytest

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.store import key_of

RUNNING = WorkflowFilter(status=WorkflowStatus.RUNNING)
COMPLETED = WorkflowFilter(status=WorkflowStatus.COMPLETED)


async def _entries(store: NatsStore) -> set[str]:
    """The index's live keys."""
    await store._buckets()
    return {k for k in await store._scan(store._index_bucket, ">") if not k.startswith("_front.")}


async def test_a_status_change_moves_the_entry_and_a_step_writes_none(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = WorkflowState(workflow_id="w", status=WorkflowStatus.RUNNING)
        await store.save(state)
        assert await _entries(store) == {f"running.{key_of('w')}"}
        assert store._index is not None
        before = (await store._index.status()).values
        await store.append(state, 0)  # the same status: the index is not written
        assert (await store._index.status()).values == before

        await store.append(state.model_copy(update={"status": WorkflowStatus.COMPLETED}), 0)

        assert await _entries(store) == {f"completed.{key_of('w')}"}
        assert await store.list(RUNNING) == []
        assert [s.workflow_id for s in await store.list(COMPLETED)] == ["w"]


async def test_listing_by_status_skips_an_entry_whose_record_moved_on(
    nats_url: str, bucket: str
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        await store.save(WorkflowState(workflow_id="done", status=WorkflowStatus.COMPLETED))
        await store.save(WorkflowState(workflow_id="busy", status=WorkflowStatus.RUNNING))
        assert store._index is not None
        # An extra entry, as a write that lost its compare-and-set leaves behind.
        extra = json.dumps({"id": "done", "created": "1970-01-01T00:00:00.000000+00:00"})
        await store._index.put(f"running.{key_of('done')}", extra.encode())

        listed = await store.list(RUNNING)

        assert [s.workflow_id for s in listed] == ["busy"]


async def test_delete_removes_the_entries(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        await store.save(WorkflowState(workflow_id="w", status=WorkflowStatus.RUNNING))
        await store.delete("w")
        assert await _entries(store) == set()
        assert await store.list(RUNNING) == []


@pytest.mark.parametrize("status", [WorkflowStatus.RUNNING, WorkflowStatus.FAILED])
async def test_records_stored_before_the_index_existed_are_listed(
    nats_url: str, bucket: str, status: WorkflowStatus
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in range(3):
            await store.save(WorkflowState(workflow_id=f"w{n}", status=status))
    client = await nats.connect(nats_url)
    try:
        await client.jetstream().delete_key_value(f"{bucket}-status")  # the earlier layout
    finally:
        await client.close()

    async with NatsStore(nats_url, bucket=bucket) as reopened:
        listed = await reopened.list(WorkflowFilter(status=status, limit=2))

    assert [s.workflow_id for s in listed] == ["w0", "w1"]
