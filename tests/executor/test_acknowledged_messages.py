"""Nothing acknowledged is lost: writes are conditional, and a lost answer is read back.

Another executor on the same store stands for another process (the
multi-process proof is in ``tests/reliability``). Faults come from the
contract suite's :func:`with_faults`: ``before`` (the store never saw the
write) and ``after`` (it did the write, the answer was lost).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from beluga_workflow import (
    EventType,
    RetryPolicy,
    Signal,
    WorkflowCanceledError,
    WorkflowContext,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow.errors import StoreUnavailableError
from beluga_workflow.executor import Executor
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow_contract_tests.faults import FaultKind, with_faults
from tests.executor.conftest import Checkpoint

PATIENT = RetryPolicy(max_attempts=50, initial_interval=0.001, max_interval=0.01, jitter=0)
KINDS: list[FaultKind] = ["before", "after"]


def assert_well_formed(state: WorkflowState | None) -> WorkflowState:
    """Event ids are positions, and no event is stored twice."""
    assert state is not None
    assert [e.id for e in state.history] == list(range(1, len(state.history) + 1))
    keys = [(e.type, e.timestamp, e.activity_name, e.attempt, e.signal_name) for e in state.history]
    assert len(keys) == len(set(keys)), "an event was stored twice"
    return state


def signals_in(state: WorkflowState, name: str = "go") -> list[Any]:
    return [
        e.signal_payload
        for e in state.history
        if e.type is EventType.SIGNAL_RECEIVED and e.signal_name == name
    ]


def held_then_signal(checkpoint: Checkpoint, ran: list[str]) -> Any:
    async def second(label: str) -> str:
        ran.append(label)
        return label

    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        await ctx.execute_activity(checkpoint.activity, "first")
        await ctx.execute_activity(second, "second")
        return await ctx.wait_for_signal("go", timeout=30)

    return workflow


@pytest.mark.parametrize("kind", KINDS)
async def test_an_owner_write_whose_answer_is_lost_is_stored_once(kind: FaultKind) -> None:
    store = with_faults(InMemoryStore())

    async def step(x: int) -> int:
        store.fail_next(kind)  # the write of this activity's outcome fails
        return x

    async def workflow(ctx: WorkflowContext, n: int) -> list[int]:
        return [await ctx.execute_activity(step, i) for i in range(n)]

    async with Executor(store, load_plugins=False, store_retry=PATIENT) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="w", input=3))
        assert await handle.result() == [0, 1, 2]
    state = assert_well_formed(await store.inner.load("w"))
    completed = [e.result for e in state.history if e.type is EventType.ACTIVITY_COMPLETED]
    assert completed == [0, 1, 2]
    assert store.faults[f"compare_and_append:{kind}"] == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_a_signal_from_another_process_survives_a_fault_of_the_owner(kind: FaultKind) -> None:
    inner = InMemoryStore()
    store = with_faults(inner)
    checkpoint, ran = Checkpoint(), list[str]()
    workflow = held_then_signal(checkpoint, ran)
    async with Executor(store, load_plugins=False, store_retry=PATIENT) as live:
        handle = await live.execute(workflow, WorkflowOptions(id="w"))
        await asyncio.wait_for(checkpoint.reached.wait(), 10)
        async with Executor(inner, load_plugins=False) as other:  # acknowledged here
            await other.signal("w", Signal(name="go", payload={"n": 1}))
        store.fail_next(kind)  # the owner's next write meets a transient fault
        checkpoint.released.set()
        assert await asyncio.wait_for(handle.result(), 10) == {"n": 1}
    state = assert_well_formed(await inner.load("w"))
    assert state.status is WorkflowStatus.COMPLETED
    assert signals_in(state) == [{"n": 1}]
    assert ran == ["second"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cancel_from_another_process_survives_a_fault_of_the_owner(kind: FaultKind) -> None:
    inner = InMemoryStore()
    store = with_faults(inner)
    checkpoint, ran = Checkpoint(), list[str]()
    workflow = held_then_signal(checkpoint, ran)
    async with Executor(store, load_plugins=False, store_retry=PATIENT) as live:
        handle = await live.execute(workflow, WorkflowOptions(id="w"))
        await asyncio.wait_for(checkpoint.reached.wait(), 10)
        async with Executor(inner, load_plugins=False) as other:
            await other.cancel("w")
        store.fail_next(kind)
        checkpoint.released.set()
        with pytest.raises(WorkflowCanceledError):
            await asyncio.wait_for(handle.result(), 10)
        assert handle.status is WorkflowStatus.CANCELED
    state = assert_well_formed(await inner.load("w"))
    assert state.status is WorkflowStatus.CANCELED
    assert state.history[-1].type is EventType.WORKFLOW_CANCELED
    assert ran == [], "an activity ran after the acknowledged cancel"


async def test_a_signal_whose_answer_is_lost_is_stored_once() -> None:
    inner = InMemoryStore()
    checkpoint, ran = Checkpoint(), list[str]()
    async with Executor(inner, load_plugins=False) as live:
        await live.execute(held_then_signal(checkpoint, ran), WorkflowOptions(id="w"))
        await asyncio.wait_for(checkpoint.reached.wait(), 10)
        faulty = with_faults(inner)
        faulty.fail_next("after")
        async with Executor(faulty, load_plugins=False, store_retry=PATIENT) as other:
            await other.signal("w", Signal(name="go", payload="once"))
        assert faulty.faults["compare_and_append:after"] == 1
        checkpoint.released.set()
        assert await (await live.get_handle("w")).result() == "once"
    assert signals_in(assert_well_formed(await inner.load("w"))) == ["once"]


class LateLanding(InMemoryStore):
    """A store whose next write fails at once but lands just before the write after it.

    That is a write whose answer was lost and which reached the store only
    after the writer had read back and found it missing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arm = False
        self.late: tuple[WorkflowState, int, int] | None = None

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        if self.late is not None:
            late, self.late = self.late, None
            await super().compare_and_append(*late)
        if self.arm:
            self.arm = False
            self.late = (state.model_copy(deep=True), new_events, expected_version)
            raise StoreUnavailableError("the answer was lost (injected)")
        return await super().compare_and_append(state, new_events, expected_version)


async def test_a_signal_that_lands_after_its_read_back_is_stored_once() -> None:
    store = LateLanding()
    checkpoint, ran = Checkpoint(), list[str]()
    async with Executor(store, load_plugins=False) as live:
        await live.execute(held_then_signal(checkpoint, ran), WorkflowOptions(id="w"))
        await asyncio.wait_for(checkpoint.reached.wait(), 10)
        async with Executor(store, load_plugins=False, store_retry=PATIENT) as other:
            store.arm = True
            await other.signal("w", Signal(name="go", payload="once"))
        assert store.late is None  # the lost write landed before the retry
        assert not store.arm
        checkpoint.released.set()
        assert await (await live.get_handle("w")).result() == "once"
    assert signals_in(assert_well_formed(await store.load("w"))) == ["once"]


async def test_a_start_whose_answer_is_lost_starts_one_run() -> None:
    store = with_faults(InMemoryStore())

    async def workflow(ctx: WorkflowContext, x: int) -> int:
        return x + 1

    store.fail_next("after")
    async with Executor(store, load_plugins=False, store_retry=PATIENT) as executor:
        handle = await executor.execute(workflow, WorkflowOptions(id="w", input=1))
        assert await handle.result() == 2
    state = assert_well_formed(await store.inner.load("w"))
    assert state.run_id == handle.run_id
    assert store.faults["compare_and_save:after"] == 1


async def test_a_signal_stored_before_a_timed_wait_is_received_not_timed_out() -> None:
    inner = InMemoryStore()
    go_on = asyncio.Event()

    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        await ctx.execute_activity(lambda x: x, 1, name="one")
        await go_on.wait()  # the signal is stored meanwhile, unknown to this run
        return await ctx.wait_for_signal("go", timeout=0.2)

    async with Executor(inner, load_plugins=False) as live:
        handle = await live.execute(workflow, WorkflowOptions(id="w"))
        for _ in range(1000):
            state = await inner.load("w")
            if state is not None and len(state.history) >= 3:
                break
            await asyncio.sleep(0.001)
        async with Executor(inner, load_plugins=False) as other:
            await other.signal("w", Signal(name="go", payload="here"))
        go_on.set()
        assert await asyncio.wait_for(handle.result(), 10) == "here"
    state = assert_well_formed(await inner.load("w"))
    assert [e.type for e in state.history if e.type.value.startswith("timer")] == []

    # Replaying the history gives the same answer.
    state.status = WorkflowStatus.RUNNING
    state.history = state.history[:-1]
    await inner.save(state)
    go_on.set()
    async with Executor(inner, load_plugins=False, workflows=[workflow]) as again:
        report = await again.recover()
        assert await report.resumed[0].result() == "here"


async def test_signals_and_cancels_racing_faulty_owner_writes_are_all_honoured() -> None:
    inner = InMemoryStore()
    store = with_faults(inner, rate=0.3, seed=12)
    count = 30

    async def step(x: int) -> int:
        await asyncio.sleep(random.random() * 0.003)
        return x

    async def workflow(ctx: WorkflowContext, _: Any) -> Any:
        for i in range(5):
            await ctx.execute_activity(step, i)
        return await ctx.wait_for_signal("go", timeout=60)

    senders = with_faults(inner, rate=0.3, seed=13)
    async with (
        Executor(store, load_plugins=False, store_retry=PATIENT) as live,
        Executor(senders, load_plugins=False, store_retry=PATIENT) as other,
    ):
        handles = [await live.execute(workflow, WorkflowOptions(id=f"w{i}")) for i in range(count)]

        async def message(i: int) -> None:
            await asyncio.sleep(random.random() * 0.02)
            if i % 5 == 0:
                await other.cancel(f"w{i}")
            else:
                await other.signal(f"w{i}", Signal(name="go", payload=i))

        await asyncio.gather(*(message(i) for i in range(count)))
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(h.result(), 30) for h in handles), return_exceptions=True
        )
    assert sum(store.faults.values()) > 10
    assert sum(senders.faults.values()) > 3
    for i, outcome in enumerate(outcomes):
        state = assert_well_formed(await inner.load(f"w{i}"))
        if i % 5 == 0:
            assert isinstance(outcome, WorkflowCanceledError), (i, outcome)
            assert state.status is WorkflowStatus.CANCELED
            assert state.history[-1].type is EventType.WORKFLOW_CANCELED
        else:
            assert outcome == i
            assert signals_in(state) == [i]
