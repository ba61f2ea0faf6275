"""Queue limits compare the workers' clocks: what a difference does, and that a worker says so."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from beluga_workflow import Executor, Queue, RateLimit
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.queues.board import Board, Slot, board_id
from beluga_workflow.queues.dispatcher import BOARD_KEY
from beluga_workflow.system_records import update_record
from tests.queues.test_queue_rules import submit_all, workers

RATE = Queue(name="q", rate=RateLimit(limit=2, period=10.0))


def test_a_worker_whose_clock_is_ahead_sees_starts_leave_the_window_early() -> None:
    board = Board(starts=[100.0, 100.0])  # two starts stamped by a worker whose clock read 100
    # Nine seconds later, a worker in step with it has no room; one two seconds ahead has.
    assert board.free(RATE, "w", now=109.0) == 0
    assert board.free(RATE, "w", now=111.0) == 2
    # Eleven seconds later, a worker two seconds behind is only stricter: its clock reads 109.
    assert board.free(RATE, "w", now=109.0) == 0
    assert board.next_start_at(RATE, now=109.0) == 110.0  # by its clock: two seconds late


def test_the_latest_time_on_a_board_is_its_newest_start_or_slot() -> None:
    assert Board().latest() is None
    assert Board(starts=[5.0, 7.0]).latest() == 7.0
    slot = Slot(run="r-1", worker="w", since=9.0, until=30.0)
    assert Board(slots={"r": slot}, starts=[7.0]).latest() == 9.0


async def test_a_worker_warns_once_when_the_board_shows_a_clock_ahead_of_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryStore()
    ahead = Board(starts=[time.time() + 60]).model_dump(mode="json")
    await update_record(store, board_id("q"), BOARD_KEY, lambda _: ahead)
    caplog.set_level(logging.WARNING, logger="beluga_workflow.queues")
    async with Executor(store, load_plugins=False) as client:
        handles = await submit_all(client, 3, "q")
        async with workers(store, Queue(name="q", concurrency=1), count=1):
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 20)
    told = [r.getMessage() for r in caplog.records if "ahead of this worker's clock" in r.message]
    assert len(told) == 1
    assert "'q'" in told[0]
