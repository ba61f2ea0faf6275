"""Outages, unreachable servers, concurrent writers, keys and layout on the real server."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from beluga_workflow import (
    EventType,
    HistoryEvent,
    ProviderConfigError,
    StoreError,
    StoreUnavailableError,
    WorkflowState,
    WorkflowStore,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_contract import (
    ServerStoreContract,
    UnreachableFactory,
)
from beluga_workflow_contract_tests.servers import free_port, private_server
from beluga_workflow_nats import NatsStore
from beluga_workflow_nats.store import key_of

OUTAGE_STOP_SECONDS = 3.0
"""What docs/providers/nats.md says a running workflow needs to stop in an outage."""


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


class TestNatsServer(ServerStoreContract):
    provider_name = "nats"
    outage_secret = "s3cret"
    outage_stop_seconds = OUTAGE_STOP_SECONDS

    def check_outage_error(self, error: StoreUnavailableError) -> None:
        assert "nats store at nats://" in str(error)

    @pytest.fixture
    def unreachable_factory(self) -> UnreachableFactory:
        def open_unreachable() -> WorkflowStore:
            closed_port = OutageProxy("127.0.0.1", 1).port
            return NatsStore(
                f"nats://s3cret@127.0.0.1:{closed_port}", operation_timeout=1.5, connect_timeout=0.5
            )

        return open_unreachable

    @pytest.fixture
    def store_factory(self, nats_url: str, bucket: str) -> Callable[[], WorkflowStore]:
        return lambda: NatsStore(nats_url, bucket=bucket)


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
