"""The example workflows' golden history files replay against the current code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beluga_workflow.context import WorkflowContext
from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.providers.inmemory import InMemoryStore
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


async def test_bad_input_to_the_replayer_is_refused_clearly(tmp_path: Path) -> None:
    def not_async(ctx: Any, input: Any) -> None:
        return None

    with pytest.raises(InvalidArgumentError, match="not an async function"):
        HistoryReplayer([not_async])  # type: ignore[list-item]
    replayer = HistoryReplayer(WORKFLOWS)
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="not a workflow history file"):
        await replayer.replay_file(bad)
    with pytest.raises(InvalidArgumentError, match="no workflow 'missing'"):
        await replayer.replay_store(InMemoryStore(), ["missing"])
    unknown = load_history(HERE / "seed.json")
    unknown.workflow_name = "elsewhere:flow"
    result = await replayer.replay(unknown)
    assert not result.ok
    assert result.problem is not None
    assert "'elsewhere:flow' is not given" in result.problem


def test_golden_paths_that_hold_no_history_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no history file or directory"):
        assert_replays([tmp_path / "not-there"], WORKFLOWS)
    with pytest.raises(InvalidArgumentError, match="no history files"):
        assert_replays([tmp_path], WORKFLOWS)
