"""A whole write over a record this store knows keeps its index entry: one round trip, still true.

The rewrite reuses the status index entry the known record noted, with a
compare-and-set on the record's revision. These tests count the server
requests it makes and race it against a second store that moves the same
workflow to another status, which a rewrite without the compare-and-set (or
one that trusted a stale record) would leave unlisted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client

from beluga_workflow import (
    ConcurrencyConflictError,
    HistoryEvent,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
)
from beluga_workflow_nats import NatsStore


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The subject of every request any client sends while the test runs."""
    sent: list[str] = []
    original = Client.request

    async def counted(self: Client, subject: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(subject)
        return await original(self, subject, *args, **kwargs)

    monkeypatch.setattr(Client, "request", counted)
    return sent


CREATED = datetime(2026, 1, 1, tzinfo=UTC)
"""One creation time for every state here: a rewrite keeps its entry only when it is unchanged."""


def _listed(states: list[WorkflowState]) -> list[str]:
    return [state.workflow_id for state in states]


def _completed(workflow_id: str, note: str = "") -> WorkflowState:
    return WorkflowState(
        workflow_id=workflow_id,
        status=WorkflowStatus.COMPLETED,
        result={"note": note},
        created_at=CREATED,
    )


async def test_saving_again_a_state_this_store_wrote_is_one_request(
    nats_url: str, bucket: str, requests: list[str]
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = _completed("again")
        await store.save(state)
        requests.clear()
        await store.save(state.model_copy(update={"result": {"note": "second"}}))
        assert len(requests) == 1, requests
        loaded = await store.load("again")
        assert loaded is not None
        assert loaded.result == {"note": "second"}
        requests.clear()
        await store.save(loaded.model_copy(update={"result": {"note": "third"}}))
        assert len(requests) == 1, requests
        listed = await store.list(WorkflowFilter(status=WorkflowStatus.COMPLETED))
        assert [s.result for s in listed] == [{"note": "third"}]


async def test_a_status_change_takes_the_long_way_and_moves_the_entry(
    nats_url: str, bucket: str, requests: list[str]
) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        await store.save(_completed("moved"))
        requests.clear()
        await store.save(
            WorkflowState(workflow_id="moved", status=WorkflowStatus.FAILED, created_at=CREATED)
        )
        assert len(requests) > 1  # a new entry is written before the commit
        assert _listed(await store.list(WorkflowFilter(status=WorkflowStatus.COMPLETED))) == []
        failed = await store.list(WorkflowFilter(status=WorkflowStatus.FAILED))
        assert _listed(failed) == ["moved"]


async def test_a_rewrite_from_a_stale_record_after_another_store_moved_it_stays_listed(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as first,
        NatsStore(nats_url, bucket=bucket) as second,
    ):
        await first.save(_completed("raced"))
        # The second store moves it to running (and removes the completed entry
        # the first store's record noted), then the first saves it completed
        # again from what it remembers: its compare-and-set must fail over to a
        # write that makes a new entry.
        await second.save(
            WorkflowState(workflow_id="raced", status=WorkflowStatus.RUNNING, created_at=CREATED)
        )
        await first.save(_completed("raced", "back"))
        for store in (first, second):
            done = await store.list(WorkflowFilter(status=WorkflowStatus.COMPLETED))
            running = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
            assert [s.result for s in done] == [{"note": "back"}]
            assert _listed(running) == []


async def test_compare_and_save_from_a_stale_record_is_refused_and_changes_nothing(
    nats_url: str, bucket: str
) -> None:
    async with (
        NatsStore(nats_url, bucket=bucket) as first,
        NatsStore(nats_url, bucket=bucket) as second,
    ):
        version = await first.compare_and_save(_completed("versioned"), 0)
        theirs = await second.load("versioned")
        assert theirs is not None
        await second.compare_and_save(theirs.model_copy(update={"result": {"note": "b"}}), version)
        with pytest.raises(ConcurrencyConflictError):
            await first.compare_and_save(_completed("versioned", "a"), version)
        stored = await second.load("versioned")
        assert stored is not None
        assert stored.result == {"note": "b"}
        assert stored.version == version + 1


async def test_a_rewrite_of_a_state_with_history_removes_the_old_history(
    nats_url: str, bucket: str
) -> None:
    events = [HistoryEvent(id=i, type="activity_completed", result={"i": i}) for i in range(3)]
    async with NatsStore(nats_url, bucket=bucket) as store:
        state = WorkflowState(workflow_id="history", status=WorkflowStatus.RUNNING, history=events)
        await store.save(state)
        await store.save(state.model_copy(update={"history": events[:1]}))
        loaded = await store.load("history")
        assert loaded is not None
        assert [e.result for e in loaded.history] == [{"i": 0}]
        data = await store._data_kv().keys()
        assert len(data) == 1, data  # the first generation's fragment is gone
