"""Checks for server-backed stores that the in-process suite cannot make.

They need a real server and a way to cut it off (see :mod:`.outage`), so a
provider's own tests call them::

    proxy = OutageProxy("127.0.0.1", 6379)
    await proxy.start()
    store = MyStore(f"mine://:s3cret@127.0.0.1:{proxy.port}", operation_timeout=2.0)
    await check_bounded_outage(store, proxy, bound=2.0, secret="s3cret")
    await check_first_call_after_recovery(store, proxy)
    await check_running_workflow_stops(store, proxy, within=4.0)

Anything with ``async stop()`` and ``async start()`` can stand for the proxy
(a broker process the test owns, for instance).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from beluga_workflow import (
    ConcurrencyConflictError,
    EventType,
    Executor,
    HistoryEvent,
    StoreError,
    StoreUnavailableError,
    WorkflowContext,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
)

__all__ = [
    "SLACK",
    "Outage",
    "check_bounded_outage",
    "check_first_call_after_recovery",
    "check_one_writer_wins",
    "check_outage_and_recovery",
    "check_running_workflow_stops",
]

SLACK = 1.0
"""Seconds allowed beyond a store's own bound for the event loop and the proxy."""


class Outage(Protocol):
    """Cuts the store off from its server (``stop``) and lets it through again (``start``)."""

    async def stop(self) -> None: ...

    async def start(self) -> None: ...


def operations(store: WorkflowStore) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    """Every operation ``store`` offers, by name, as a call on an id of its own."""
    state = WorkflowState(
        workflow_id="op-during-outage",
        history=[HistoryEvent(id=0, type=EventType.WORKFLOW_STARTED)],
    )
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("save", lambda: store.save(state)),
        ("load", lambda: store.load(state.workflow_id)),
        ("list", lambda: store.list()),
        ("delete", lambda: store.delete(state.workflow_id)),
    ]
    append = getattr(store, "append", None)
    if callable(append):
        calls.append(("append", lambda: append(state, 1)))
    compare_and_save = getattr(store, "compare_and_save", None)
    if callable(compare_and_save):
        calls.append(("compare_and_save", lambda: compare_and_save(state, 0)))
    return calls


async def check_bounded_outage(
    store: WorkflowStore, proxy: Outage, *, bound: float, secret: str | None = None
) -> list[StoreUnavailableError]:
    """While ``proxy`` is stopped, every operation fails within ``bound`` (plus :data:`SLACK`)
    with a ``StoreUnavailableError`` that names the operation and the bound, and
    never shows ``secret``. ``proxy`` is started again at the end.

    Returns the errors, so the caller can check more of what they say.
    """
    await store.save(WorkflowState(workflow_id="before-outage"))
    await proxy.stop()
    errors: list[StoreUnavailableError] = []
    try:
        for name, call in operations(store):
            started = time.monotonic()
            try:
                await call()
            except StoreUnavailableError as exc:
                errors.append(exc)
            else:
                raise AssertionError(f"{name} with the server cut off did not raise")
            waited = time.monotonic() - started
            message = str(errors[-1])
            assert waited < bound + SLACK, f"{name} gave up after {waited:.1f}s, bound {bound}s"
            assert re.search(rf"\b{name}\b", message), f"the error does not name {name}: {message}"
            assert f"{bound:g}s" in message, f"the error does not say the bound: {message}"
            if secret is not None:
                assert secret not in message, f"the error shows the secret: {message}"
                assert secret not in repr(store), f"the store's repr shows the secret: {store!r}"
    finally:
        await proxy.start()
    return errors


async def check_first_call_after_recovery(store: WorkflowStore, proxy: Outage) -> None:
    """The first call once the server is back succeeds on the same store instance.

    Twice: after an outage the store noticed (a call failed during it), and
    after one it did not (cut off and restored between two calls, as a quick
    server restart is). Nothing saved before is lost.
    """
    await store.save(WorkflowState(workflow_id="before-outage"))
    await proxy.stop()
    try:
        await store.load("before-outage")
    except StoreUnavailableError:
        pass
    else:
        raise AssertionError("a load with the server cut off did not raise")
    finally:
        await proxy.start()
    await store.save(WorkflowState(workflow_id="after-noticed-outage"))
    await proxy.stop()
    await proxy.start()
    await store.save(WorkflowState(workflow_id="after-unnoticed-outage"))
    found = {state.workflow_id for state in await store.list()}
    wanted = {"before-outage", "after-noticed-outage", "after-unnoticed-outage"}
    assert wanted <= found, f"after the outages the store holds {found}"


async def check_running_workflow_stops(
    store: WorkflowStore, proxy: Outage, *, within: float
) -> float:
    """A workflow running on ``store`` stops (``result()`` raises ``StoreError``) within
    ``within`` seconds of the server going away, with the engine's default
    store retries; it stays ``running`` in the store, as of its last write.

    Returns the seconds it took, for the documentation.
    """
    cut = asyncio.Event()
    cut_at: list[float] = []

    async def step(n: int) -> int:
        if n == 2:
            await proxy.stop()
            cut_at.append(time.monotonic())
            cut.set()
        return n

    async def stepping(ctx: WorkflowContext, steps: int) -> list[int]:
        return [await ctx.execute_activity(step, n) for n in range(steps)]

    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(stepping, WorkflowOptions(id="stops-in-outage", input=5))
        try:
            await handle.result()
        except StoreError:
            took = time.monotonic() - cut_at[0]
        else:
            raise AssertionError("the workflow completed with its store cut off")
        finally:
            await proxy.start()
    assert cut.is_set()
    assert took < within, f"the workflow stopped {took:.1f}s after the outage began, not {within}s"
    stored = await store.load("stops-in-outage")
    assert stored is not None, "the workflow's state is gone after the outage"
    assert stored.status is WorkflowStatus.RUNNING, f"after the outage it is {stored.status}"
    return took


async def check_outage_and_recovery(
    store: WorkflowStore, proxy: Outage, *, bound: float
) -> StoreUnavailableError:
    """Both checks above in one: every call is bounded, and the first one after works."""
    errors = await check_bounded_outage(store, proxy, bound=bound)
    await check_first_call_after_recovery(store, proxy)
    return errors[0]


async def check_one_writer_wins(first: WorkflowStore, second: WorkflowStore) -> None:
    """Two stores on one backend race ``compare_and_save`` on one id: exactly one wins."""
    await first.save(WorkflowState(workflow_id="raced", version=3))
    results = await asyncio.gather(
        first.compare_and_save(WorkflowState(workflow_id="raced", input="first"), 3),  # type: ignore[attr-defined]
        second.compare_and_save(WorkflowState(workflow_id="raced", input="second"), 3),  # type: ignore[attr-defined]
        return_exceptions=True,
    )
    winners = [i for i, r in enumerate(results) if r == 4]
    losers = [r for r in results if isinstance(r, ConcurrencyConflictError)]
    assert (len(winners), len(losers)) == (1, 1), f"compare_and_save results: {results!r}"
    stored = await second.load("raced")
    assert stored is not None
    assert stored.version == 4
    assert stored.input == ("first", "second")[winners[0]]
