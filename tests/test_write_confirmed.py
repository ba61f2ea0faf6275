"""``write_confirmed``: a write whose answer is lost is read back, never simply made again.

A scripted store injects each fault on the next conditional write: ``lost``
(the write landed, its answer did not come back), ``missed`` (the store never
saw it) and ``late`` (it fails at once but lands just before the next write,
after the writer read back and found it missing). The engine's own records
(queue boards, the schedule book) are changed under the same rule.
"""

from __future__ import annotations

from typing import Literal

import pytest

from beluga_workflow import EventType, RetryPolicy, StoreError, WorkflowState, WorkflowStatus
from beluga_workflow.errors import StoreUnavailableError
from beluga_workflow.history import new_event
from beluga_workflow.models import utc_now
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.system_records import read_record, update_record
from beluga_workflow.writes import (
    Basis,
    ConditionalWriter,
    StoreAttempts,
    WriteOutcome,
    number_events,
    write_confirmed,
)

Fault = Literal["lost", "missed", "late"]
PATIENT = RetryPolicy(max_attempts=5, initial_interval=0.001, max_interval=0.001, jitter=0)


class ScriptedStore(InMemoryStore):
    """An in-memory store whose next conditional writes fail as scripted; it counts calls."""

    def __init__(self) -> None:
        super().__init__()
        self.script: list[Fault] = []
        self.writes = 0
        self.loads = 0
        self._late: tuple[WorkflowState, int, int] | None = None

    async def load(self, workflow_id: str) -> WorkflowState | None:
        self.loads += 1
        return await super().load(workflow_id)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        self.writes += 1
        if self._late is not None:
            late, self._late = self._late, None
            await super().compare_and_append(*late)
        fault = self.script.pop(0) if self.script else None
        if fault == "late":
            self._late = (state.model_copy(deep=True), new_events, expected_version)
        if fault in ("late", "missed"):
            raise StoreUnavailableError(f"injected: {fault}")
        version = await super().compare_and_append(state, new_events, expected_version)
        if fault == "lost":
            raise StoreUnavailableError("injected: the answer was lost")
        return version


async def stored_run(store: ScriptedStore) -> WorkflowState:
    now = utc_now()
    state = WorkflowState(
        workflow_id="w", run_id="r", status=WorkflowStatus.RUNNING, created_at=now, updated_at=now
    )
    state.version = await store.compare_and_append(state, 0, 0)
    store.writes = 0
    return state


def with_signal(state: WorkflowState, payload: str) -> tuple[WorkflowState, Basis]:
    """A copy of ``state`` with one signal added, and the basis it extends."""
    basis = Basis.of(state)
    changed = state.model_copy(deep=True)
    added = [new_event(EventType.SIGNAL_RECEIVED, signal_name="go", signal_payload=payload)]
    number_events(changed.history, added)
    changed.updated_at = utc_now()
    return changed, basis


async def write(
    store: ScriptedStore, state: WorkflowState, basis: Basis, *, read_refusals: bool
) -> WriteOutcome:
    return await write_confirmed(
        ConditionalWriter(store),
        state,
        basis,
        state.history[basis.events :],
        StoreAttempts(PATIENT, "test write"),
        moved_on=lambda stored: stored is None or Basis.of(stored) != basis,
        read_refusals=read_refusals,
    )


def payloads(state: WorkflowState | None) -> list[object]:
    assert state is not None
    return [event.signal_payload for event in state.history]


@pytest.mark.parametrize("read_refusals", [True, False])
async def test_a_lost_answer_whose_write_landed_is_not_written_again(read_refusals: bool) -> None:
    store = ScriptedStore()
    state, basis = with_signal(await stored_run(store), "once")
    store.script = ["lost"]
    outcome = await write(store, state, basis, read_refusals=read_refusals)
    assert outcome.landed
    assert outcome.stored is not None
    assert payloads(outcome.stored) == ["once"]
    assert store.writes == 1
    assert payloads(await store.load("w")) == ["once"]


@pytest.mark.parametrize("read_refusals", [True, False])
async def test_a_lost_answer_whose_write_did_not_land_is_written_again(read_refusals: bool) -> None:
    store = ScriptedStore()
    state, basis = with_signal(await stored_run(store), "once")
    store.script = ["missed"]
    outcome = await write(store, state, basis, read_refusals=read_refusals)
    assert outcome == WriteOutcome(landed=True)  # the second write was answered
    assert (store.writes, store.loads) == (2, 1)
    assert payloads(await store.load("w")) == ["once"]


@pytest.mark.parametrize("read_refusals", [True, False])
async def test_a_refusal_after_a_lost_answer_finds_the_write_that_landed_late(
    read_refusals: bool,
) -> None:
    store = ScriptedStore()
    state, basis = with_signal(await stored_run(store), "once")
    store.script = ["late"]
    outcome = await write(store, state, basis, read_refusals=read_refusals)
    assert outcome.landed  # refused because its own first try got there: not added twice
    assert outcome.stored is not None
    assert payloads(outcome.stored) == ["once"]
    assert (store.writes, store.loads) == (2, 2)
    assert payloads(await store.load("w")) == ["once"]


async def test_a_plain_refusal_is_not_read_back_unless_asked() -> None:
    store = ScriptedStore()
    run = await stored_run(store)
    theirs, basis = with_signal(run, "theirs")
    await ConditionalWriter(store).write(theirs, basis)
    mine, _ = with_signal(run, "mine")
    loads = store.loads
    assert await write(store, mine, basis, read_refusals=False) == WriteOutcome(landed=False)
    assert store.loads == loads
    outcome = await write(store, mine, basis, read_refusals=True)
    assert not outcome.landed
    assert payloads(outcome.stored) == ["theirs"]  # what the caller must build on
    assert payloads(await store.load("w")) == ["theirs"]


async def test_a_refusal_that_shows_no_change_spends_the_tries_and_raises() -> None:
    store = ScriptedStore()
    state, basis = with_signal(await stored_run(store), "once")
    wrong = Basis(basis.run_id, basis.events, basis.version + 5)  # refused every time

    with pytest.raises(StoreError, match="refused the write but shows no other change"):
        await write_confirmed(
            ConditionalWriter(store),
            state,
            wrong,
            state.history[wrong.events :],
            StoreAttempts(PATIENT, "test write"),
            moved_on=lambda stored: False,
        )
    assert store.writes == PATIENT.max_attempts
    assert payloads(await store.load("w")) == []


@pytest.mark.parametrize("fault", ["lost", "missed", "late"])
async def test_an_engine_record_change_whose_answer_is_lost_is_applied_once(fault: Fault) -> None:
    store = ScriptedStore()
    assert await update_record(store, "~beluga/counter", "n", lambda n: (n or 0) + 1) == 1
    store.script = [fault]
    assert await update_record(store, "~beluga/counter", "n", lambda n: (n or 0) + 1) == 2
    assert await read_record(store, "~beluga/counter", "n") == (2, 2)
