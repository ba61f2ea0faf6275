"""The view keeps the newest record of every key; writes of one workflow take turns."""

from __future__ import annotations

import asyncio

from beluga_workflow import WorkflowState
from beluga_workflow.storekit.chunking import CommitRecord
from beluga_workflow_kafka.per_workflow import PerWorkflowLocks
from beluga_workflow_kafka.view import MaterializedView

META = b"m\0w"


def _meta(version: int) -> bytes:
    record = CommitRecord.first(WorkflowState(workflow_id="w"))
    record.version = version
    return record.encode()


def test_an_own_delete_is_not_undone_by_the_older_save_the_consumer_delivers_later() -> None:
    view = MaterializedView()
    view.acknowledged(0, 10, META, _meta(1))
    view.acknowledged(0, 11, META, None)
    view.consumed(0, 10, META, _meta(1))
    assert "w" not in view.metas
    view.consumed(0, 11, META, None)
    assert "w" not in view.metas


def test_an_older_record_of_another_writer_does_not_replace_an_own_newer_one() -> None:
    view = MaterializedView()
    view.acknowledged(0, 20, META, _meta(2))
    view.consumed(0, 15, META, _meta(1))  # another instance's, before ours in the partition
    assert view.metas["w"].version == 2


def test_a_newer_record_of_another_writer_replaces_an_own_one() -> None:
    view = MaterializedView()
    view.acknowledged(0, 20, META, _meta(2))
    view.consumed(0, 20, META, _meta(2))
    view.consumed(0, 21, META, _meta(3))
    assert view.metas["w"].version == 3


def test_an_acknowledgement_after_the_consumer_passed_the_record_changes_nothing() -> None:
    view = MaterializedView()
    view.consumed(0, 30, META, _meta(4))
    view.consumed(0, 31, META, _meta(5))  # another instance's, after ours
    view.acknowledged(0, 30, META, _meta(4))
    assert view.metas["w"].version == 5


def test_unread_records_count_as_own_only_when_this_store_wrote_every_one() -> None:
    view = MaterializedView()
    view.consumed(0, 4, b"d\0w\0g\0e0", b"[]")
    view.acknowledged(0, 5, META, _meta(1))
    view.acknowledged(0, 6, b"d\0w\0g\0e1", b",{}")
    assert view.read_up_to(0) == 5
    assert view.only_own_between(0, 5, 7)
    assert not view.only_own_between(0, 5, 8)  # offset 7 is another writer's
    assert not view.only_own_between(1, 0, 1)
    view.consumed(0, 5, META, _meta(1))
    assert not view.only_own_between(0, 5, 7)  # 5 is read now; only 6 is unread and own
    assert view.only_own_between(0, 6, 7)


def test_list_order_follows_status_changes_and_deletes() -> None:
    view = MaterializedView()
    for offset, (workflow_id, status, created) in enumerate(
        [
            ("b", "running", "2026-01-02"),
            ("a", "running", "2026-01-02"),
            ("c", "completed", "2026-01-01"),
        ]
    ):
        record = CommitRecord.first(WorkflowState(workflow_id=workflow_id))
        record.status, record.created = status, created
        view.consumed(0, offset, b"m\0" + workflow_id.encode(), record.encode())
    assert view.order.first(None, 0) == ["c", "a", "b"]
    assert view.order.first("running", 1) == ["a"]
    moved = CommitRecord.first(WorkflowState(workflow_id="a"))
    moved.status, moved.created = "completed", "2026-01-02"
    view.consumed(0, 3, b"m\0a", moved.encode())
    assert view.order.first("running", 0) == ["b"]
    assert view.order.first("completed", 0) == ["c", "a"]
    view.consumed(0, 4, b"m\0c", None)
    view.consumed(0, 5, b"m\0b", b"{not json")
    assert view.order.first(None, 0) == ["a"]
    assert view.order.first("running", 0) == []


async def test_a_workflow_lock_is_dropped_once_nobody_holds_or_awaits_it() -> None:
    locks = PerWorkflowLocks()
    order: list[str] = []

    async def write(name: str) -> None:
        async with locks.hold("w"):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(write("a"), write("b"))
    assert order == ["a in", "a out", "b in", "b out"]
    assert len(locks) == 0


def test_skipping_own_records_stops_at_the_first_that_is_not_own() -> None:
    view = MaterializedView()
    for offset in (3, 4, 5, 7):
        view.acknowledged(0, offset, META, _meta(offset))
    assert view.skip_own(0, 2) == 2  # offset 2 is not own: nothing skipped
    assert view.skip_own(0, 3) == 6  # 3 to 5; 6 is another writer's
    assert view.read_up_to(0) == 6
    assert not view.only_own_between(0, 6, 8)
    view.consumed(0, 6, META, _meta(6))  # another instance's: older than the own one at 7
    assert view.metas["w"].version == 7
    assert view.skip_own(0, 7) == 8
    view.consumed(0, 9, META, _meta(9))  # newer than every own record: it wins
    assert view.metas["w"].version == 9
