"""A Client starts, signals, cancels and queries runs a Worker owns, and reads their durable events.

Each test runs on the in-memory store, SQLite and PostgreSQL (a schema of its
own). The worker and the client share the store only, as two processes would;
tests/reliability/test_clients.py does the same with a worker in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import (
    Client,
    EventType,
    Executor,
    HistoryEvent,
    InvalidArgumentError,
    NonDeterminismError,
    PayloadSerializationError,
    Signal,
    SupportsWatch,
    UnknownQueryError,
    Worker,
    WorkflowCanceledError,
    WorkflowContext,
    WorkflowError,
    WorkflowFilter,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
    open_store,
)
from beluga_workflow.events import PublishedEvents
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.reliability.targets import faulty_target

POLL = 0.05


async def greet(ctx: WorkflowContext, name: str) -> str:
    return str(await ctx.execute_activity(str.upper, name, name="upper"))


async def publisher(ctx: WorkflowContext, _: Any) -> Any:
    """Publishes ``stage`` twice around a signal, so readers see the latest value."""
    await ctx.set_event("stage", {"at": "waiting"})
    approver = await ctx.wait_for_signal("approve", timeout=60)
    await ctx.set_event("stage", {"at": "approved", "by": approver})
    return approver


async def silent(ctx: WorkflowContext, _: Any) -> str:
    return "done"


async def waiter(ctx: WorkflowContext, _: Any) -> Any:
    return await ctx.wait_for_signal("never", timeout=60)


WORKFLOWS = [greet, publisher, silent, waiter]


def name_of(fn: Any) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


@contextlib.asynccontextmanager
async def opened(kind: str, directory: Path) -> AsyncIterator[WorkflowStore]:
    if kind == "inmemory":
        yield InMemoryStore()
        return
    async with faulty_target(kind, directory) as target:
        store = open_store(target.client_spec)
        try:
            yield store
        finally:
            await store.close()


@pytest.fixture(params=["inmemory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WorkflowStore]:
    async with opened(str(request.param), tmp_path) as store:
        yield store


@contextlib.asynccontextmanager
async def serving(store: WorkflowStore) -> AsyncIterator[Worker]:
    worker = Worker(store, workflows=WORKFLOWS, poll_interval=POLL, load_plugins=False)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def test_a_client_starts_by_name_and_awaits_the_result_a_worker_makes(
    store: WorkflowStore,
) -> None:
    async with serving(store), Client(store, poll_interval=POLL, load_plugins=False) as client:
        handle = await client.start(name_of(greet), "ana", id="g1")
        assert handle.id == "g1"
        assert await asyncio.wait_for(handle.result(), 30) == "ANA"
        again = await client.get_handle("g1")
        assert await again.result() == "ANA"
        assert await client.query("g1", "status") is WorkflowStatus.COMPLETED
        assert await client.query("g1", "result") == "ANA"
        described = await client.describe("g1")
        assert [s.workflow_id for s in await client.list_workflows()] == ["g1"]
        assert [s.workflow_id for s in await client.list_workflows(WorkflowStatus.RUNNING)] == []
    assert described.history[-1].type is EventType.WORKFLOW_COMPLETED


async def test_a_client_signals_and_cancels_runs_a_worker_owns(store: WorkflowStore) -> None:
    async with serving(store), Client(store, poll_interval=POLL, load_plugins=False) as client:
        approved = await client.start(name_of(publisher), id="p1")
        stuck = await client.start(name_of(waiter), id="w1")
        assert await client.wait_for_event("p1", "stage", timeout=30) == {"at": "waiting"}
        await client.signal("p1", "approve", "ana")
        assert await asyncio.wait_for(approved.result(), 30) == "ana"
        await client.cancel("w1")
        with pytest.raises(WorkflowCanceledError):
            await asyncio.wait_for(stuck.result(), 30)
        history = await client.query("p1", "history")
    signals = [e.signal_payload for e in history if e.type is EventType.SIGNAL_RECEIVED]
    assert signals == ["ana"]


async def test_durable_events_are_read_waited_for_and_answer_queries(store: WorkflowStore) -> None:
    async with serving(store), Client(store, poll_interval=POLL, load_plugins=False) as client:
        handle = await client.start(name_of(publisher), id="p2")
        assert await client.wait_for_event("p2", "stage", timeout=30) == {"at": "waiting"}
        assert await client.get_event("p2", "stage") == {"at": "waiting"}
        assert await client.query("p2", "stage") == {"at": "waiting"}
        assert await client.get_event("p2", "other") is None
        assert await client.get_event("p2", "other", default=0) == 0
        with pytest.raises(UnknownQueryError, match="published no event 'other'"):
            await client.query("p2", "other")
        await client.signal("p2", "approve", "bo")
        assert await asyncio.wait_for(handle.result(), 30) == "bo"
        assert await client.get_event("p2", "stage") == {"at": "approved", "by": "bo"}
        assert await client.query("p2", "stage") == {"at": "approved", "by": "bo"}
        stored = await client.describe("p2")
    published = [
        (e.event_key, e.result) for e in stored.history if e.type is EventType.EVENT_PUBLISHED
    ]
    assert published == [("stage", {"at": "waiting"}), ("stage", {"at": "approved", "by": "bo"})]


async def test_waiting_for_an_event_times_out_or_ends_with_the_run(store: WorkflowStore) -> None:
    async with serving(store), Client(store, poll_interval=POLL, load_plugins=False) as client:
        stuck = await client.start(name_of(waiter), id="w2")
        with pytest.raises(TimeoutError, match=r"no event 'stage' within 0\.2s"):
            await client.wait_for_event("w2", "stage", timeout=0.2)
        done = await client.start(name_of(silent), id="s1")
        await asyncio.wait_for(done.result(), 30)
        with pytest.raises(WorkflowError, match="completed and never published event 'stage'"):
            await client.wait_for_event("s1", "stage", timeout=30)
        await client.cancel(stuck.id)


async def test_an_event_is_not_recorded_again_when_the_run_is_resumed() -> None:
    store = InMemoryStore()
    async with Executor(store, workflows=[publisher], load_plugins=False) as first:
        await first.execute(publisher, WorkflowOptions(id="r1"))
        client = Client(store, poll_interval=POLL, load_plugins=False)
        assert await client.wait_for_event("r1", "stage", timeout=10) == {"at": "waiting"}
    async with Executor(store, workflows=[publisher], load_plugins=False) as second:
        [handle] = (await second.recover()).resumed
        await client.signal("r1", "approve", "cy")
        assert await asyncio.wait_for(handle.result(), 10) == "cy"
    await client.close()
    stored = await store.load("r1")
    assert stored is not None
    keys = [e.event_key for e in stored.history if e.type is EventType.EVENT_PUBLISHED]
    assert keys == ["stage", "stage"]
    assert [e.id for e in stored.history] == list(range(1, len(stored.history) + 1))


async def publishes_another_key(ctx: WorkflowContext, _: Any) -> Any:
    await ctx.set_event("phase", 1)
    return await ctx.wait_for_signal("approve", timeout=60)


async def test_a_resumed_run_publishing_another_key_diverges() -> None:
    store = InMemoryStore()
    async with Executor(store, workflows=[publisher], load_plugins=False) as first:
        await first.execute(publisher, WorkflowOptions(id="d1"))
        await Client(store, load_plugins=False).wait_for_event("d1", "stage", timeout=10)
    changed = Executor(store, load_plugins=False)
    changed.register(publishes_another_key, name=name_of(publisher))
    async with changed:
        [handle] = (await changed.recover()).resumed
        with pytest.raises(NonDeterminismError, match="no longer matches its history"):
            await asyncio.wait_for(handle.result(), 10)


async def bad_events(ctx: WorkflowContext, _: Any) -> list[str]:
    refused = []
    for key, value in (("", 1), ("k", {1, 2}), (7, 1)):
        try:
            await ctx.set_event(key, value)  # type: ignore[arg-type]
        except (InvalidArgumentError, PayloadSerializationError) as exc:
            refused.append(type(exc).__name__)
    return refused


async def test_bad_events_are_refused_and_record_nothing() -> None:
    store = InMemoryStore()
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(bad_events, WorkflowOptions(id="b1"))
        assert await handle.result() == [
            "InvalidArgumentError",
            "PayloadSerializationError",
            "InvalidArgumentError",
        ]
    stored = await store.load("b1")
    assert stored is not None
    assert [e.type for e in stored.history] == [
        EventType.WORKFLOW_STARTED,
        EventType.WORKFLOW_COMPLETED,
    ]


async def test_a_client_refuses_bad_calls_and_changes_nothing() -> None:
    store = InMemoryStore()
    async with Client(store, load_plugins=False) as client:
        with pytest.raises(InvalidArgumentError, match="workflow name"):
            await client.start("")
        with pytest.raises(InvalidArgumentError, match="invalid workflow options"):
            await client.start("x:y", timeout=-1)
        with pytest.raises(InvalidArgumentError, match="inside options"):
            await client.start("x:y", id="a", options=WorkflowOptions())
        with pytest.raises(PayloadSerializationError):
            await client.start("x:y", {1, 2})
        with pytest.raises(WorkflowNotFoundError):
            await client.get_handle("nope")
        with pytest.raises(WorkflowNotFoundError):
            await client.get_event("nope", "k")
        with pytest.raises(InvalidArgumentError, match="signal name"):
            await client.signal("nope", "")
        with pytest.raises(InvalidArgumentError, match="event key"):
            await client.wait_for_event("nope", "")
        with pytest.raises(InvalidArgumentError, match="timeout"):
            await client.wait_for_event("nope", "k", timeout=-1)
        assert await store.list() == []
    with pytest.raises(InvalidArgumentError, match="poll_interval"):
        Client(store, poll_interval=0)


async def test_a_start_with_a_name_nobody_registered_waits_for_a_worker_that_has_it() -> None:
    store = InMemoryStore()
    async with Client(store, poll_interval=POLL, load_plugins=False) as client:
        handle = await client.start(name_of(greet), "zoe", id="later")
        async with Executor(store, load_plugins=False) as other:  # without it: left alone
            report = await other.recover()
        assert isinstance(report.not_resumed["later"], WorkflowNotRegisteredError)
        async with serving(store):
            assert await asyncio.wait_for(handle.result(), 30) == "ZOE"


def test_replayed_events_match_calls_in_order_and_name_a_changed_key() -> None:
    history = [
        HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED),
        HistoryEvent(id=2, type=EventType.EVENT_PUBLISHED, event_key="a", result=1),
        HistoryEvent(id=3, type=EventType.EVENT_PUBLISHED, event_key="b", result=2),
    ]
    published = PublishedEvents("w", history)
    assert published.already_recorded("a")
    with pytest.raises(NonDeterminismError, match=r"event 3 \(event_published\).*'b'.*'c'"):
        published.already_recorded("c")
    assert not published.already_recorded("a")  # past the recorded ones: a new event


class Unwatched:
    """A store that cannot say what changed (no ``watch``), as Kafka's: clients poll it."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.loads = 0

    async def save(self, state: WorkflowState) -> None:
        await self._store.save(state)

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.loads += 1
        return await self._store.load(workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        return await self._store.list(filter)

    async def delete(self, workflow_id: str) -> None:
        await self._store.delete(workflow_id)

    async def close(self) -> None:
        await self._store.close()


async def test_a_client_on_a_store_without_watch_polls_for_events_and_results() -> None:
    store = InMemoryStore()
    unwatched = Unwatched(store)
    assert not isinstance(unwatched, SupportsWatch)
    async with (
        Executor(store, workflows=[publisher], load_plugins=False) as owner,
        Client(unwatched, poll_interval=POLL, load_plugins=False) as client,
    ):
        handle = await owner.execute(publisher, WorkflowOptions(id="u1"))
        assert await client.wait_for_event("u1", "stage", timeout=10) == {"at": "waiting"}
        awaiting = await client.get_handle("u1")
        waiting = asyncio.ensure_future(awaiting.result())
        first = unwatched.loads
        await asyncio.sleep(4 * POLL)
        polled = unwatched.loads - first
        await owner.signal("u1", Signal(name="approve", payload="di"))
        assert await asyncio.wait_for(waiting, 10) == "di"
        assert await handle.result() == "di"
    assert polled >= 2  # nothing pushed: it read the store every poll_interval while it waited
