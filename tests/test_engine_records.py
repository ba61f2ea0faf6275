"""Engine records are never listed, pruned or recovered as runs; ``store.list()`` has them.

Every store here holds a queue board or two and the schedule book, stored
before its runs, so that a store answering a ``limit`` in storage order puts
them first. The CLI and the dashboard have their own tests
(``tests/cli/test_engine_records_cli.py``, ``tests/ui/test_engine_records_page.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import (
    Client,
    Executor,
    InvalidArgumentError,
    WorkflowContext,
    WorkflowFilter,
    WorkflowOptions,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
    open_store,
)
from beluga_workflow.models import utc_now
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.retention import RetentionPolicy, prune
from beluga_workflow.run_listing import list_runs
from beluga_workflow.system_records import is_system_record
from tests.engine_records_seed import ENGINE_IDS, seed


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WorkflowStore]:
    opened: WorkflowStore = (
        InMemoryStore()
        if request.param == "memory"
        else open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    )
    async with opened:
        yield opened


class CountingStore(InMemoryStore):
    """Counts the ``list()`` calls and the limits they asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        self.limits.append(0 if filter is None else filter.limit)
        return await super().list(filter)


async def test_the_raw_store_listing_holds_the_engine_records(store: WorkflowStore) -> None:
    await seed(store, 3)
    listed = {state.workflow_id for state in await store.list()}
    assert set(ENGINE_IDS) <= listed
    assert all(is_system_record(workflow_id) for workflow_id in ENGINE_IDS)


async def test_client_lists_runs_only(store: WorkflowStore) -> None:
    runs = await seed(store, 3)
    async with Client(store, load_plugins=False) as client:
        listed = await client.list_workflows()
        completed = await client.list_workflows(WorkflowStatus.COMPLETED)
    assert sorted(state.workflow_id for state in listed) == runs
    assert sorted(state.workflow_id for state in completed) == runs


async def test_a_limit_counts_runs_only(store: WorkflowStore) -> None:
    runs = await seed(store, 12)
    async with Client(store, load_plugins=False) as client:
        for status in (None, WorkflowStatus.COMPLETED):
            ten = await client.list_workflows(status, limit=10)
            assert len(ten) == 10
            assert {state.workflow_id for state in ten} <= set(runs)
        assert len(await client.list_workflows(limit=20)) == 12  # all there are


async def test_a_limit_asks_the_store_again_only_when_engine_records_took_places() -> None:
    store = CountingStore()
    await seed(store, 12)
    assert len(await list_runs(store, WorkflowFilter(limit=10))) == 10
    assert store.limits == [10, 20]
    store.limits.clear()
    assert len(await list_runs(store, WorkflowFilter(status=WorkflowStatus.RUNNING, limit=10))) == 0
    assert store.limits == [10]  # the store gave fewer than asked: it has no more
    store.limits.clear()
    assert len(await list_runs(store, WorkflowFilter())) == 12
    assert store.limits == [0]


async def test_prune_never_deletes_an_engine_record(store: WorkflowStore) -> None:
    runs = await seed(store, 3)
    later = utc_now() + timedelta(days=60)  # every record, engine ones too, is old by then
    policy = RetentionPolicy(older_than="7d")
    dry = await prune(store, policy, dry_run=True, now=later)
    assert dry.matched == runs
    report = await prune(store, policy, now=later)
    assert report.deleted == runs
    for workflow_id in ENGINE_IDS:
        assert await store.load(workflow_id) is not None
    assert sorted(state.workflow_id for state in await store.list()) == sorted(ENGINE_IDS)


async def report(ctx: WorkflowContext, _: Any) -> str:
    return "done"


async def test_recover_and_claim_rounds_never_run_an_engine_record(store: WorkflowStore) -> None:
    """Even one stored ``running`` (written by hand, or by a release that did so) is left alone."""
    await seed(store, 0)
    now = utc_now()
    odd = WorkflowState(
        workflow_id="~beluga/queue/odd",
        run_id="~beluga/queue/odd",
        status=WorkflowStatus.RUNNING,
        workflow_name=f"{__name__}:report",
        created_at=now,
        updated_at=now,
    )
    await store.save(odd)
    await store.save(odd.model_copy(update={"workflow_id": "real", "run_id": "real-1"}))
    async with Executor(store, workflows=[report], load_plugins=False) as executor:
        recovered = await executor.recover()
        assert [handle.id for handle in recovered.resumed] == ["real"]
        assert not any(is_system_record(workflow_id) for workflow_id in recovered.not_resumed)
        assert await recovered.resumed[0].result() == "done"
        claimed = await executor.claim(10)
        assert claimed.resumed == []
        assert claimed.not_resumed == {}
    stored = await store.load(odd.workflow_id)
    assert stored is not None
    assert stored.status is WorkflowStatus.RUNNING
    assert stored.history == []


async def test_a_run_under_an_engine_id_is_refused_and_nothing_is_stored() -> None:
    store = InMemoryStore()
    async with Executor(store, workflows=[report], load_plugins=False) as executor:
        with pytest.raises(ValueError, match="kept for the engine's own records"):
            WorkflowOptions(id="~beluga/mine")
        async with Client(store, load_plugins=False) as client:
            with pytest.raises(InvalidArgumentError, match="engine's own records"):
                await client.start(f"{__name__}:report", id="~beluga/mine")
        done = await executor.execute(report, WorkflowOptions(id="done"))
        assert await done.result() == "done"
        with pytest.raises(InvalidArgumentError, match="engine's own records"):
            await executor.fork("done", from_step=1, new_id="~beluga/fork")
    assert [state.workflow_id for state in await store.list()] == ["done"]


async def test_a_bad_filter_is_refused_before_the_store_is_asked() -> None:
    store = CountingStore()
    for bad in ({"limit": 3}, WorkflowFilter.model_construct(status=None, limit=-1)):
        with pytest.raises(InvalidArgumentError, match="filter"):
            await list_runs(store, bad)  # type: ignore[arg-type]
    assert store.limits == []
