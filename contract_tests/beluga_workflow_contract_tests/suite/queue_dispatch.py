"""Capability ``queue_dispatch``: the store claims queued runs atomically under the queue's limits.

Each rule uses queues of its own (named after the rule run's prefix) and
explicit clock values, so a shared namespace's real queues never meet it, and
releases what it left before it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from beluga_workflow import Capability, InvalidArgumentError, Queue, RateLimit, WorkflowStore
from beluga_workflow.queues.entries import QueueClaim, QueueEntry
from beluga_workflow.store import SupportsQueueDispatch
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.violations import check, expect_raises, fail, short

__all__ = ["QueueDispatchRules"]

_T0 = 1_000.0
"""The enqueue times and clock of these rules: far in the past, never a real queue's."""


def _table(store: WorkflowStore) -> SupportsQueueDispatch:
    if not isinstance(store, SupportsQueueDispatch):
        fail("the store lacks enqueue, claim_queued, release_queued or queued")
    return store


@asynccontextmanager
async def _queue(run: ContractRun, label: str) -> AsyncIterator[tuple[SupportsQueueDispatch, str]]:
    """A store and a queue name of this run; the queue's entries are released afterwards."""
    table = _table(await run.open())
    name = run.id(f"queue-{label}")
    try:
        yield table, name
    finally:
        await table.release_queued(await table.queued(name))


def _entry(queue: str, name: str, at: float, **fields: Any) -> QueueEntry:
    return QueueEntry(queue=queue, workflow_id=name, run_id=f"run-{name}", enqueued_at=at, **fields)


def _ids(claim: QueueClaim | list[QueueEntry]) -> list[str]:
    entries = claim.entries if isinstance(claim, QueueClaim) else claim
    return [entry.workflow_id for entry in entries]


class QueueDispatchRules:
    """Capability ``queue_dispatch`` (protocol SupportsQueueDispatch)."""

    @rule(
        "queue_dispatch.order",
        "claims take ready entries by priority, then enqueue time, then workflow id, and "
        "return them as claimed; enqueuing an entry of the same run again adds nothing",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_claims_go_in_dispatch_order(self, run: ContractRun) -> None:
        async with _queue(run, "order") as (table, q):
            entries = [
                _entry(q, "late-low", _T0 + 5, priority=-3),
                _entry(q, "b-tie", _T0 + 1),
                _entry(q, "a-tie", _T0 + 1),
                _entry(q, "early", _T0),
                _entry(q, "high-number", _T0 - 9, priority=7),
            ]
            added = await table.enqueue(entries)
            check(added == _ids(entries), f"enqueue returned {added}, expected every id given")
            again = await table.enqueue(entries[:2])
            check(again == [], f"enqueuing the same runs again added {again}")
            expected = ["late-low", "early", "a-tie", "b-tie", "high-number"]
            listed = _ids(await table.queued(q))
            check(listed == expected, f"queued() lists {listed}, expected {expected}")
            first = await table.claim_queued(Queue(name=q), "worker-a", 2, _T0 + 10)
            check(_ids(first) == expected[:2], f"a claim of 2 took {_ids(first)}")
            for entry in first.entries:
                check(
                    entry.holder == "worker-a" and entry.claimed_at == _T0 + 10,
                    f"a claimed entry came back as {short(entry)}",
                )
            rest = await table.claim_queued(Queue(name=q), "worker-b", 10, _T0 + 11)
            check(_ids(rest) == expected[2:], f"the next claim took {_ids(rest)}")
            held = {e.workflow_id: e.holder for e in await table.queued(q)}
            check(held["early"] == "worker-a", f"queued() shows holders {held}")
            check(held["b-tie"] == "worker-b", f"queued() shows holders {held}")

    @rule(
        "queue_dispatch.limits",
        "claimed entries count against concurrency, worker_concurrency per holder and "
        "key_concurrency per key until released; an entry whose key is full is passed over",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_limits_hold_until_released(self, run: ContractRun) -> None:
        async with _queue(run, "limits") as (table, q):
            keys = ["ann", "ann", "bob", "ann", "bob", "cy"]
            await table.enqueue([_entry(q, f"e{i}", _T0 + i, key=k) for i, k in enumerate(keys)])
            queue = Queue(name=q, concurrency=3, worker_concurrency=2, key_concurrency=1)
            first = await table.claim_queued(queue, "w1", 10, _T0)
            check(_ids(first) == ["e0", "e2"], f"w1 (limit 2 per worker) claimed {_ids(first)}")
            second = await table.claim_queued(queue, "w2", 10, _T0)
            check(_ids(second) == ["e5"], f"w2 claimed {_ids(second)}, expected e5 (keys full)")
            third = await table.claim_queued(queue, "w3", 10, _T0)
            check(_ids(third) == [], f"a claim at concurrency 3 took {_ids(third)}")
            gone = await table.release_queued(first.entries[:1])
            check(gone == 1, f"release_queued of one claimed entry returned {gone}")
            fourth = await table.claim_queued(queue, "w3", 10, _T0)
            check(
                _ids(fourth) == ["e1"], f"after releasing ann's entry a claim took {_ids(fourth)}"
            )

    @rule(
        "queue_dispatch.rate",
        "at most rate.limit claims in any rate.period, released or not; a claim held back "
        "answers when the window lets the next one go",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_the_rate_window_holds(self, run: ContractRun) -> None:
        async with _queue(run, "rate") as (table, q):
            await table.enqueue([_entry(q, f"r{i}", _T0 + i) for i in range(5)])
            queue = Queue(name=q, rate=RateLimit(limit=2, period=10.0))
            first = await table.claim_queued(queue, "w", 5, _T0 + 100)
            check(_ids(first) == ["r0", "r1"], f"a claim at limit 2 took {_ids(first)}")
            check(
                first.next_start_at == _T0 + 110,
                f"next_start_at is {first.next_start_at}, expected {_T0 + 110}",
            )
            await table.release_queued(first.entries)
            held = await table.claim_queued(queue, "w", 5, _T0 + 105)
            check(_ids(held) == [], f"released claims stopped counting: took {_ids(held)}")
            check(held.next_start_at == _T0 + 110, f"next_start_at is {held.next_start_at}")
            later = await table.claim_queued(queue, "w", 5, _T0 + 110.5)
            check(_ids(later) == ["r2", "r3"], f"after the window a claim took {_ids(later)}")

    @rule(
        "queue_dispatch.one_winner",
        "of many stores claiming at once, no entry is claimed twice and no limit is exceeded",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_racing_claims_keep_the_limits(self, run: ContractRun) -> None:
        async with _queue(run, "race") as (table, q):
            stores = [table, _table(await run.open())]  # the same queue on a durable backend
            await table.enqueue([_entry(q, f"x{i}", _T0 + i, key=f"k{i % 2}") for i in range(12)])
            queue = Queue(name=q, concurrency=4, key_concurrency=3)
            claims = await asyncio.gather(
                *(stores[i % 2].claim_queued(queue, f"w{i}", 2, _T0) for i in range(8))
            )
            taken = [wid for claim in claims for wid in _ids(claim)]
            check(len(taken) == len(set(taken)), f"an entry was claimed twice: {sorted(taken)}")
            check(len(taken) == 4, f"{len(taken)} entries claimed at concurrency 4")
            held = [e for e in await table.queued(q) if e.holder is not None]
            check(len(held) == 4, f"queued() shows {len(held)} claimed entries, expected 4")
            per_key = {k: sum(e.key == k for e in held) for k in ("k0", "k1")}
            check(max(per_key.values()) <= 3, f"claimed per key: {per_key} (limit 3)")
        async with _queue(run, "race-free") as (table, q):  # no limit: no lock either
            stores = [table, _table(await run.open())]
            await table.enqueue([_entry(q, f"y{i}", _T0 + i) for i in range(10)])
            claims = await asyncio.gather(
                *(stores[i % 2].claim_queued(Queue(name=q), f"w{i}", 2, _T0) for i in range(8))
            )
            taken = [wid for claim in claims for wid in _ids(claim)]
            check(len(taken) == len(set(taken)), f"an entry was claimed twice: {sorted(taken)}")
            holding = [e.workflow_id for e in await table.queued(q) if e.holder is not None]
            check(
                sorted(holding) == sorted(taken),
                f"claims returned {sorted(taken)}, queued() shows {holding} claimed",
            )

    @rule(
        "queue_dispatch.entries",
        "release removes only the entries of the runs given; an entry of another run of the "
        "same id replaces the old one; a dedup key another workflow's entry holds is refused",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_entries_belong_to_runs(self, run: ContractRun) -> None:
        async with _queue(run, "entries") as (table, q):
            old = _entry(q, "same", _T0, dedup_key="d1")
            await table.enqueue([old, _entry(q, "other", _T0 + 1)])
            await table.claim_queued(Queue(name=q, concurrency=1), "w", 1, _T0)
            new = QueueEntry(queue=q, workflow_id="same", run_id="run-2", enqueued_at=_T0 + 2)
            added = await table.enqueue([new])
            check(added == ["same"], f"an entry of a new run of the id: enqueue returned {added}")
            (stored,) = [e for e in await table.queued(q) if e.workflow_id == "same"]
            check(
                stored.run_id == "run-2" and stored.holder is None,
                f"the new run's entry is {short(stored)}",
            )
            gone = await table.release_queued([old])
            check(gone == 0, f"releasing the old run removed {gone} entries of the new one")
            refused = await table.enqueue([_entry(q, "twin", _T0 + 3, dedup_key="dd")])
            twin = await table.enqueue([_entry(q, "twin-2", _T0 + 4, dedup_key="dd")])
            check(refused == ["twin"] and twin == [], f"a second dedup key holder: {twin}")
            gone = await table.release_queued([new])
            check(gone == 1, f"releasing the new run's entry returned {gone}")
            left = _ids(await table.queued(q))
            check(left == ["other", "twin"], f"after the releases queued() lists {left}")

    @rule(
        "queue_dispatch.bad_input",
        "bad arguments to the queue calls raise InvalidArgumentError and change nothing",
        capability=Capability.QUEUE_DISPATCH,
    )
    async def test_bad_arguments_are_refused(self, run: ContractRun) -> None:
        async with _queue(run, "bad") as (table, q):
            await table.enqueue([_entry(q, "kept", _T0)])
            queue = Queue(name=q)
            bad_claims: list[tuple[Any, Any, Any, Any]] = [
                (queue, "w", -1, _T0),
                (queue, "w", 1.5, _T0),
                (queue, "", 1, _T0),
                (queue, "w", 1, float("nan")),
                (q, "w", 1, _T0),
            ]
            for args in bad_claims:
                await expect_raises(
                    InvalidArgumentError,
                    table.claim_queued(*args),
                    f"claim_queued{short(args[1:])}",
                )
            bad_entries: list[Any] = [
                [_entry("", "x", _T0)],
                [_entry(q, "", _T0)],
                [_entry(q, "x", -1.0)],
                [_entry(q, "x", _T0, priority=2**40)],
                [_entry(q, "x", _T0, key="nul\x00")],
                ["not an entry"],
                "x",
            ]
            for entries in bad_entries:
                await expect_raises(
                    InvalidArgumentError, table.enqueue(entries), f"enqueue({short(entries)})"
                )
                await expect_raises(
                    InvalidArgumentError,
                    table.release_queued(entries),
                    f"release_queued({short(entries)})",
                )
            await expect_raises(InvalidArgumentError, table.queued(""), "queued('')")
            left = await table.queued(q)
            check(
                _ids(left) == ["kept"] and left[0].holder is None,
                f"after refused calls queued() shows {short(left)}",
            )
