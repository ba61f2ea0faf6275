"""Retention: parsing ages, refusing bad policies, and pruning only what still matches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from beluga_workflow import WorkflowState, WorkflowStatus
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retention import FINISHED, Pruner, RetentionPolicy, parse_age, prune

NOW = datetime(2026, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5d", timedelta(hours=36)),
    ],
)
def test_ages_read_as_written(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7y", "-1d", "0d", "7 days"])
def test_a_bad_age_is_refused_saying_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"(s, m, h, d or w|more than zero)"):
        parse_age(text)


def test_running_runs_can_never_be_pruned() -> None:
    with pytest.raises(ValidationError, match="never pruned"):
        RetentionPolicy(older_than="1d", statuses=frozenset({WorkflowStatus.RUNNING}))
    with pytest.raises(ValidationError):
        RetentionPolicy(older_than=timedelta(0))
    assert RetentionPolicy(older_than="7d").statuses == FINISHED


def _state(workflow_id: str, status: WorkflowStatus, days_ago: float) -> WorkflowState:
    moment = NOW - timedelta(days=days_ago)
    return WorkflowState(
        workflow_id=workflow_id,
        run_id=f"run-{workflow_id}",
        status=status,
        created_at=moment,
        updated_at=moment,
    )


async def test_prune_deletes_old_finished_runs_and_keeps_the_rest() -> None:
    store = InMemoryStore()
    for state in (
        _state("old-done", WorkflowStatus.COMPLETED, 10),
        _state("old-failed", WorkflowStatus.FAILED, 10),
        _state("old-running", WorkflowStatus.RUNNING, 10),
        _state("new-done", WorkflowStatus.COMPLETED, 1),
    ):
        await store.save(state)
    seen: list[str] = []
    policy = RetentionPolicy(older_than="7d")
    report = await prune(store, policy, now=NOW, progress=seen.append)
    assert report.matched == ["old-done", "old-failed"]
    assert report.deleted == seen == ["old-done", "old-failed"]
    assert sorted(s.workflow_id for s in await store.list()) == ["new-done", "old-running"]


async def test_a_run_replaced_after_listing_is_kept() -> None:
    store = InMemoryStore()
    await store.save(_state("reused", WorkflowStatus.COMPLETED, 10))

    class Racing(InMemoryStore):
        """Lists the old run, then a new run of the same id is stored before the delete."""

        async def load(self, workflow_id: str) -> WorkflowState | None:
            await store.save(
                _state("reused", WorkflowStatus.RUNNING, 0).model_copy(update={"run_id": "new-run"})
            )
            return await store.load(workflow_id)

        async def list(self, filter=None):  # type: ignore[no-untyped-def]
            return await store.list(filter)

    report = await prune(Racing(), RetentionPolicy(older_than="7d"), now=NOW)
    assert report.matched == ["reused"]
    assert report.deleted == []
    kept = await store.load("reused")
    assert kept is not None
    assert kept.run_id == "new-run"


async def test_prune_refuses_a_naive_now_and_a_policy_of_another_type() -> None:
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        await prune(InMemoryStore(), RetentionPolicy(older_than="1d"), now=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgumentError, match="RetentionPolicy"):
        await prune(InMemoryStore(), {"older_than": "1d"})  # type: ignore[arg-type]


async def test_a_pruner_applies_its_policy_in_rounds_until_stopped() -> None:
    store = InMemoryStore()
    await store.save(_state("first", WorkflowStatus.COMPLETED, 0.0))
    pruner = Pruner(store, RetentionPolicy(older_than=timedelta(milliseconds=50)), every=0.02)
    running = asyncio.create_task(pruner.run())
    await store.save(_state("running", WorkflowStatus.RUNNING, 0.0))
    for _ in range(500):
        if await store.load("first") is None:
            break
        await asyncio.sleep(0.01)
    assert await store.load("first") is None
    await store.save(_state("second", WorkflowStatus.FAILED, 0.0))
    for _ in range(500):
        if await store.load("second") is None:
            break
        await asyncio.sleep(0.01)
    pruner.stop()
    await asyncio.wait_for(running, 5)
    assert pruner.deleted == 2
    assert await store.load("running") is not None


def test_a_pruner_refuses_a_bad_period() -> None:
    with pytest.raises(InvalidArgumentError, match="positive number of seconds"):
        Pruner(InMemoryStore(), RetentionPolicy(older_than="1d"), every=0)
