"""Checks for server-backed stores that the in-process suite cannot make.

They need a real server and a way to cut it off (see :mod:`.outage`), so a
provider's own tests call them::

    proxy = OutageProxy("127.0.0.1", 6379)
    await proxy.start()
    store = MyStore(f"mine://127.0.0.1:{proxy.port}", operation_timeout=2.0)
    await check_outage_and_recovery(store, proxy, bound=2.0)
"""

from __future__ import annotations

import asyncio
import time

from beluga_workflow import (
    ConcurrencyConflictError,
    StoreUnavailableError,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow_contract_tests.outage import OutageProxy

__all__ = ["check_one_writer_wins", "check_outage_and_recovery"]

SLACK = 3.0
"""Seconds allowed beyond a store's own bound for the event loop and the proxy."""


async def check_outage_and_recovery(
    store: WorkflowStore, proxy: OutageProxy, *, bound: float, reconnect_within: float = 10.0
) -> StoreUnavailableError:
    """While ``proxy`` is stopped a call fails with ``StoreUnavailableError`` within ``bound``;
    once it is started again the same store instance works and has lost nothing.

    Returns the error, so the caller can check what it says (address, masking).
    """
    await store.save(WorkflowState(workflow_id="before-outage"))
    await proxy.stop()
    started = time.monotonic()
    try:
        await store.save(WorkflowState(workflow_id="during-outage"))
    except StoreUnavailableError as exc:
        error = exc
    else:
        raise AssertionError("a save with the server cut off did not raise StoreUnavailableError")
    waited = time.monotonic() - started
    assert waited < bound + SLACK, f"the store gave up after {waited:.1f}s, bound {bound}s"
    await proxy.start()
    deadline = time.monotonic() + reconnect_within
    while True:  # some clients reconnect in the background
        try:
            await store.save(WorkflowState(workflow_id="after-outage"))
            break
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    found = {state.workflow_id for state in await store.list()}
    assert {"before-outage", "after-outage"} <= found, f"after the outage the store holds {found}"
    return error


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
