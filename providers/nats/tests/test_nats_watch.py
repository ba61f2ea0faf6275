"""``watch`` on the real server: an ordered consumer on the meta stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import nats
import pytest

from beluga_workflow import EventType, HistoryEvent, StoreClosedError, WorkflowState
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.watching import next_notice, watching
from beluga_workflow_nats import NatsStore

BOUND = 2.0
"""Seconds a notice may take in these tests; it takes milliseconds."""


async def notices_until(watch: AsyncIterator[str | None], last: str | None) -> list[str | None]:
    """The notices up to the first ``last``, included."""
    told = [await next_notice(watch)]
    while told[-1] != last:
        told.append(await next_notice(watch))
    return told


def _event(position: int) -> HistoryEvent:
    return HistoryEvent(id=position, type=EventType.TIMER_FIRED)


async def test_a_refused_write_and_a_write_in_another_namespace_give_no_notice(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as store,
        NatsStore(nats_url, bucket=bucket + "_nested") as other,
        watching(store) as watch,
    ):
        await other.save(WorkflowState(workflow_id="elsewhere"))
        with contextlib.suppress(Exception):
            await store.compare_and_save(WorkflowState(workflow_id="refused"), 5)
        await store.save(WorkflowState(workflow_id="here"))
        assert await next_notice(watch) == "here"


async def test_closing_the_store_ends_the_watch(nats_url: str, bucket: str) -> None:
    store = NatsStore(nats_url, bucket=bucket)
    watch = store.watch()
    assert await next_notice(watch) is None
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, BOUND)
    with pytest.raises(StoreClosedError):
        await anext(store.watch())


async def test_closing_the_watch_removes_its_consumer(nats_url: str, bucket: str) -> None:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        async with NatsStore(nats_url, bucket=bucket) as store:
            async with watching(store):
                assert (await js.stream_info(f"KV_{bucket}-meta")).state.consumer_count == 1
            assert (await js.stream_info(f"KV_{bucket}-meta")).state.consumer_count == 0
    finally:
        await client.close()


async def test_a_long_hashed_id_is_told_on_every_write_and_on_its_delete(
    nats_url: str, bucket: str
) -> None:
    workflow_id = "🐳/" * 200  # too long for a reversible key
    async with (
        NatsStore(nats_url, bucket=bucket) as writer,
        NatsStore(nats_url, bucket=bucket) as reader,
        watching(reader) as watch,
    ):
        await writer.save(WorkflowState(workflow_id=workflow_id))
        assert await next_notice(watch) == workflow_id
        await writer.delete(workflow_id)
        assert await next_notice(watch) == workflow_id


async def test_after_a_cut_connection_the_watcher_says_so_then_sees_later_writes(
    nats_url: str, bucket: str
) -> None:
    target = urlsplit(nats_url)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 4222)
    await proxy.start()
    cut_off = NatsStore(f"nats://127.0.0.1:{proxy.port}", bucket=bucket)
    try:
        async with NatsStore(nats_url, bucket=bucket) as writer, watching(cut_off) as watch:
            await proxy.stop()
            await writer.save(WorkflowState(workflow_id="while-cut-off"))
            await proxy.start()
            told = await notices_until(watch, None)
            await writer.save(WorkflowState(workflow_id="after"))
            told += await notices_until(watch, "after")
    finally:
        await cut_off.close()
        await proxy.close()
    # The consumer resumes after the last message it saw (before or after the
    # None, as the reconnect and the redelivery race): nothing was lost.
    assert "while-cut-off" in told
