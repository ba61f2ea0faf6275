"""Capability ``watch``: the store says which states changed, so the engine need not poll.

A worker waits for a run to become claimable, a run for a signal or a cancel
from another process, a handle for its run to finish: each wakes on a notice
from ``watch()`` and reads the store again. So every kind of write, made by
any store on the backend, must be noticed, by every watcher, promptly; and a
watcher must end when its store closes, or the engine's shutdown hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

from beluga_workflow import Capability, WorkflowState, WorkflowStore
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import next_step, sample_state
from beluga_workflow_contract_tests.violations import check, fail, short

__all__ = ["WatchRules"]

Watcher = AsyncIterator[str | None]


def _watch(store: WorkflowStore) -> Watcher:
    method = getattr(store, "watch", None)
    if not callable(method):
        fail("the store has no watch() method")
    watcher = method()
    check(
        hasattr(watcher, "__anext__") and hasattr(watcher, "aclose"),
        f"watch() returned {short(watcher)}, not an async iterator (write it as an async "
        "generator)",
    )
    return watcher  # type: ignore[no-any-return]


async def _next(watcher: Watcher, bound: float, what: str) -> str | None:
    """The watcher's next item, which must come within ``bound`` seconds."""
    try:
        async with asyncio.timeout(bound):
            return await anext(watcher)
    except TimeoutError:
        fail(f"{what}: the watcher yielded nothing within {bound:g} s")
    except StopAsyncIteration:
        fail(f"{what}: the watcher ended while its store was open")


async def _started(watcher: Watcher, bound: float) -> None:
    """Wait for the first item, which must be ``None`` (the subscription is live)."""
    first = await _next(watcher, bound, "waiting for the first item of watch()")
    check(first is None, f"the first item of watch() was {short(first)}, expected None")


async def _expect_notice(watcher: Watcher, workflow_id: str, bound: float, what: str) -> None:
    """Read notices (other ids and None allowed) until ``workflow_id`` comes, within ``bound``."""
    try:
        async with asyncio.timeout(bound):
            async for item in watcher:
                if item == workflow_id:
                    return
    except TimeoutError:
        fail(f"no notice of {what} on {workflow_id!r} within {bound:g} s")
    fail(f"the watcher ended, while its store was open, before a notice of {what}")


async def _closing(watchers: list[Watcher]) -> None:
    for watcher in watchers:
        aclose: Callable[[], Awaitable[Any]] | None = getattr(watcher, "aclose", None)
        if aclose is not None:
            await aclose()


def _writes(
    run: ContractRun, store: WorkflowStore
) -> list[tuple[str, WorkflowState, tuple[Any, ...]]]:
    """(kind, state stored before the watcher starts, arguments) for each kind of write.

    Each kind writes its own id, so a notice of one cannot stand in for another.
    """
    arguments: dict[str, Callable[[WorkflowState], tuple[Any, ...]]] = {
        "save": lambda s: (next_step(s, 1),),
        "delete": lambda s: (s.workflow_id,),
    }
    if run.has(Capability.APPEND_HISTORY):
        arguments["append"] = lambda s: (next_step(s, 1), 1)
    if run.has(Capability.OPTIMISTIC_CONCURRENCY):
        arguments["compare_and_save"] = lambda s: (s, s.version)
    if run.has(Capability.COMPARE_AND_APPEND):
        arguments["compare_and_append"] = lambda s: (next_step(s, 1), 1, s.version)
    writes: list[tuple[str, WorkflowState, tuple[Any, ...]]] = []
    for kind, given in arguments.items():
        state = sample_state(run.id(f"watched-{kind}"), 1, events=2)
        writes.append((kind, state, given(state)))
    return writes


class WatchRules:
    """Capability ``watch`` (protocol SupportsWatch)."""

    watch_timeout: ClassVar[float] = 5.0
    """Seconds a watcher may take to yield what a rule waits for."""

    @rule(
        "watch.first_is_resync",
        "the first item of watch() is None, yielded once the subscription is live",
        capability=Capability.WATCH,
    )
    async def test_watch_starts_with_none(self, run: ContractRun) -> None:
        watcher = _watch(await run.open())
        try:
            await _started(watcher, self.watch_timeout)
        finally:
            await _closing([watcher])

    @rule(
        "watch.sees_every_write",
        "after its first None, watch() yields the id of every state written by another "
        "store on the same backend (the same store when not durable): by save, delete "
        "and each optional write (append, compare_and_save, compare_and_append)",
        capability=Capability.WATCH,
    )
    async def test_watch_sees_every_write(self, run: ContractRun) -> None:
        watched = await run.open()
        writer = await run.open() if run.has(Capability.DURABLE) else watched
        writes = _writes(run, writer)
        for _, state, _ in writes:
            await writer.save(state)
        watcher = _watch(watched)
        try:
            await _started(watcher, self.watch_timeout)
            for kind, state, arguments in writes:
                await getattr(writer, kind)(*arguments)
                await _expect_notice(watcher, state.workflow_id, self.watch_timeout, kind)
        finally:
            await _closing([watcher])

    @rule(
        "watch.many_watchers",
        "several watch() iterators of one store each yield the id of a state written",
        capability=Capability.WATCH,
    )
    async def test_every_watcher_sees_a_write(self, run: ContractRun) -> None:
        watched = await run.open()
        writer = await run.open() if run.has(Capability.DURABLE) else watched
        watchers = [_watch(watched), _watch(watched)]
        try:
            for watcher in watchers:
                await _started(watcher, self.watch_timeout)
            state = sample_state(run.id("seen-by-all"), 1, events=1)
            await writer.save(state)
            for n, watcher in enumerate(watchers, start=1):
                what = f"save (watcher {n} of {len(watchers)})"
                await _expect_notice(watcher, state.workflow_id, self.watch_timeout, what)
        finally:
            await _closing(watchers)

    @rule(
        "watch.ends_on_close",
        "closing the store ends its watch() iterators",
        capability=Capability.WATCH,
    )
    async def test_watch_ends_when_the_store_closes(self, run: ContractRun) -> None:
        store = await run.open()
        watcher = _watch(store)
        try:
            await _started(watcher, self.watch_timeout)
            await store.close()
            try:
                async with asyncio.timeout(self.watch_timeout):
                    async for _ in watcher:
                        pass
            except TimeoutError:
                fail(f"the watcher did not end within {self.watch_timeout:g} s of close()")
        finally:
            await _closing([watcher])
