"""One bound per store call, and errors that say what gave up (without a server)."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow.bounded import ConnectWatch, OperationBound, set_stage
from beluga_workflow.errors import ConcurrencyConflictError, StoreUnavailableError

BOUND = OperationBound("demo", "demo://app:***@db:1", 0.05)


async def test_a_call_that_runs_out_of_time_says_where_it_was() -> None:
    async def slow() -> None:
        set_stage("waiting for a pooled connection")
        await asyncio.sleep(10)

    with pytest.raises(StoreUnavailableError) as info:
        await BOUND.run("load", slow)
    assert str(info.value) == (
        "demo store at demo://app:***@db:1: load gave up within 0.05s: "
        "still waiting for a pooled connection"
    )


async def test_a_connection_error_becomes_unavailable_with_its_secrets_masked() -> None:
    async def refused() -> None:
        raise ConnectionRefusedError("cannot reach demo://app:s3cret@db:1\nsecond line")

    with pytest.raises(StoreUnavailableError) as info:
        await BOUND.run("save", refused, outage=(OSError,))
    assert str(info.value).endswith("save gave up within 0.05s: cannot reach demo://app:***@db:1")


async def test_store_errors_and_other_exceptions_pass_unchanged() -> None:
    async def conflict() -> None:
        raise ConcurrencyConflictError("moved on")

    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(ConcurrencyConflictError):
        await BOUND.run("append", conflict, outage=(OSError,))
    with pytest.raises(KeyError):
        await BOUND.run("append", broken, outage=(OSError,))


async def test_a_failed_connection_attempt_ends_the_wait_at_once() -> None:
    watch = ConnectWatch()
    never = asyncio.get_running_loop().create_future()
    given_back: list[object] = []

    async def give_back(value: object) -> None:
        given_back.append(value)

    waiting = asyncio.ensure_future(watch.race(never, give_back=give_back))
    await asyncio.sleep(0)
    watch.failed(ConnectionRefusedError("connection refused"))
    with pytest.raises(ConnectionError, match="connection refused"):
        await waiting
    assert watch.failing
    watch.succeeded()
    assert not watch.failing
    assert await watch.race(asyncio.sleep(0, "ready"), give_back=give_back) == "ready"
    assert given_back == []
