"""Leases: a live run is never taken, an expired one is taken once, a worker that lost one stops.

Several executors on one in-memory store stand for several workers here; the
same claims with real processes, SIGKILL and SIGSTOP are in
``tests/reliability/test_many_workers.py``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    InvalidArgumentError,
    Lease,
    StoreError,
    Worker,
    WorkflowAlreadyRunningError,
    WorkflowContext,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.executor import Executor
from beluga_workflow.models import utc_now
from beluga_workflow.providers.inmemory import InMemoryStore
from tests.executor.conftest import Checkpoint
from tests.executor.file_store import FileStore


def executor(store: Any, worker_id: str, **options: Any) -> Executor:
    return Executor(store, load_plugins=False, worker_id=worker_id, **options)


def held_workflow(checkpoint: Checkpoint) -> Any:
    async def step(x: int) -> int:
        return x

    async def workflow(ctx: WorkflowContext, _: Any) -> str:
        await ctx.execute_activity(checkpoint.activity, "held")
        await ctx.execute_activity(step, 2)
        return "done"

    return workflow


async def expire_lease(store: InMemoryStore, workflow_id: str) -> None:
    """What a dead worker leaves: its lease ran out (written as the store would keep it)."""
    state = await store.load(workflow_id)
    assert state is not None
    assert state.lease is not None
    past = utc_now() - timedelta(seconds=1)
    state.lease = state.lease.model_copy(update={"expires_at": past})
    await store.compare_and_append(state, 0, state.version)


async def test_a_run_is_leased_to_the_worker_that_started_it_and_finished_runs_have_none() -> None:
    store = InMemoryStore()
    checkpoint = Checkpoint()
    async with executor(store, "worker-a") as a:
        handle = await a.execute(held_workflow(checkpoint), WorkflowOptions(id="w"))
        await checkpoint.reached.wait()
        state = await store.load("w")
        assert state is not None
        assert state.lease is not None
        assert (state.lease.owner, state.lease.epoch) == ("worker-a", 1)
        assert state.lease.expires_at > utc_now()
        checkpoint.released.set()
        assert await handle.result() == "done"
    finished = await store.load("w")
    assert finished is not None
    assert finished.lease is None


async def test_recover_on_another_worker_never_takes_a_live_run() -> None:
    store = InMemoryStore()
    checkpoint = Checkpoint()
    workflow = held_workflow(checkpoint)
    async with executor(store, "worker-a") as a, executor(store, "worker-b") as b:
        handle = await a.execute(workflow, WorkflowOptions(id="w"))
        await checkpoint.reached.wait()
        b.register(workflow, name=(await store.load("w")).workflow_name)  # type: ignore[union-attr]
        report = await b.recover()
        assert report.resumed == []
        error = report.not_resumed["w"]
        assert isinstance(error, WorkflowAlreadyRunningError)
        assert "worker 'worker-a'" in str(error)
        checkpoint.released.set()
        assert await handle.result() == "done"
    assert checkpoint.calls == ["held"]  # it ran once, in worker-a only


async def test_an_expired_lease_is_taken_over_and_the_old_owner_is_fenced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryStore()
    checkpoint = Checkpoint()
    workflow = held_workflow(checkpoint)
    async with executor(store, "worker-a") as a, executor(store, "worker-b") as b:
        stale = await a.execute(workflow, WorkflowOptions(id="w"))
        await checkpoint.reached.wait()
        before = await store.load("w")
        assert before is not None
        b.register(workflow, name=before.workflow_name)
        await expire_lease(store, "w")  # worker-a stopped renewing: paused, or partitioned

        (taken,) = (await b.recover()).resumed
        stored = await store.load("w")
        assert stored is not None
        assert stored.lease is not None
        assert (stored.lease.owner, stored.lease.epoch) == ("worker-b", 2)

        checkpoint.released.set()  # both attempts of the held activity now finish
        assert await taken.result() == "done"
        with pytest.raises(StoreError, match="lost its lease"):
            await stale.result()
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("workflow w stopped")]
    assert "in worker worker-a" in warning.getMessage()  # the fenced owner says so in its log
    assert "lost its lease" in warning.getMessage()
    final = await store.load("w")
    assert final is not None
    assert final.status is WorkflowStatus.COMPLETED
    completed = [e.result for e in final.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert completed == ["held", 2]  # worker-a's late write was refused: nothing twice
    assert [e.id for e in final.history] == list(range(1, len(final.history) + 1))


async def test_a_worker_restarted_under_its_id_takes_its_runs_back_at_once() -> None:
    store = InMemoryStore()
    now = utc_now()
    checkpoint = Checkpoint()
    workflow = held_workflow(checkpoint)
    async with executor(store, "worker-a") as a:
        await a.execute(workflow, WorkflowOptions(id="w"))
        await checkpoint.reached.wait()
    stored = await store.load("w")
    assert stored is not None
    # The process died before it could hand the run back: its lease is still live.
    stored.lease = Lease(owner="worker-a", epoch=1, expires_at=now + timedelta(minutes=5))
    await store.save(stored)
    checkpoint.released.set()
    async with executor(store, "worker-b", workflows=[workflow]) as other:
        registered = stored.workflow_name
        assert registered is not None
        other.register(workflow, name=registered)
        assert (await other.recover()).resumed == []
    async with executor(store, "worker-a") as again:
        again.register(workflow, name=registered)
        (resumed,) = (await again.recover()).resumed
        assert await resumed.result() == "done"


async def test_a_closed_executor_hands_its_runs_back() -> None:
    store = InMemoryStore()
    checkpoint = Checkpoint()
    workflow = held_workflow(checkpoint)
    async with executor(store, "worker-a") as a:
        await a.execute(workflow, WorkflowOptions(id="w"))
        await checkpoint.reached.wait()
    stored = await store.load("w")
    assert stored is not None
    assert stored.status is WorkflowStatus.RUNNING
    assert stored.lease is None
    checkpoint.released.set()
    async with executor(store, "worker-b") as b:
        b.register(workflow, name=stored.workflow_name)
        (resumed,) = (await b.recover()).resumed
        assert await resumed.result() == "done"


class CutOffStore(InMemoryStore):
    """An in-memory store whose write of a timer hangs until cancelled: stored first, or not.

    Closing the executor then cuts the write off with no answer, as a
    shutdown does to a write in flight.
    """

    def __init__(self, *, lands: bool) -> None:
        super().__init__()
        self.lands = lands
        self.hanging = asyncio.Event()

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        added = state.history[len(state.history) - new_events :]
        if not any(e.type is EventType.TIMER_STARTED for e in added):
            return await super().compare_and_append(state, new_events, expected_version)
        if self.lands:
            await super().compare_and_append(state, new_events, expected_version)
        self.hanging.set()
        await asyncio.Event().wait()  # the answer never comes
        raise AssertionError("unreachable")


@pytest.mark.parametrize("lands", [True, False], ids=["stored", "not-stored"])
async def test_a_closed_executor_hands_back_a_run_whose_last_write_it_cut_off(lands: bool) -> None:
    async def waits(ctx: WorkflowContext, _: Any) -> str:
        await ctx.sleep(3600)
        return "woke"

    store = CutOffStore(lands=lands)
    async with executor(store, "worker-a") as a:
        await a.execute(waits, WorkflowOptions(id="w"))
        await asyncio.wait_for(store.hanging.wait(), 10)
    stored = await store.load("w")
    assert stored is not None
    assert stored.status is WorkflowStatus.RUNNING
    assert stored.lease is None  # handed back, not left to run out
    timers = [e for e in stored.history if e.type is EventType.TIMER_STARTED]
    assert len(timers) == (1 if lands else 0)


async def test_a_closing_executor_leaves_a_lease_another_worker_took_meanwhile() -> None:
    async def waits(ctx: WorkflowContext, _: Any) -> str:
        await ctx.sleep(3600)
        return "woke"

    store = CutOffStore(lands=True)
    theirs = Lease(owner="worker-b", epoch=2, expires_at=utc_now() + timedelta(hours=1))
    async with executor(store, "worker-a") as a:
        await a.execute(waits, WorkflowOptions(id="w"))
        await asyncio.wait_for(store.hanging.wait(), 10)
        taken = await store.load("w")  # worker-a's cut-off write landed; then b took the run
        assert taken is not None
        taken.lease = theirs
        await store.compare_and_append(taken, 0, taken.version)
    stored = await store.load("w")
    assert stored is not None
    assert stored.lease == theirs  # settling showed the run is b's: worker-a gave nothing up


async def test_an_idle_run_renews_its_lease_without_recording_anything() -> None:
    store = InMemoryStore()

    async def waits(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.wait_for_signal("go", timeout=5)

    async with executor(store, "worker-a", lease_duration=0.3, poll_interval=0.05) as a:
        await a.execute(waits, WorkflowOptions(id="w"))
        first = await store.load("w")
        while first is None or len(first.history) < 2:  # its timer is recorded
            await asyncio.sleep(0.01)
            first = await store.load("w")
        await asyncio.sleep(0.5)
        later = await store.load("w")
    assert first is not None
    assert later is not None
    assert first.lease is not None
    assert later.lease is not None
    assert later.lease.expires_at > first.lease.expires_at
    assert later.lease.epoch == first.lease.epoch
    assert later.history == first.history
    assert later.version > first.version


async def test_a_worker_starts_new_work_while_long_runs_go_on() -> None:
    store = InMemoryStore()
    long_runs = Checkpoint()

    async def long(ctx: WorkflowContext, _: Any) -> str:
        return str(await ctx.execute_activity(long_runs.activity, "long"))

    async def short(ctx: WorkflowContext, _: Any) -> str:
        return "short"

    worker = Worker(
        store, workflows=[long, short], concurrency=4, poll_interval=0.05, load_plugins=False
    )
    client = Executor(store, load_plugins=False)
    serving = asyncio.create_task(worker.run())
    try:
        long_handles = [
            await client.submit(f"{__name__}:{long.__qualname__}", WorkflowOptions(id=f"l{i}"))
            for i in range(2)
        ]
        await asyncio.wait_for(long_runs.reached.wait(), 5)
        handle = await client.submit(f"{__name__}:{short.__qualname__}", WorkflowOptions(id="s"))
        assert await asyncio.wait_for(handle.result(), 2) == "short"
        assert worker.running == 2  # the long ones go on
        long_runs.released.set()
        assert [await h.result() for h in long_handles] == ["long", "long"]
    finally:
        worker.stop()
        await serving
        await client.close()


async def test_a_worker_refuses_a_store_that_cannot_keep_leases(tmp_path: Any) -> None:
    worker = Worker(FileStore(str(tmp_path)), load_plugins=False)
    with pytest.raises(InvalidArgumentError, match="cannot keep leases"):
        await worker.run()
