"""Continue-as-new: a run hands its id to a fresh run; an endless loop keeps a bounded history."""

from __future__ import annotations

from typing import Any

import pytest

from beluga_workflow import (
    Executor,
    Signal,
    WorkflowContext,
    WorkflowFailedError,
    WorkflowOptions,
    WorkflowStatus,
)
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.store import WorkflowStore
from tests.executor.conftest import eventually


def double(value: int) -> int:
    return value * 2


async def counter(ctx: WorkflowContext, state: dict[str, int]) -> int:
    """One step per run, then continue with the next count until ``until``."""
    count = state["n"]
    if count >= state["until"]:
        return count
    await ctx.execute_activity(double, count)
    ctx.continue_as_new({"n": count + 1, "until": state["until"]})


class LongestHistory(InMemoryStore):
    """An in-memory store that notes the longest history it was ever asked to keep."""

    def __init__(self) -> None:
        super().__init__()
        self.longest = 0
        self.runs: set[str] = set()

    def _note(self, state: Any) -> None:
        self.longest = max(self.longest, len(state.history))
        self.runs.add(state.run_id)

    async def compare_and_save(self, state: Any, expected_version: int) -> int:
        self._note(state)
        return await super().compare_and_save(state, expected_version)

    async def compare_and_append(self, state: Any, new_events: int, expected_version: int) -> int:
        self._note(state)
        return await super().compare_and_append(state, new_events, expected_version)


async def test_a_run_continues_as_a_new_run_under_its_id_and_the_handle_follows(
    store: WorkflowStore,
) -> None:
    async with Executor(store, load_plugins=False) as executor:
        options = WorkflowOptions(id="loop", input={"n": 0, "until": 5})
        first = await executor.execute(counter, options)
        assert await first.result() == 5
        again = await executor.get_handle("loop")
        assert await again.result() == 5
        repeated = await executor.execute(counter, options)  # the first start, repeated
        assert repeated.run_id != first.run_id  # the chain's last run
        assert await repeated.result() == 5
    stored = await store.load("loop")
    assert stored is not None
    assert stored.status is WorkflowStatus.COMPLETED
    assert stored.run_id != first.run_id
    assert stored.input == {"n": 5, "until": 5}
    assert stored.metadata["run_number"] == 6
    assert stored.metadata["previous_run_id"]
    assert len(stored.history) == 2  # started, completed: the last run's own history only
    assert [state.workflow_id for state in await store.list()] == ["loop"]


async def test_ten_thousand_iterations_keep_every_run_history_bounded() -> None:
    store = LongestHistory()
    iterations = 10_000
    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(
            counter, WorkflowOptions(id="endless", input={"n": 0, "until": iterations})
        )
        assert await handle.result() == iterations
        assert executor.running == 0
    assert len(store.runs) == iterations + 1
    assert store.longest <= 4  # started, one step (two events), and the end
    stored = await store.load("endless")
    assert stored is not None
    assert stored.metadata["run_number"] == iterations + 1


async def test_a_chain_resumes_at_its_latest_run_after_a_restart(store: WorkflowStore) -> None:
    async def waits_then_continues(ctx: WorkflowContext, round: int) -> int:
        if round == 3:
            return round
        await ctx.wait_for_signal("next")
        ctx.continue_as_new(round + 1)

    def at_run(number: int) -> Any:
        async def check() -> bool:
            state = await store.load("c")
            return state is not None and state.metadata.get("run_number", 1) == number

        return check

    async with Executor(store, load_plugins=False) as first:
        await first.execute(waits_then_continues, WorkflowOptions(id="c", input=0))
        await first.signal("c", Signal(name="next"))
        await eventually(at_run(2))

        async def waiting_stored() -> bool:  # closing mid-write would keep the lease
            state = await store.load("c")
            return state is not None and state.history[-1].signal_name == "next"

        await eventually(waiting_stored)
    async with Executor(store, load_plugins=False) as second:
        second.register(waits_then_continues)
        report = await second.recover()
        assert [h.id for h in report.resumed] == ["c"]
        await second.signal("c", Signal(name="next"))
        await eventually(at_run(3))
        await second.signal("c", Signal(name="next"))
        assert await report.resumed[0].result() == 3
    stored = await store.load("c")
    assert stored is not None
    assert stored.metadata["run_number"] == 4


async def test_continue_as_new_with_an_input_that_is_not_json_fails_the_run(
    store: WorkflowStore,
) -> None:
    async def bad(ctx: WorkflowContext, _: Any) -> None:
        ctx.continue_as_new({"when": object()})

    async with Executor(store, load_plugins=False) as executor:
        handle = await executor.execute(bad, WorkflowOptions(id="bad"))
        with pytest.raises(WorkflowFailedError, match="continue-as-new input"):
            await handle.result()
