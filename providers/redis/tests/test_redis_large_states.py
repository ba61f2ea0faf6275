"""Large heads on the real server: staged by a write's transaction, read by transactions.

A value passed through a Lua script costs the server far more than the
same value read or written by a plain command, so a head over
``_STAGE_FROM`` characters never enters a script, and ``list`` reads heads
larger together than ``_INLINE_LIST_BYTES`` in a transaction checked
against the index (see the store's module docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from beluga_workflow import (
    ConcurrencyConflictError,
    CorruptStateError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.codec import encode_head
from beluga_workflow.storekit.records import epoch_microseconds
from beluga_workflow_contract_tests.servers import free_port, private_server
from beluga_workflow_redis import RedisStore
from beluga_workflow_redis import store as redis_store

LARGE = redis_store._STAGE_FROM + 1
"""Characters of input that make a head staged (the head holds more than the input)."""
FIELDS = {b"head", b"status", b"score", b"version", b"n"}


def _large(workflow_id: str, **fields: Any) -> WorkflowState:
    return WorkflowState(workflow_id=workflow_id, input={"blob": "x" * LARGE}, **fields)


Sent = list[tuple[Any, ...]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every command the store sends, in order."""
    commands: Sent = []
    exchange = redis_store._exchange

    async def spy(client: aioredis.Redis, batch: Sequence[tuple[Any, ...]]) -> list[Any]:
        commands.extend(batch)
        return await exchange(client, batch)

    monkeypatch.setattr(redis_store, "_exchange", spy)
    return commands


def _scripts(sent: Sent) -> list[tuple[Any, ...]]:
    return [command for command in sent if command[0] in ("EVALSHA", "EVAL")]


async def test_a_large_head_never_enters_the_write_script(
    redis_url: str, prefix: str, sent: Sent
) -> None:
    state = _large("big")
    async with RedisStore(redis_url, prefix=prefix) as store:
        await store.save(state)
        assert await store.load("big") == state
    head = encode_head(state)
    (write,) = _scripts(sent)
    assert all(head not in argument for argument in write[1:] if isinstance(argument, str))
    assert ("HSET", f"{prefix}:staged", "head", head) == sent[1][:4]
    client = redis.Redis.from_url(redis_url)
    try:
        assert not client.exists(f"{prefix}:staged")
        stored = client.hgetall(f"{prefix}:state:big")
        assert set(stored) == FIELDS
        assert stored[b"head"] == head.encode()
        assert stored[b"score"] == str(epoch_microseconds(state.created_at)).encode()
        assert client.zscore(f"{prefix}:status:running", "big") is not None
    finally:
        client.close()


async def test_a_small_head_is_written_by_the_script_alone(
    redis_url: str, prefix: str, sent: Sent
) -> None:
    state = WorkflowState(workflow_id="small", input={"blob": "x"})
    async with RedisStore(redis_url, prefix=prefix) as store:
        await store.save(state)
        assert await store.load("small") == state
    assert sent[0][0] == "EVALSHA"
    assert encode_head(state) in sent[0]


async def test_a_refused_large_write_changes_nothing_and_leaves_no_staged_hash(
    redis_url: str, prefix: str
) -> None:
    async with RedisStore(redis_url, prefix=prefix) as store:
        first = _large("big", result="first")
        assert await store.compare_and_save(first, 0) == 1
        with pytest.raises(ConcurrencyConflictError):
            await store.compare_and_save(_large("big", result="second"), 0)
        assert await store.load("big") == first.model_copy(update={"version": 1})
    client = redis.Redis.from_url(redis_url)
    try:
        assert not client.exists(f"{prefix}:staged")
    finally:
        client.close()


async def test_a_large_step_of_a_state_not_stored_yet_is_written_whole(
    redis_url: str, prefix: str
) -> None:
    async with RedisStore(redis_url, prefix=prefix) as store:
        state = _large("big")
        assert await store.compare_and_append(state, 0, 0) == 1
        loaded = await store.load("big")
        assert loaded == state.model_copy(update={"version": 1})
        other = _large("other")
        await store.append(other, 0)  # nothing stored: the whole state, staged
        assert await store.load("other") == other
    client = redis.Redis.from_url(redis_url)
    try:
        assert not client.exists(f"{prefix}:staged")
    finally:
        client.close()


async def test_a_server_without_the_scripts_gets_their_text_inside_transactions() -> None:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with private_server([*argv, "--appendonly", "no"], port):
        url = f"redis://127.0.0.1:{port}/0"
        async with RedisStore(url, prefix="bw-noscript") as store:
            await store.save(_large("big"))
            client = redis.Redis.from_url(url)
            try:
                client.script_flush()
                state = _large("big", result="again")
                await store.save(state)
                assert await store.load("big") == state
                assert not client.exists("bw-noscript:staged")
                states = [state, *(_large(f"more-{i}") for i in range(7))]
                for more in states[1:]:
                    await store.save(more)
                client.script_flush()  # the list's scripts too: the one in its transaction
                assert await store.list() == states
            finally:
                client.close()


def _fill(count: int) -> list[WorkflowState]:
    statuses = (WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED)
    return [_large(f"w-{i:02d}", status=statuses[i % 2]) for i in range(count)]


async def test_list_reads_large_heads_in_a_transaction(
    redis_url: str, prefix: str, sent: Sent
) -> None:
    states = _fill(8)  # heads of 8 x LARGE characters: above _INLINE_LIST_BYTES
    assert 8 * LARGE > redis_store._INLINE_LIST_BYTES
    async with RedisStore(redis_url, prefix=prefix) as store:
        for state in states:
            await store.save(state)
        sent.clear()
        assert await store.list() == states
        assert [command[0] for command in sent].count("MULTI") == 1
        running = WorkflowFilter(status=WorkflowStatus.RUNNING, limit=3)
        assert await store.list(running) == [s for s in states if s.status == "running"][:3]
        await store.delete("w-00")
        assert [s.workflow_id for s in await store.list(running)] == ["w-02", "w-04", "w-06"]


def _changing_index(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[int], Awaitable[None]]
) -> list[int]:
    """Run ``change(round)`` before each of the list's transactions; the rounds run."""
    rounds: list[int] = []
    transaction = redis_store._transaction

    async def spy(client: aioredis.Redis, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        if commands[-1][0] == "HGET":  # a list's, not the staged write of a change
            rounds.append(len(rounds))
            await change(rounds[-1])
        return await transaction(client, commands)

    monkeypatch.setattr(redis_store, "_transaction", spy)
    return rounds


async def test_list_reads_again_when_the_index_changed_before_its_transaction(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = _fill(8)
    async with (
        RedisStore(redis_url, prefix=prefix) as store,
        RedisStore(redis_url, prefix=prefix) as other,
    ):
        for state in states[1:]:
            await store.save(state)

        async def change(round: int) -> None:
            if round == 0:  # the oldest arrives between the script and the transaction
                await other.save(states[0])

        rounds = _changing_index(monkeypatch, change)
        assert await store.list() == states
        assert rounds == [0, 1]


async def test_list_has_its_script_read_everything_when_the_index_keeps_changing(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = _fill(8)
    async with (
        RedisStore(redis_url, prefix=prefix) as store,
        RedisStore(redis_url, prefix=prefix) as other,
    ):
        for state in states:
            await store.save(state)
        extra = [_large(f"x-{i}") for i in range(redis_store._LIST_ROUNDS)]

        async def change(round: int) -> None:
            await other.save(extra[round])

        rounds = _changing_index(monkeypatch, change)
        listed = await store.list()
        assert rounds == list(range(redis_store._LIST_ROUNDS))
        assert sorted(s.workflow_id for s in listed) == sorted(
            s.workflow_id for s in [*states, *extra]
        )


async def test_load_of_a_hash_without_its_history_length_is_unreadable(
    redis_url: str, prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.hset(f"{prefix}:state:w", "head", encode_head(WorkflowState(workflow_id="w")))
        async with RedisStore(redis_url, prefix=prefix) as store:
            with pytest.raises(CorruptStateError, match="history length is None"):
                await store.load("w")
    finally:
        client.close()


@pytest.mark.parametrize("size", [0, 10, redis_store._OWN_CHUNK, redis_store._OWN_CHUNK + 1])
def test_commands_are_packed_as_the_client_packs_them(size: int) -> None:
    connection = aioredis.Redis().connection_pool.make_connection()
    text = "é" + "x" * size + uuid.uuid4().hex
    commands: list[tuple[str | int, ...]] = [
        ("MULTI",),
        ("HSET", "k:staged", "head", text, "n", 3),
        ("EVALSHA", "0" * 40, 0, "", "ü", -1, text),
        ("EXEC",),
    ]
    packed = redis_store._pack(commands)
    assert b"".join(packed) == b"".join(connection.pack_commands(commands))
    if size > redis_store._OWN_CHUNK:
        assert text.encode() in packed
