"""A signal's notice wakes the waiting run, whatever the order notices and answers come in.

A store's watch may deliver the notice of a write before the write's answer
(NATS does, on the writer's own connection), and notices may come while the
run is being read back. Every executor here polls once an hour, so a signal
that arrives at all was pushed; the bound on each wait only stops a broken
run from hanging the suite. Leases last an hour too: a renewal, a write,
would meet a missed signal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from beluga_workflow import EventType, Signal, WorkflowContext, WorkflowOptions, WorkflowState
from beluga_workflow.executor import Executor
from beluga_workflow.history import Journal, new_event
from beluga_workflow.own_notices import OwnNotices
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.read_backs import ReadBacks

NO_POLL = 3600.0
HANG = 10.0
"""Seconds after which a wait counts as never ending (each takes milliseconds)."""


class NoticeFirstStore(InMemoryStore):
    """An in-memory store whose writes return only once every watcher has taken their notice.

    It can also hold one load, armed by the next write of a signal, after it
    has read the run: a read-back that began before the next change.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queues: list[asyncio.Queue[str | None]] = []
        self.loads = 0
        self.hold_after_signal = False
        self._hold_next = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.timers = 0
        """Timers the last write stored: the run waits on that many signals once it wrote them."""
        self.wrote = asyncio.Condition()

    async def watch(self) -> AsyncIterator[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            yield None
            while True:
                notice = await queue.get()
                yield notice
                queue.task_done()  # the watcher asked for the next one: it has dealt with this
        finally:
            self._queues.remove(queue)

    async def _told(self, state: WorkflowState) -> None:
        async with self.wrote:
            self.timers = [event.type for event in state.history].count(EventType.TIMER_STARTED)
            self.wrote.notify_all()
        if self.hold_after_signal and state.history[-1].type is EventType.SIGNAL_RECEIVED:
            self.hold_after_signal, self._hold_next = False, True
        for queue in list(self._queues):
            queue.put_nowait(state.workflow_id)
        await asyncio.gather(*(queue.join() for queue in list(self._queues)))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.loads += 1
        state = await super().load(workflow_id)
        if self._hold_next:
            self._hold_next = False
            self.holding.set()
            await self.release.wait()
        return state

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        await self._told(state)
        return version


async def until_waiting(store: NoticeFirstStore, timers: int) -> None:
    """Until the run has stored ``timers`` timers: it waits, having written all it will."""
    async with asyncio.timeout(HANG), store.wrote:
        await store.wrote.wait_for(lambda: store.timers >= timers)


def executor(store: InMemoryStore, worker_id: str) -> Executor:
    return Executor(
        store,
        load_plugins=False,
        poll_interval=NO_POLL,
        worker_id=worker_id,
        lease_duration=NO_POLL,  # no renewal either, which would meet a missed signal
    )


async def takes_pings(ctx: WorkflowContext, count: int) -> list[Any]:
    return [await ctx.wait_for_signal("ping") for _ in range(count)]


async def takes_a_and_b(ctx: WorkflowContext, _: Any) -> list[Any]:
    return list(await asyncio.gather(ctx.wait_for_signal("a"), ctx.wait_for_signal("b")))


async def test_signals_are_pushed_when_own_notices_come_before_the_answers() -> None:
    store = NoticeFirstStore()
    count = 5
    async with executor(store, "owner") as owner, executor(store, "client") as client:
        handle = await owner.execute(takes_pings, WorkflowOptions(id="w", input=count))
        loads = 0
        for n in range(count):
            await until_waiting(store, timers=n + 1)
            if n:  # the client read the run once, the owner once: its own notice caused none
                assert store.loads - loads == 2
            loads = store.loads
            await client.signal("w", Signal(name="ping", payload=n))
        assert await asyncio.wait_for(handle.result(), HANG) == list(range(count))


async def test_a_notice_during_a_read_back_is_followed_by_another_read() -> None:
    store = NoticeFirstStore()
    async with executor(store, "owner") as owner, executor(store, "client") as client:
        handle = await owner.execute(takes_a_and_b, WorkflowOptions(id="w"))
        await until_waiting(store, timers=2)
        store.hold_after_signal = True
        await client.signal("w", Signal(name="a", payload="first"))
        await asyncio.wait_for(store.holding.wait(), HANG)  # the owner read a, not yet b
        await client.signal("w", Signal(name="b", payload="second"))
        store.release.set()
        assert await asyncio.wait_for(handle.result(), HANG) == ["first", "second"]


class NoticeBeforeAnswer(InMemoryStore):
    """Tells the journal of each write's notice before the write returns, as NATS does."""

    journal: Journal | None = None
    own: list[bool]

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        version = await super().compare_and_append(state, new_events, expected_version)
        assert self.journal is not None
        self.own.append(self.journal.expects_own_notice())
        return version


async def test_a_notice_before_the_answer_is_the_runs_own_and_the_next_is_not() -> None:
    store = NoticeBeforeAnswer()
    store.own = []
    state = WorkflowState(workflow_id="w")
    await store.save(state)
    journal = store.journal = Journal(store, state)
    for _ in range(3):
        await journal.record([new_event(EventType.TIMER_STARTED)])
    assert store.own == [True, True, True]
    assert not journal.expects_own_notice()  # a signal's, say: the run reads itself back


def test_a_write_is_expected_to_be_notified_from_the_moment_it_is_sent() -> None:
    own = OwnNotices()
    with own.writing() as write:
        assert own.take()  # the notice came before the answer: still the run's own
        write.stored = True
    assert not own.take()  # the next one is another process's


def test_a_write_stored_expects_its_notice_after_its_answer_too() -> None:
    own = OwnNotices()
    with own.writing() as write:
        write.stored = True
    assert own.take()
    assert not own.take()


def test_a_write_not_stored_takes_its_expected_notice_back() -> None:
    own = OwnNotices()
    with own.writing():
        pass  # refused: another process stored something first
    assert own.expected == 0


def fail_writing(own: OwnNotices, *, notice_meanwhile: bool) -> None:
    """A write that fails, with or without a notice (another process's) taken meanwhile."""

    def write() -> None:
        with own.writing():
            if notice_meanwhile:
                own.take()
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        write()


def test_a_failed_write_takes_its_expected_notice_back() -> None:
    own = OwnNotices()
    fail_writing(own, notice_meanwhile=False)
    assert own.expected == 0
    assert not own.take()


def test_a_notice_taken_during_a_failed_write_leaves_nothing_expected() -> None:
    own = OwnNotices()
    fail_writing(own, notice_meanwhile=True)
    assert own.expected == 0


async def test_read_backs_asked_for_during_one_make_exactly_one_more() -> None:
    read_backs = ReadBacks()
    reads: list[int] = []
    go_on, second_done = asyncio.Event(), asyncio.Event()

    async def read() -> None:
        reads.append(len(reads))
        await go_on.wait()
        if len(reads) == 2:
            second_done.set()

    read_backs.request("w", read)
    await asyncio.sleep(0)
    for _ in range(3):
        read_backs.request("w", read)
    assert "w" in read_backs
    go_on.set()
    await asyncio.wait_for(second_done.wait(), HANG)
    for _ in range(5):  # a third read, if one were asked for, would have begun
        await asyncio.sleep(0)
    assert reads == [0, 1]
    assert "w" not in read_backs


async def test_the_read_made_again_is_the_latest_asked_for() -> None:
    read_backs = ReadBacks()
    made: list[str] = []
    go_on, done = asyncio.Event(), asyncio.Event()

    def reader(name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def read() -> None:
            made.append(name)
            await go_on.wait()
            if name == "new run":
                done.set()

        return read

    read_backs.request("w", reader("old run"))
    await asyncio.sleep(0)
    read_backs.request("w", reader("old run again"))
    read_backs.request("w", reader("new run"))  # the id's run continued as new meanwhile
    go_on.set()
    await asyncio.wait_for(done.wait(), HANG)
    assert made == ["old run", "new run"]
