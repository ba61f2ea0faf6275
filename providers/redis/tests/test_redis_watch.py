"""``watch`` on the real server: pub/sub notices published by the write scripts."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest
import redis

from beluga_workflow import EventType, HistoryEvent, StoreClosedError, StoreError, WorkflowState
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.watching import next_notice, watching
from beluga_workflow_redis import RedisStore
from beluga_workflow_redis.store import key_space

BOUND = 2.0
"""Seconds a notice may take in these tests; it takes milliseconds."""


def _event(position: int) -> HistoryEvent:
    return HistoryEvent(id=position, type=EventType.TIMER_FIRED)


async def test_a_refused_write_and_a_write_in_another_namespace_give_no_notice(
    redis_url: str, prefix: str
) -> None:
    async with (
        RedisStore(redis_url, prefix=prefix) as store,
        RedisStore(redis_url, prefix=prefix + ":nested") as other,
        watching(store) as watch,
    ):
        await other.save(WorkflowState(workflow_id="elsewhere"))
        await store.delete("never-stored")
        with contextlib.suppress(Exception):
            await store.compare_and_save(WorkflowState(workflow_id="refused"), 5)
        await store.save(WorkflowState(workflow_id="here"))
        assert await next_notice(watch) == "here"


async def test_closing_the_store_ends_the_watch(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    watch = store.watch()
    assert await next_notice(watch) is None
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, BOUND)
    with pytest.raises(StoreClosedError):
        await anext(store.watch())


async def test_closing_the_watch_releases_its_subscription(redis_url: str, prefix: str) -> None:
    channel = f"{key_space(prefix)}:changes"
    client = redis.Redis.from_url(redis_url)
    try:
        async with RedisStore(redis_url, prefix=prefix) as store:
            async with watching(store):
                assert client.pubsub_numsub(channel) == [(channel.encode(), 1)]
            assert client.pubsub_numsub(channel) == [(channel.encode(), 0)]
    finally:
        client.close()


async def test_after_a_cut_connection_the_watcher_says_so_then_sees_later_writes(
    redis_url: str, prefix: str
) -> None:
    target = urlsplit(redis_url)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    cut_off = RedisStore(f"redis://127.0.0.1:{proxy.port}{target.path}", prefix=prefix)
    try:
        async with RedisStore(redis_url, prefix=prefix) as writer, watching(cut_off) as watch:
            await proxy.stop()
            await proxy.start()
            assert await next_notice(watch) is None
            await writer.save(WorkflowState(workflow_id="after"))
            assert await next_notice(watch) == "after"
    finally:
        await cut_off.close()
        await proxy.close()


async def test_a_watch_the_server_refuses_raises_without_the_password(
    redis_url: str, prefix: str
) -> None:
    target = urlsplit(redis_url)
    url = f"redis://nobody:s3cret@{target.hostname}:{target.port or 6379}{target.path}"
    async with RedisStore(url, prefix=prefix) as store:
        with pytest.raises(StoreError) as refused:
            await next_notice(store.watch())
    assert "s3cret" not in str(refused.value)
