"""Outages, unreachable servers, concurrent writers, keys and layout on the real server."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from beluga_workflow import (
    EventType,
    HistoryEvent,
    ProviderConfigError,
    StoreError,
    StoreUnavailableError,
    WorkflowState,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_checks import (
    check_bounded_outage,
    check_first_call_after_recovery,
    check_one_writer_wins,
    check_running_workflow_stops,
)
from beluga_workflow_contract_tests.servers import free_port, private_server
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.store import key_of

OUTAGE_STOP_SECONDS = 3.0
"""What docs/providers/nats.md says a running workflow needs to stop in an outage."""


@contextlib.asynccontextmanager
async def outage_store(
    url: str, bucket: str, operation_timeout: float | None = 2.0
) -> AsyncIterator[tuple[NatsStore, OutageProxy]]:
    """A store reaching the server through a proxy the test can cut (default timeouts: None)."""
    target = urlsplit(url)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 4222)
    await proxy.start()
    options = {} if operation_timeout is None else {"operation_timeout": operation_timeout}
    store = NatsStore(f"nats://127.0.0.1:{proxy.port}", bucket=bucket, **options)
    try:
        yield store, proxy
    finally:
        await store.close()
        await proxy.close()


def test_keys_are_reversible_or_hashed_and_use_allowed_characters() -> None:
    for workflow_id in ["a/b", "a.b", "a b", "*>", "🐳", "x" * 100]:
        key = key_of(workflow_id)
        assert key.startswith("i")
        assert set(key) <= set("-_=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        padded = key[1:] + "=" * (-len(key[1:]) % 4)
        assert base64.urlsafe_b64decode(padded).decode() == workflow_id
    long_key = key_of("é" * 1000)
    assert long_key.startswith("h")
    assert len(long_key) == 65
    assert key_of("a/b") != key_of("a_b") != key_of("a.b")


async def test_every_call_in_an_outage_gives_up_within_the_bound_saying_what_failed(
    nats_url: str, bucket: str
) -> None:
    async with outage_store(nats_url, bucket) as (store, proxy):
        errors = await check_bounded_outage(store, proxy, bound=2.0)
    for error in errors:
        assert "nats store at nats://127.0.0.1:" in str(error)


async def test_the_first_call_after_an_outage_succeeds(nats_url: str, bucket: str) -> None:
    async with outage_store(nats_url, bucket) as (store, proxy):
        await check_first_call_after_recovery(store, proxy)


async def test_a_running_workflow_stops_within_seconds_of_an_outage(
    nats_url: str, bucket: str
) -> None:
    async with outage_store(nats_url, bucket, operation_timeout=None) as (store, proxy):
        await check_running_workflow_stops(store, proxy, within=OUTAGE_STOP_SECONDS)


async def test_unreachable_server_is_unavailable_and_the_token_is_masked() -> None:
    closed_port = OutageProxy("127.0.0.1", 1).port
    store = NatsStore(
        f"nats://s3cret@127.0.0.1:{closed_port}", operation_timeout=1.5, connect_timeout=0.5
    )
    with pytest.raises(StoreUnavailableError) as info:
        await store.load("w")
    await store.close()
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(store)


async def test_two_writers_of_one_id_exactly_one_wins(nats_url: str, bucket: str) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as first,
        NatsStore(nats_url, bucket=bucket) as second,
    ):
        await check_one_writer_wins(first, second)


async def test_a_step_writes_one_fragment_and_keeps_the_old_ones(
    nats_url: str, bucket: str
) -> None:
    store = NatsStore(nats_url, bucket=bucket)
    try:
        state = WorkflowState(
            workflow_id="w",
            history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(30)],
        )
        await store.save(state)
        _, data = await store._buckets()
        before = set(await data.keys())
        state.history.append(HistoryEvent(id=30, type=EventType.TIMER_FIRED))
        await store.append(state, 1)
        after = set(await data.keys())
        fragments_before = {k for k in before if k.split(".")[2].startswith("e")}
        fragments_after = {k for k in after if k.split(".")[2].startswith("e")}
        assert fragments_before < fragments_after
        assert len(fragments_after - fragments_before) == 1
        assert await store.load("w") == state
    finally:
        await store.close()


PASSWORD = "Pw/x#y?z@w%q:r's\"t u"
"""Every character that breaks a naive URL parser, unencoded."""


@pytest.mark.parametrize("auth", ["user", "token"])
async def test_credentials_written_as_is_reach_the_server_whole(auth: str, tmp_path: Path) -> None:
    port = free_port()
    argv = ["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path)]
    if auth == "user":
        argv += ["--user", "app", "--pass", PASSWORD]
        userinfo = f"app:{PASSWORD}"
        wrong_userinfo = f"app:{PASSWORD[:-1]}"
    else:
        token = PASSWORD.replace(":", "")  # a colon would make it user:password
        argv += ["--auth", token]
        userinfo, wrong_userinfo = token, token[:-1]
    with private_server(argv, port):
        store = NatsStore(f"nats://{userinfo}@127.0.0.1:{port}", bucket="auth")
        await store.save(WorkflowState(workflow_id="w"))
        assert await store.load("w") is not None
        await store.close()
        wrong = NatsStore(
            f"nats://{wrong_userinfo}@127.0.0.1:{port}", operation_timeout=1, connect_timeout=0.5
        )
        with pytest.raises(StoreError) as info:
            await wrong.load("w")
        await wrong.close()
    assert "Pw" not in str(info.value)
    assert "t u" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("nats://", "names no server"),
        ("tls://s3cret@", "names no server"),
        ("nats://bus:4222?nosuch=1", "unknown option 'nosuch'"),
    ],
)
def test_urls_naming_no_server_or_unknown_options_are_refused(url: str, named: str) -> None:
    with pytest.raises(ProviderConfigError, match=f"'nats'.*{named}") as info:
        open_store(url)
    assert "s3cret" not in str(info.value)


def test_query_options_are_options() -> None:
    store = open_store("nats://bus:4222?bucket=orders&operation_timeout=3")
    assert isinstance(store, NatsStore)
    assert (store.config.bucket, store.config.operation_timeout) == ("orders", 3.0)
    assert store.config.server_url == "nats://bus:4222"
