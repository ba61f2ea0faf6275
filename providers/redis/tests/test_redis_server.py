"""Outages, unreachable servers, concurrent writers and the key layout on the real server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote

import pytest
import redis

from beluga_workflow import (
    EventType,
    HistoryEvent,
    ProviderConfigError,
    StoreError,
    StoreUnavailableError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_contract import (
    ServerStoreContract,
    UnreachableFactory,
)
from beluga_workflow_contract_tests.servers import free_port, private_server
from beluga_workflow_redis import RedisStore
from beluga_workflow_redis.store import key_space

OUTAGE_STOP_SECONDS = 3.0
"""What docs/providers/redis.md says a running workflow needs to stop in an outage."""


class TestRedisServer(ServerStoreContract):
    provider_name = "redis"
    outage_secret = "s3cret"
    outage_stop_seconds = OUTAGE_STOP_SECONDS

    def check_outage_error(self, error: StoreUnavailableError) -> None:
        assert "redis store at redis://" in str(error)

    @pytest.fixture
    def unreachable_factory(self) -> UnreachableFactory:
        def open_unreachable() -> WorkflowStore:
            closed_port = OutageProxy("127.0.0.1", 1).port  # nothing listens there
            return RedisStore(
                f"redis://:s3cret@127.0.0.1:{closed_port}/0",
                operation_timeout=1.0,
                connect_timeout=0.5,
            )

        return open_unreachable

    @pytest.fixture
    def store_factory(self, redis_url: str, prefix: str) -> Callable[[], WorkflowStore]:
        return lambda: RedisStore(redis_url, prefix=prefix)


async def test_listing_by_status_reads_only_that_status_index(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    try:
        for i in range(5):
            await store.save(
                WorkflowState(workflow_id=f"done-{i}", status=WorkflowStatus.COMPLETED)
            )
        await store.save(WorkflowState(workflow_id="live"))
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.zcard(f"{prefix}:status:running") == 1
            assert client.zcard(f"{prefix}:status:completed") == 5
        finally:
            client.close()
        running = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
        assert [s.workflow_id for s in running] == ["live"]
        await store.save(WorkflowState(workflow_id="live", status=WorkflowStatus.FAILED))
        assert await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING)) == []
    finally:
        await store.close()


async def test_a_step_pushes_only_the_new_event(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    try:
        state = WorkflowState(
            workflow_id="w:1",
            history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(20)],
        )
        await store.save(state)
        marker = HistoryEvent(id=999, type=EventType.TIMER_FIRED)
        client = redis.Redis.from_url(redis_url)
        try:  # mark the stored first event: a rewrite of the history would undo it
            client.lset(f"{prefix}:events:w:1", 0, marker.model_dump_json())
            state.history.append(HistoryEvent(id=20, type=EventType.TIMER_FIRED))
            await store.append(state, 1)
            assert client.llen(f"{prefix}:events:w:1") == 21
        finally:
            client.close()
        loaded = await store.load("w:1")
        assert loaded is not None
        assert loaded.history[0] == marker
        assert loaded.history[1:] == state.history[1:]
    finally:
        await store.close()


def test_bad_url_names_the_provider_without_the_password() -> None:
    with pytest.raises(ProviderConfigError, match="'redis'") as info:
        open_store("redis://:s3cret@cache/0", operation_timeout=-1)
    assert "s3cret" not in str(info.value)


PASSWORD = "Pw/x#y?z@w%q:r's\"t u"
"""Every character that breaks a naive URL parser, unencoded."""


async def test_a_password_written_as_is_reaches_the_server_whole() -> None:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with private_server([*argv, "--appendonly", "no", "--requirepass", PASSWORD], port):
        for url in (
            f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
            f"redis://default:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/0",
        ):
            store = open_store(url, prefix="bw-auth")
            await store.save(WorkflowState(workflow_id="w"))
            assert await store.load("w") is not None
            await store.close()
        wrong = open_store(f"redis://:{PASSWORD[:-1]}@127.0.0.1:{port}/0", operation_timeout=1)
        with pytest.raises(StoreError) as info:
            await wrong.load("w")
        await wrong.close()
    assert "Pw/" not in str(info.value)
    assert "t u" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://", "names no server"),
        ("redis://:s3cret@/0", "names no server"),
        ("unix://", "names no socket"),
        ("redis://cache/0?nosuch=1", "unknown option 'nosuch'"),
        ("redis://cache/0?operation_timeout=soon", "operation_timeout"),
    ],
)
def test_urls_naming_no_server_or_unknown_options_are_refused(url: str, named: str) -> None:
    with pytest.raises(ProviderConfigError, match=f"'redis'.*{named}") as info:
        open_store(url)
    assert "s3cret" not in str(info.value)


def test_query_options_and_client_parameters_are_told_apart() -> None:
    store = open_store("redis://cache:6379/0?prefix=orders&db=2&operation_timeout=3")
    assert isinstance(store, RedisStore)
    assert (store.config.prefix, store.config.operation_timeout) == ("orders", 3.0)
    assert store.config.url == "redis://cache:6379/0?db=2"
    assert isinstance(open_store("unix:///run/redis/redis.sock"), RedisStore)


async def test_a_thousand_concurrent_calls_wait_for_a_small_pool(
    redis_url: str, prefix: str
) -> None:
    async with RedisStore(redis_url, prefix=prefix, max_connections=4) as store:
        states = [WorkflowState(workflow_id=f"w{i}", input=i) for i in range(1000)]
        await asyncio.gather(*(store.save(state) for state in states))
        loaded = await asyncio.gather(*(store.load(state.workflow_id) for state in states))
        assert loaded == states
        client = store._client
        assert client is not None
        assert len(client.connection_pool._in_use_connections) == 0


async def test_a_call_that_waits_out_its_bound_for_a_connection_says_the_pool_is_exhausted(
    redis_url: str, prefix: str
) -> None:
    async with RedisStore(
        redis_url, prefix=prefix, max_connections=1, operation_timeout=0.3
    ) as store:
        await store.load("w")
        assert store._client is not None
        pool = store._client.connection_pool
        held = await pool.get_connection()
        try:
            with pytest.raises(StoreUnavailableError) as info:
                await store.load("w")
        finally:
            await pool.release(held)
        assert await store.load("w") is None
    message = str(info.value)
    assert "load gave up within 0.3s" in message
    assert "pool is exhausted" in message
    assert "1 pooled connections" in message


async def test_prefixes_that_nest_never_share_a_key(redis_url: str, prefix: str) -> None:
    async with (
        RedisStore(redis_url, prefix=prefix) as outer,
        RedisStore(redis_url, prefix=f"{prefix}:state:b") as inner,
    ):
        mine = WorkflowState(workflow_id="b:state:c", input="outer")
        theirs = WorkflowState(workflow_id="c", input="inner")
        await outer.save(mine)
        await inner.save(theirs)
        assert await outer.load("b:state:c") == mine
        assert await inner.load("c") == theirs
        await inner.delete("c")
        assert await outer.load("b:state:c") == mine
        assert [s.workflow_id for s in await outer.list()] == ["b:state:c"]
        assert await inner.list() == []


def test_the_key_space_of_a_prefix_holds_no_colon() -> None:
    assert key_space("beluga-workflow") == "beluga-workflow"
    assert key_space("app:workflows") == "app%3Aworkflows"
    assert key_space("100%:x") == "100%25%3Ax"
    assert key_space("a%3Ab") != key_space("a:b")
