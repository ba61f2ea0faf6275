"""Leases: which worker runs a run is state like any other, written under the run's version.

The engine claims a run by a head-only ``compare_and_append`` carrying a new
owner and epoch, renews it by the same kind of write with a later expiry, and
gives it up (or finishes the run) by writing ``lease = None``. A worker stops
when the stored lease is no longer its own (owner and epoch) or has run out
by its clock. So the lease must come back exactly, a head-only write must
change it without touching the history, two claims must not both win, and a
lease given up must stay given up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from beluga_workflow import (
    Capability,
    ConcurrencyConflictError,
    Lease,
    WorkflowState,
    WorkflowStore,
)
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import next_step, sample_state
from beluga_workflow_contract_tests.suite.expectations import expect_state, listed, same_state
from beluga_workflow_contract_tests.violations import check, fail, short

__all__ = ["LeaseRules", "sample_lease"]

Write = Callable[[WorkflowState], Awaitable[Any]]

INDIA = timezone(timedelta(hours=5, minutes=30))
"""A zone other than UTC: an expiry given in it must come back as the same instant."""


def sample_lease(owner: str, epoch: int, microsecond: int = 123_457) -> Lease:
    """A lease whose expiry has microseconds and was given in a zone other than UTC."""
    expires = datetime(2026, 12, 1, 23, 59, 58, microsecond, tzinfo=INDIA)
    return Lease(owner=owner, epoch=epoch, expires_at=expires + timedelta(seconds=epoch % 3600))


def _method(store: WorkflowStore, name: str) -> Any:
    method = getattr(store, name, None)
    if not callable(method):
        fail(f"the store declares {name} but has no {name} method")
    return method


def _at(state: WorkflowState, version: int, **fields: Any) -> WorkflowState:
    return state.model_copy(update={"version": version, **fields}, deep=True)


async def _expect_everywhere(store: WorkflowStore, state: WorkflowState, when: str) -> None:
    """``load`` and ``list`` must both return exactly ``state``."""
    await expect_state(store, state, when)
    found = [s for s in await listed(store) if s.workflow_id == state.workflow_id]
    check(found, f"list() {when} left out {short(state.workflow_id)}")
    same_state(state, found[0], f"list() {when}")


def _paths(run: ContractRun, store: WorkflowStore) -> dict[str, Callable[[WorkflowState], Write]]:
    """For each write path the store has: given the stored state, a write of a changed one.

    Each write returns the state as it must now be stored.
    """

    def by_save(stored: WorkflowState) -> Write:
        async def write(state: WorkflowState) -> WorkflowState:
            await store.save(state)
            return state

        return write

    paths: dict[str, Callable[[WorkflowState], Write]] = {"save": by_save}
    if run.has(Capability.OPTIMISTIC_CONCURRENCY):
        compare_and_save = _method(store, "compare_and_save")

        def by_compare_and_save(stored: WorkflowState) -> Write:
            async def write(state: WorkflowState) -> WorkflowState:
                version = await compare_and_save(state, stored.version)
                return _at(state, version)

            return write

        paths["compare_and_save"] = by_compare_and_save
    if run.has(Capability.APPEND_HISTORY):
        append = _method(store, "append")

        def by_append(stored: WorkflowState) -> Write:
            async def write(state: WorkflowState) -> WorkflowState:
                await append(state, len(state.history) - len(stored.history))
                return state

            return write

        paths["append"] = by_append
    if run.has(Capability.COMPARE_AND_APPEND):
        compare_and_append = _method(store, "compare_and_append")

        def by_compare_and_append(stored: WorkflowState) -> Write:
            async def write(state: WorkflowState) -> WorkflowState:
                new_events = len(state.history) - len(stored.history)
                version = await compare_and_append(state, new_events, stored.version)
                return _at(state, version)

            return write

        paths["compare_and_append"] = by_compare_and_append
    return paths


async def _claim_race(
    store: WorkflowStore,
    claims: list[Any],
    base: WorkflowState,
    contenders: list[WorkflowState],
    what: str,
) -> None:
    """Store ``base`` (version 1), race ``contenders`` as head-only writes on it: one wins."""
    check(
        await claims[0](base, len(base.history), 0) == 1,
        "compare_and_append(new id, n, 0) did not return 1",
    )
    outcomes = await asyncio.gather(
        *(claims[n % len(claims)](c, 0, 1) for n, c in enumerate(contenders)),
        return_exceptions=True,
    )
    winners = [c for c, o in zip(contenders, outcomes, strict=True) if o == 2]
    losers = [o for o in outcomes if isinstance(o, ConcurrencyConflictError)]
    other = [o for o in outcomes if o != 2 and not isinstance(o, ConcurrencyConflictError)]
    check(not other, f"in {what}, a head-only write returned or raised {short(other[:1])}")
    check(
        len(winners) == 1 and len(losers) == len(contenders) - 1,
        f"{len(winners)} of {what} on one run won (expected exactly one)",
    )
    await _expect_everywhere(store, _at(winners[0], 2), f"after {what}")


class LeaseRules:
    """``WorkflowState.lease``: kept exactly, changed by head-only writes, claimed by one."""

    @rule(
        "lease.roundtrip",
        "a state's lease (owner, epoch, and a timezone-aware expiry to the microsecond) "
        "comes back exactly from load and list after save and after every optional write "
        "(compare_and_save, append, compare_and_append creating and extending the state)",
    )
    async def test_lease_round_trips(self, run: ContractRun) -> None:
        store = await run.open()
        for kind, path in _paths(run, store).items():
            first = sample_state(
                run.id(f"leased-{kind}"), 1, events=2, lease=sample_lease("host-1:41:a1b2c3", 1, 1)
            )
            await store.save(first)
            await _expect_everywhere(store, first, "after save of a leased state")
            changed = next_step(first, 1, lease=sample_lease(f"wörker-{kind}-é", 2**40, 999_999))
            stored = await path(first)(changed)
            await _expect_everywhere(store, stored, f"after {kind} changed the lease")
        if run.has(Capability.COMPARE_AND_APPEND):
            compare_and_append = _method(store, "compare_and_append")
            created = sample_state(run.id("leased-created"), 2, lease=sample_lease("w:7:ff", 3))
            version = await compare_and_append(created, len(created.history), 0)
            await _expect_everywhere(
                store, _at(created, version), "after compare_and_append created a leased state"
            )

    @rule(
        "lease.head_only_write",
        "compare_and_append with no new events (how a worker claims or renews a lease) "
        "stores the new lease and the next version and leaves the history as it was",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_head_only_write_changes_the_lease(self, run: ContractRun) -> None:
        owner = await run.open()
        other = await run.open() if run.has(Capability.DURABLE) else owner
        mine = _method(owner, "compare_and_append")
        theirs = _method(other, "compare_and_append")
        lease = sample_lease("worker-1", 1)
        state = sample_state(run.id("renewed"), 1, events=3, version=0, lease=lease)
        check(await mine(state, 3, 0) == 1, "compare_and_append(new id, 3, 0) did not return 1")
        renewals = [
            lease.model_copy(update={"expires_at": lease.expires_at + timedelta(seconds=n)})
            for n in (1, 2)
        ]
        version = 1
        for n, renewal in enumerate(renewals, start=1):
            renewed = _at(state, version, lease=renewal)
            version = await mine(renewed, 0, version)
            check(
                version == n + 1,
                f"renewal {n} (compare_and_append(state, 0, {n})) "
                f"returned {short(version)}, expected {n + 1}",
            )
            await _expect_everywhere(owner, _at(renewed, version), f"after renewal {n}")
        claimed = _at(state, version, lease=sample_lease("worker-2", 2))
        version = await theirs(claimed, 0, version)
        await _expect_everywhere(
            owner, _at(claimed, version), "after another worker's head-only claim"
        )

    @rule(
        "lease.one_claim_wins",
        "of concurrent claims of one run (compare_and_append with no events, each with a "
        "new owner and the next epoch, on the same expected version) exactly one wins, the "
        "others get ConcurrencyConflictError, and the store holds the winner's lease; so "
        "does one of a renewal by the holder and a claim by another worker at once",
        capability=Capability.COMPARE_AND_APPEND,
    )
    async def test_one_claim_wins(self, run: ContractRun) -> None:
        stores = [await run.open()]
        if run.has(Capability.DURABLE):
            stores.append(await run.open())
        claims = [_method(store, "compare_and_append") for store in stores]
        for round_number, workers in enumerate((2, 3, 5, 8)):
            holder = sample_lease("worker-gone", 1)
            base = sample_state(run.id(f"claimed-{round_number}"), 1, events=2, lease=holder)
            contenders = [
                _at(base, 1, lease=sample_lease(f"worker-{n}", 2)) for n in range(workers)
            ]
            await _claim_race(stores[0], claims, base, contenders, f"{workers} concurrent claims")
        # The holder renews just as another worker takes the run over: one of them wins.
        holder = sample_lease("worker-slow", 1)
        base = sample_state(run.id("renewed-or-claimed"), 2, events=2, lease=holder)
        renewal = holder.model_copy(update={"expires_at": holder.expires_at + timedelta(seconds=9)})
        contenders = [_at(base, 1, lease=renewal), _at(base, 1, lease=sample_lease("worker-b", 2))]
        await _claim_race(stores[0], claims, base, contenders, "a renewal and a claim at once")

    @rule(
        "lease.clear_sticks",
        "a lease set to None (given up, or the run finished) is stored as None by every "
        "write path (save, compare_and_save, append, compare_and_append with and without "
        "events) and stays None through later writes, in load and in list",
    )
    async def test_cleared_lease_sticks(self, run: ContractRun) -> None:
        store = await run.open()
        paths = _paths(run, store)
        for kind, path in paths.items():
            for new_events in (0, 1) if kind != "save" else (0,):
                held = sample_state(
                    run.id(f"released-{kind}-{new_events}"), 3, lease=sample_lease("worker-1", 4)
                )
                await store.save(held)
                stored = await path(held)(next_step(held, new_events, lease=None))
                when = f"after {kind} cleared the lease ({new_events} new events)"
                await _expect_everywhere(store, stored, when)
                later = await path(stored)(next_step(stored, 1, metadata={"later": True}))
                await _expect_everywhere(store, later, f"after a write that followed, {when}")
