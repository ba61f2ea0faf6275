"""The example workflows' golden history files replay against the current code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.replaying import HistoryReplayer, load_history
from beluga_workflow.testing import assert_replays
from tests.golden.record import WORKFLOWS

HERE = Path(__file__).parent


def test_every_golden_history_replays_against_the_examples() -> None:
    results = assert_replays([HERE], WORKFLOWS)
    assert {result.workflow_id for result in results} == {
        "order-approved",
        "order-timed-out",
        "order-waiting",
        "seed",
    }


def test_a_changed_example_fails_naming_the_file_run_and_event() -> None:
    async def order_workflow(ctx: WorkflowContext, order: dict[str, Any]) -> None:
        await ctx.execute_activity(lambda _: None, order, name="reserve_everything")

    with pytest.raises(AssertionError) as caught:
        assert_replays(
            [HERE / "order-approved.json"], {"order_approval:order_workflow": order_workflow}
        )
    message = str(caught.value)
    assert "order-approved.json: run 'order-approved'" in message
    assert "at event 2 (activity_started)" in message
    assert "reserve_everything" in message


async def test_replaying_changes_nothing_and_runs_no_activity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side_effects = tmp_path / "side-effects.txt"
    monkeypatch.setenv("ORDER_SIDE_EFFECTS", str(side_effects))  # each activity writes a line
    calls: list[Any] = []

    async def order_workflow(ctx: WorkflowContext, order: dict[str, Any]) -> Any:
        calls.append("started")
        return await WORKFLOWS["order_approval:order_workflow"](ctx, order)

    replayer = HistoryReplayer({"order_approval:order_workflow": order_workflow})
    for name in ("order-waiting", "order-approved"):
        state = load_history(HERE / f"{name}.json")
        before = state.model_dump()
        result = await replayer.replay(state)
        assert result.ok, result.problem
        assert state.model_dump() == before
    assert calls == ["started", "started"]
    assert not side_effects.exists()
