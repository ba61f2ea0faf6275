"""Capability ``watch``, when things go wrong: a watcher that falls behind or loses its connection.

The engine sleeps on a watcher instead of polling, so a notice that is lost
without a word is a run that never wakes. A watcher may lose notices (its
connection was cut, it was not read for a while), but then it must say so
with ``None``, after which the caller reads the store, which must then hold
every change. These rules check each change was either delivered or covered
by a ``None`` that came after it was made.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from beluga_workflow import Capability, WorkflowState, WorkflowStore
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.expectations import (
    expect_absent,
    expect_state,
    listed,
    same_state,
)
from beluga_workflow_contract_tests.suite.watch import Watcher, _closing, _started, _watch
from beluga_workflow_contract_tests.violations import check, fail, short

__all__ = ["WatchRecoveryRules"]


@dataclass
class _Heard:
    """Everything a watcher yielded, each with the monotonic time it came."""

    items: list[tuple[float, str | None]] = field(default_factory=list)
    ended: BaseException | None = None

    def covers(self, workflow_id: str, since: float) -> bool:
        """Whether a notice of ``workflow_id``, or a ``None``, came at or after ``since``."""
        return any(t >= since and item in (workflow_id, None) for t, item in self.items)

    def seen(self, workflow_id: str) -> bool:
        return any(item == workflow_id for _, item in self.items)

    def describe(self, since: float) -> str:
        tail = [item for t, item in self.items if t >= since]
        return f"{len(tail)} items since then: {short(tail[:8])}"


async def _listen(watcher: Watcher, heard: _Heard) -> None:
    """Read ``watcher`` for ever, recording what came and when (the caller cancels)."""
    try:
        async for item in watcher:
            heard.items.append((time.monotonic(), item))
    except Exception as exc:
        heard.ended = exc
    else:
        heard.ended = StopAsyncIteration()


async def _drained(heard: _Heard, quiet: float = 0.1, bound: float = 10.0) -> None:
    """Wait until nothing new has come for ``quiet`` seconds (at most ``bound``)."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        count = len(heard.items)
        await asyncio.sleep(quiet)
        if len(heard.items) == count:
            return


@dataclass
class _Change:
    """A write the watcher must deliver or cover: what, on which id, begun when."""

    what: str
    workflow_id: str
    began: float
    state: WorkflowState | None
    """What the store must then hold (``None``: nothing, a delete)."""


async def _save(writer: WorkflowStore, state: WorkflowState, what: str) -> _Change:
    began = time.monotonic()
    await writer.save(state)
    return _Change(what, state.workflow_id, began, state)


async def _delete(writer: WorkflowStore, workflow_id: str, what: str) -> _Change:
    began = time.monotonic()
    await writer.delete(workflow_id)
    return _Change(what, workflow_id, began, None)


class WatchRecoveryRules:
    """Capability ``watch``: nothing is missed without a ``None``, behind or cut off."""

    watch_timeout: ClassVar[float] = 5.0
    """Seconds a watcher may take to yield its first ``None`` (as in ``WatchRules``)."""

    watch_backlog: ClassVar[int] = 1_000
    """Writes made while nobody reads the watcher in ``watch.falls_behind``; raise it past
    the store's own backlog bound (where it drops notices for a ``None``) to check that too."""

    watch_reconnect_timeout: ClassVar[float] = 20.0
    """Seconds a watcher may take, once its server is back, to deliver a new change."""

    @rule(
        "watch.falls_behind",
        "a watcher not read while many writes (saves and deletes of distinct ids) are made "
        "still yields, once read, the id of every state written or a None (read again), "
        "after which the store holds every write",
        capability=Capability.WATCH,
    )
    async def test_a_watcher_that_falls_behind_misses_nothing(self, run: ContractRun) -> None:
        watched = await run.open()
        writer = await run.open() if run.has(Capability.DURABLE) else watched
        watcher = _watch(watched)
        heard = _Heard()
        try:
            await _started(watcher, self.watch_timeout)
            latest: dict[str, WorkflowState | None] = {}
            for n in range(self.watch_backlog):
                if n % 10 == 9:  # every tenth write deletes the state the one before saved
                    gone = run.id(f"behind-{n - 1}")
                    await writer.delete(gone)
                    latest[gone] = None
                else:
                    state = sample_state(run.id(f"behind-{n}"), n, events=1)
                    await writer.save(state)
                    latest[state.workflow_id] = state
            await asyncio.sleep(0.2)  # let whatever carries the notices fill up
            began = time.monotonic()
            listener = asyncio.create_task(_listen(watcher, heard))
            last = sample_state(run.id("behind-last"), 1, events=1)
            bound = 5.0 + self.watch_backlog / 500
            try:
                await _drained(heard)
                await writer.save(last)
                while not heard.seen(last.workflow_id) and heard.ended is None:
                    if time.monotonic() - began > bound:
                        fail(
                            f"after {self.watch_backlog} writes made while the watcher was not "
                            f"read, the notice of a later write did not come within "
                            f"{bound:g} s ({heard.describe(0)})"
                        )
                    await asyncio.sleep(0.01)
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if heard.ended is not None and not heard.seen(last.workflow_id):
                fail(f"the watcher ended while its store was open: {short(heard.ended)}")
            resynced = any(item is None for _, item in heard.items)
            missed = [i for i in latest if not heard.seen(i)]
            if missed and not resynced:
                fail(
                    f"after {self.watch_backlog} writes to {len(latest)} ids made while the "
                    f"watcher was not read, it never yielded {len(missed)} of those ids (such "
                    f"as {short(missed[0])}), nor a None to say it missed some"
                )
            stored = {s.workflow_id: s for s in run.mine(await listed(watched))}
            for workflow_id, expected in latest.items():
                if expected is None:
                    check(
                        workflow_id not in stored,
                        f"list() after the watcher caught up still has {short(workflow_id)}, "
                        "deleted before",
                    )
                else:
                    same_state(
                        expected, stored.get(workflow_id), "list() after the watcher caught up"
                    )
        finally:
            await _closing([watcher])

    @rule(
        "watch.reconnects",
        "a watcher whose connection to the server is cut and restored misses nothing: each "
        "write made during and after the cut (save, delete) is yielded, or a None comes after "
        "it was made, and the watched store then reads every write",
        capability=Capability.WATCH,
    )
    async def test_a_watcher_cut_off_misses_nothing(self, run: ContractRun) -> None:
        watched, outage = await run.open_cut_off()
        if not run.has(Capability.DURABLE):
            pytest.skip("a store that is not durable has no other store to write while cut off")
        writer = await run.open()
        doomed = [sample_state(run.id(f"deleted-in-cut-{n}"), 0, events=1) for n in range(2)]
        for state in doomed:
            await writer.save(state)
        watcher = _watch(watched)
        heard = _Heard()
        listener: asyncio.Task[None] | None = None
        changes: list[_Change] = []
        try:
            await _started(watcher, self.watch_timeout)
            listener = asyncio.create_task(_listen(watcher, heard))
            for cut in (1, 2):
                await outage.stop()
                await asyncio.sleep(0.3)  # long enough for the store to notice
                name = f"cut {cut}"
                state = sample_state(run.id(f"saved-in-cut-{cut}"), cut, events=1)
                changes.append(await _save(writer, state, f"a save during {name}"))
                changes.append(
                    await _delete(writer, doomed[cut - 1].workflow_id, f"a delete during {name}")
                )
                await asyncio.sleep(0.1)
                await outage.start()
                state = sample_state(run.id(f"saved-after-cut-{cut}"), cut, events=1)
                changes.append(await _save(writer, state, f"a save just after {name}"))
                await self._until_live(run, writer, heard, changes, name)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await _closing([watcher])
        for change in changes:
            if not heard.covers(change.workflow_id, change.began):
                fail(
                    f"{change.what} (of {short(change.workflow_id)}) was neither yielded by the "
                    f"watcher nor followed by a None; {heard.describe(change.began)}"
                )
        for change in changes:
            if change.state is None:
                await expect_absent(watched, change.workflow_id, "after the cut")
            else:
                await expect_state(watched, change.state, "after the cut")

    async def _until_live(
        self,
        run: ContractRun,
        writer: WorkflowStore,
        heard: _Heard,
        changes: list[_Change],
        name: str,
    ) -> None:
        """Write a fresh id now and then until the watcher yields one: it is live again."""
        began = time.monotonic()
        probes: list[str] = []
        while True:
            if heard.ended is not None:
                fail(
                    f"the watcher ended after {name}, while its store was open: "
                    f"{short(heard.ended)}"
                )
            if any(heard.seen(probe) for probe in probes):
                return
            if time.monotonic() - began > self.watch_reconnect_timeout:
                fail(
                    f"after {name} the watcher yielded none of {len(probes)} later writes "
                    f"within {self.watch_reconnect_timeout:g} s of the server coming back "
                    f"({heard.describe(began)})"
                )
            state = sample_state(run.id(f"probe-{name.replace(' ', '-')}-{len(probes)}"), 0)
            changes.append(await _save(writer, state, f"a save after {name}"))
            probes.append(state.workflow_id)
            await asyncio.sleep(0.1)
