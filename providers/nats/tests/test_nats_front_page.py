"""The front page of a status on the real server: lists read it, and rebuild it when short."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beluga_workflow import WorkflowFilter, WorkflowState, WorkflowStatus
from beluga_workflow_nats import NatsStore, front

BASE = datetime(2026, 1, 1, tzinfo=UTC)
RUNNING = WorkflowStatus.RUNNING


def _state(n: int, status: WorkflowStatus = RUNNING) -> WorkflowState:
    return WorkflowState(
        workflow_id=f"w{n:03d}", status=status, created_at=BASE + timedelta(seconds=n)
    )


class _Scans:
    """Counts the reads of the whole status index."""

    def __init__(self, store: NatsStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = store._scan_index

        async def scan(subjects: str) -> Any:
            self.count += 1
            return await original(subjects)

        monkeypatch.setattr(store, "_scan_index", scan)


async def _ids(store: NatsStore, limit: int, status: WorkflowStatus = RUNNING) -> list[str]:
    return [s.workflow_id for s in await store.list(WorkflowFilter(status=status, limit=limit))]


async def test_a_list_with_a_limit_reads_the_page_not_the_index(
    nats_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "CAPACITY", 5)
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in reversed(range(12)):  # saved newest first: the order is the page's doing
            await store.save(_state(n))
        scans = _Scans(store, monkeypatch)
        assert await _ids(store, 3) == ["w000", "w001", "w002"]
        assert scans.count == 2  # no page yet: the index is read, then again to make one
        await store.save(_state(-1))  # before the bound: put on the page
        await store.save(_state(20))  # after it: left to the index
        assert await _ids(store, 3) == ["w-01", "w000", "w001"]
        assert await _ids(store, 5) == ["w-01", "w000", "w001", "w002", "w003"]
        assert scans.count == 2


async def test_a_page_that_runs_short_is_rebuilt_from_the_index(
    nats_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "CAPACITY", 4)
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in range(10):
            await store.save(_state(n))
        assert await _ids(store, 2) == ["w000", "w001"]
        for n in range(3):  # three of the four on the page move on
            await store.save(_state(n, WorkflowStatus.COMPLETED))
        scans = _Scans(store, monkeypatch)

        assert await _ids(store, 2) == ["w003", "w004"]
        assert scans.count == 2
        assert await _ids(store, 2) == ["w003", "w004"]
        assert scans.count == 2  # rebuilt: read from the page again
        assert await _ids(store, 2, WorkflowStatus.COMPLETED) == ["w000", "w001"]


async def test_a_page_that_cannot_be_read_is_rebuilt(
    nats_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "CAPACITY", 2)
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in range(3):
            await store.save(_state(n))
        assert await _ids(store, 2) == ["w000", "w001"]
        assert store._index is not None
        await store._index.put("_front.running", b"not a page")

        assert await _ids(store, 2) == ["w000", "w001"]
        page = await store._front_pages().read("running")
        assert page is not None
        assert page.ordered() == ["w000", "w001"]


async def test_a_limit_beyond_the_page_reads_the_index_and_leaves_the_page(
    nats_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "CAPACITY", 3)
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in reversed(range(8)):
            await store.save(_state(n))
        assert await _ids(store, 2) == ["w000", "w001"]  # the page is made
        page = await store._front_pages().read("running")
        scans = _Scans(store, monkeypatch)

        assert await _ids(store, 5) == ["w000", "w001", "w002", "w003", "w004"]
        assert await _ids(store, 0) == [f"w{n:03d}" for n in range(8)]
        assert scans.count == 2
        assert await store._front_pages().read("running") == page


async def test_many_writers_at_once_leave_the_lists_right(
    nats_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "CAPACITY", 1)
    async with (
        NatsStore(nats_url, bucket=bucket) as one,
        NatsStore(nats_url, bucket=bucket) as two,
    ):
        await one.save(_state(100))
        await one.save(_state(101))
        assert await _ids(one, 1) == ["w100"]  # a page of one entry, w100
        # Sixty writers at once fall before its bound and fight over it; one may give it up.
        await asyncio.gather(*(store.save(_state(n)) for n in range(60) for store in (one, two)))
        expected = [f"w{n:03d}" for n in range(5)]
        assert await _ids(two, 5) == expected
        assert await _ids(one, 5) == expected
        assert len(await two.list(WorkflowFilter(status=RUNNING))) == 62


async def test_long_ids_make_a_shorter_page_in_the_same_order(nats_url: str, bucket: str) -> None:
    def long(n: int) -> WorkflowState:
        return _state(n).model_copy(update={"workflow_id": f"{n:03d}" + "🦫" * 2000})

    async with NatsStore(nats_url, bucket=bucket) as store:
        for start in range(0, 80, 20):
            await asyncio.gather(*(store.save(long(n)) for n in range(start, start + 20)))
        listed = await store.list(WorkflowFilter(status=RUNNING, limit=3))
        assert [s.workflow_id[:3] for s in listed] == ["000", "001", "002"]
        page = await store._front_pages().read("running")
        assert page is not None
        assert 1 < len(page.entries) < front.CAPACITY  # cut by size, not by count
        assert page.ordered() == [long(n).workflow_id for n in range(len(page.entries))]


async def test_a_status_with_few_entries_gets_no_page(nats_url: str, bucket: str) -> None:
    async with NatsStore(nats_url, bucket=bucket) as store:
        for n in range(3):
            await store.save(_state(n))
        assert await _ids(store, 2) == ["w000", "w001"]
        assert store._index is not None
        assert await store._front_pages().read("running") is None
