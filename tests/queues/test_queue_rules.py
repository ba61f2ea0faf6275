"""Queue rules on one store in one process: limits, priorities, keys, deduplication, bad input.

Several processes are proven in :mod:`tests.queues.test_queues_across_processes`;
these tests pin the rules themselves, quickly, on the in-memory store: once
through the queue's board record, once through a store with ``queue_dispatch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from beluga_workflow import (
    Executor,
    InvalidArgumentError,
    Queue,
    QueueOptions,
    RateLimit,
    Worker,
    WorkflowContext,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowStatus,
    open_store,
)
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.queues.table import InMemoryQueueTable
from beluga_workflow.store import SupportsQueueDispatch, WorkflowStore
from beluga_workflow.system_records import is_system_record
from tests.reliability.targets import faulty_target

NAME = "tests.queues:job"
LOG: list[tuple[str, str, float]] = []
"""(event, workflow id, time) for every job start and end."""

PAUSE = {"seconds": 0.05}


async def job(ctx: WorkflowContext, input: Any) -> Any:
    async def work(_: Any) -> str:
        loop = asyncio.get_running_loop()
        LOG.append(("start", ctx.workflow_id, loop.time()))
        await asyncio.sleep(PAUSE["seconds"])
        LOG.append(("end", ctx.workflow_id, loop.time()))
        return ctx.workflow_id

    return await ctx.execute_activity(work, input, name="work")


def max_overlap(ids: set[str] | None = None) -> int:
    running = peak = 0
    for event, workflow_id, _ in sorted(LOG, key=lambda e: (e[2], e[0] == "start")):
        if ids is not None and workflow_id not in ids:
            continue
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    return peak


class NativeQueueStore(InMemoryQueueTable, InMemoryStore):
    """The in-memory store with ``queue_dispatch``: queues skip the board."""


STORE: dict[str, type[InMemoryStore]] = {"class": InMemoryStore}


def new_store() -> InMemoryStore:
    return STORE["class"]()


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    LOG.clear()
    PAUSE["seconds"] = 0.05


@pytest.fixture(autouse=True, params=["board", "native"])
def dispatch_path(request: pytest.FixtureRequest) -> str:
    """Every rule holds on both paths; a test about boards asks for ``board`` only."""
    path: str = request.param
    if path == "native" and request.node.get_closest_marker("board_only"):
        pytest.skip("about the board record, which a store with queue_dispatch does not use")
    STORE["class"] = NativeQueueStore if path == "native" else InMemoryStore
    return path


@contextlib.asynccontextmanager
async def workers(store: WorkflowStore, queue: Queue, count: int = 2) -> AsyncIterator[None]:
    serving = [
        Worker(
            store,
            workflows=[],
            queues=[queue],
            worker_id=f"w{i}",
            poll_interval=0.02,
            load_plugins=False,
        )
        for i in range(count)
    ]
    for worker in serving:
        worker.executor.register(job, NAME)
    tasks = [asyncio.create_task(worker.run()) for worker in serving]
    try:
        yield
    finally:
        for worker in serving:
            worker.stop()
        await asyncio.gather(*tasks)


async def submit_all(client: Executor, count: int, queue: str, **placement: Any) -> list[Any]:
    return [
        await client.submit(
            NAME, WorkflowOptions(id=f"j{i}", queue=QueueOptions(name=queue, **placement))
        )
        for i in range(count)
    ]


async def test_the_global_limit_holds_across_workers() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 12, "q")
        async with workers(store, Queue(name="q", concurrency=3)):
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    assert sorted(results) == sorted(f"j{i}" for i in range(12))
    assert max_overlap() == 3


@pytest.mark.server
@pytest.mark.parametrize("kind", ["redis", "nats"])
@pytest.mark.board_only
async def test_queues_work_on_every_store_that_keeps_leases(kind: str, tmp_path: Path) -> None:
    """NATS keeps the board as it keeps runs; Redis has queue_dispatch and keeps no board."""
    async with faulty_target(kind, tmp_path) as target:
        store = open_store(target.client_spec)
        try:
            async with Executor(store, load_plugins=False) as client:
                handles = await submit_all(client, 6, "q", key="same")
                async with workers(store, Queue(name="q", concurrency=3, key_concurrency=2)):
                    await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 30)
            board = await store.load("~beluga/queue/q")
            left = await store.queued("q") if isinstance(store, SupportsQueueDispatch) else None
        finally:
            await store.close()
    assert max_overlap() == 2
    if kind == "redis":
        assert board is None
        assert left == []
    else:
        assert board is not None
        assert board.metadata["board"]["slots"] == {}


async def test_the_per_worker_limit_holds() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 8, "q")
        async with workers(store, Queue(name="q", worker_concurrency=1), count=2):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    assert max_overlap() == 2


async def test_runs_sharing_a_key_go_one_at_a_time() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = [
            await client.submit(
                NAME,
                WorkflowOptions(id=f"{customer}-{i}", queue=QueueOptions(name="q", key=customer)),
            )
            for i in range(3)
            for customer in ("ann", "bob")
        ]
        async with workers(store, Queue(name="q", concurrency=10, key_concurrency=1)):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    assert max_overlap({f"ann-{i}" for i in range(3)}) == 1
    assert max_overlap({f"bob-{i}" for i in range(3)}) == 1
    assert max_overlap() == 2


async def test_the_rate_limit_holds_over_every_window() -> None:
    PAUSE["seconds"] = 0.0
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 9, "q")
        async with workers(store, Queue(name="q", rate=RateLimit(limit=3, period=0.5))):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    starts = sorted(t for event, _, t in LOG if event == "start")
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 0.45, starts  # never 4 starts in one window
    assert starts[-1] - starts[0] >= 0.9


async def test_lower_priority_numbers_are_dispatched_first() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        low = [
            await client.submit(
                NAME, WorkflowOptions(id=f"low{i}", queue=QueueOptions(name="q", priority=5))
            )
            for i in range(3)
        ]
        high = [
            await client.submit(
                NAME, WorkflowOptions(id=f"high{i}", queue=QueueOptions(name="q", priority=1))
            )
            for i in range(3)
        ]
        async with workers(store, Queue(name="q", concurrency=1)):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in low + high)), 20)
    order = [workflow_id for event, workflow_id, _ in LOG if event == "start"]
    assert order == ["high0", "high1", "high2", "low0", "low1", "low2"]


async def test_a_deduplicated_start_runs_once() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        options = WorkflowOptions(queue=QueueOptions(name="q", dedup_key="order-7"))
        first = await client.submit(NAME, options)
        second = await client.submit(NAME, options)
        assert first.id == second.id
        async with workers(store, Queue(name="q")):
            assert await asyncio.wait_for(first.result(), 20) == first.id
            assert await second.result() == first.id
    assert [e for e in LOG if e[0] == "start"] == [("start", first.id, LOG[0][2])]


async def test_a_queued_run_is_not_claimed_by_a_worker_that_does_not_serve_its_queue() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        await client.submit(NAME, WorkflowOptions(id="waits", queue=QueueOptions(name="q")))
        async with workers(store, Queue(name="other")):
            await asyncio.sleep(0.3)
        async with Executor(store, load_plugins=False) as other:
            other.register(job, NAME)
            report = await other.recover()
    assert LOG == []
    assert report.resumed == []
    assert "waits on queue 'q'" in str(report.not_resumed["waits"])
    stored = await store.load("waits")
    assert stored is not None
    assert stored.status is WorkflowStatus.RUNNING


@pytest.mark.board_only
async def test_boards_are_system_records_that_are_never_run() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 2, "q")
        async with workers(store, Queue(name="q", concurrency=1)):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    records = [s for s in await store.list() if is_system_record(s)]
    assert [r.workflow_id for r in records] == ["~beluga/queue/q"]
    assert records[0].metadata["board"]["slots"] == {}
    running = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
    assert running == []


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"name": "q", "priority": 2**40},
        {"name": "q", "key": ""},
        {"name": "q", "dedup_key": "\ud800"},
        {"name": "q", "key": "a\x00b"},
        {"name": "q\x00"},
    ],
)
def test_bad_queue_options_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        QueueOptions(**bad)


@pytest.mark.parametrize(
    "bad",
    [{"name": "q", "concurrency": 0}, {"name": "q", "rate": {"limit": 0, "period": 1}}],
)
def test_bad_queue_limits_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Queue(**bad)


async def test_an_id_and_a_dedup_key_together_are_refused_and_store_nothing() -> None:
    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        options = WorkflowOptions(id="x", queue=QueueOptions(name="q", dedup_key="d"))
        with pytest.raises(InvalidArgumentError):
            await client.submit(NAME, options)
        with pytest.raises(InvalidArgumentError):
            await client.execute(job, WorkflowOptions(queue=QueueOptions(name="q")))
    assert await store.list() == []


@pytest.mark.board_only
async def test_a_slot_left_by_a_run_that_ended_elsewhere_is_freed_by_the_sweep() -> None:
    """A worker died after its run ended but before freeing the slot: the queue does not jam."""
    from beluga_workflow.queues.board import Board, Slot
    from beluga_workflow.system_records import update_record

    store = new_store()
    long_ago = time.time() - 60
    ghost = Slot(run="gone", worker="dead", since=long_ago, until=long_ago + 1)
    board = Board(slots={"ended-elsewhere": ghost}).model_dump(mode="json")
    await update_record(store, "~beluga/queue/q", "board", lambda _: board)
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 2, "q")
        async with workers(store, Queue(name="q", concurrency=1), count=1):
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    assert sorted(results) == ["j0", "j1"]
    stored = await store.load("~beluga/queue/q")
    assert stored is not None
    assert stored.metadata["board"]["slots"] == {}


@pytest.mark.board_only
async def test_a_slot_taken_for_a_run_never_handed_over_is_freed() -> None:
    """A worker took a slot and stalled before claiming the run: the run gets a slot again."""
    from beluga_workflow.queues.board import Board, Slot
    from beluga_workflow.system_records import update_record

    store = new_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 1, "q")
        stored = await store.load("j0")
        assert stored is not None
        stalled = Slot(run=stored.run_id, worker="stalled", since=time.time() - 60, until=0.0)
        board = Board(slots={"j0": stalled}).model_dump(mode="json")
        await update_record(store, "~beluga/queue/q", "board", lambda _: board)
        async with workers(store, Queue(name="q", concurrency=1), count=1):
            assert await asyncio.wait_for(handles[0].result(), 20) == "j0"
    assert [e[1] for e in LOG if e[0] == "start"] == ["j0"]


def native_store() -> NativeQueueStore:
    store = new_store()
    if not isinstance(store, NativeQueueStore):
        pytest.skip("about the queue entries of a store with queue_dispatch")
    return store


async def test_a_store_with_queue_dispatch_keeps_entries_instead_of_a_board() -> None:
    store = native_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 3, "q", priority=2)
        waiting = await store.queued("q")
        assert [(e.workflow_id, e.priority, e.holder) for e in waiting] == [
            ("j0", 2, None),
            ("j1", 2, None),
            ("j2", 2, None),
        ]
        async with workers(store, Queue(name="q", concurrency=1)):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
            for _ in range(100):  # the last run's entry is released by the round after it
                if not await store.queued("q"):
                    break
                await asyncio.sleep(0.02)
    assert await store.queued("q") == []
    assert await store.load("~beluga/queue/q") is None


async def test_an_entry_left_by_a_run_that_ended_elsewhere_is_released_by_the_sweep() -> None:
    from beluga_workflow.queues.entries import QueueEntry

    store = native_store()
    long_ago = time.time() - 60
    ghost = QueueEntry(queue="q", workflow_id="gone", run_id="r", enqueued_at=long_ago)
    await store.enqueue([ghost])
    queue = Queue(name="q", concurrency=1)
    (claimed,) = (await store.claim_queued(queue, "dead", 1, long_ago)).entries
    assert claimed.workflow_id == "gone"
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 2, "q")
        async with workers(store, queue, count=1):
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    assert sorted(results) == ["j0", "j1"]
    assert all(e.workflow_id != "gone" for e in await store.queued("q"))


async def test_a_claim_never_handed_over_is_put_back() -> None:
    store = native_store()
    queue = Queue(name="q", concurrency=1)
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 1, "q")
        (stalled,) = (await store.claim_queued(queue, "stalled", 1, time.time() - 60)).entries
        assert stalled.workflow_id == "j0"
        async with workers(store, queue, count=1):
            assert await asyncio.wait_for(handles[0].result(), 20) == "j0"
    assert [e[1] for e in LOG if e[0] == "start"] == ["j0"]


async def test_a_waiting_run_without_an_entry_gets_one_from_the_sweep() -> None:
    """Its submitter died between storing the run and enqueuing it."""
    store = native_store()
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 1, "q")
        (entry,) = await store.queued("q")
        await store.release_queued([entry])
        stored = await store.load("j0")
        assert stored is not None
        stored.updated_at = stored.updated_at.replace(year=2000)
        await store.save(stored)
        async with workers(store, Queue(name="q"), count=1):
            assert await asyncio.wait_for(handles[0].result(), 20) == "j0"
