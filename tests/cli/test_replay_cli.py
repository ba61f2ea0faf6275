"""``beluga-workflow replay`` checks stored runs against current code; list/show mark blocked."""

from __future__ import annotations

import io
import json
from pathlib import Path

from beluga_workflow.cli import render
from beluga_workflow.models import HistoryEvent, WorkflowState, WorkflowStatus
from tests.cli.test_cli import ORDER, cli, order_input


def test_replay_reports_ok_for_matching_code_and_names_the_event_for_changed_code(
    tmp_path: Path,
) -> None:
    ran = cli(
        "run",
        f"{ORDER}:order_workflow",
        "--id",
        "o1",
        "--store",
        "sqlite:///o.db",
        "--input",
        order_input("A-1", approval_timeout=0.1),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr

    same = cli("replay", ORDER, "--store", "sqlite:///o.db", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "o1 (run " in same.stdout
    assert ": ok" in same.stdout
    assert "1 run(s) replayed, 0 diverge" in same.stdout

    changed = tmp_path / "changed" / "order_approval.py"
    changed.parent.mkdir()
    source = Path(ORDER).read_text(encoding="utf-8")
    old = "payment = await ctx.execute_activity(charge_payment, order, retry=retry)"
    assert old in source
    new = 'payment = await ctx.execute_activity(charge_payment, {**order, "v": 2}, retry=retry)'
    changed.write_text(source.replace(old, new), encoding="utf-8")

    diverged = cli("replay", str(changed), "--store", "sqlite:///o.db", "--id", "o1", cwd=tmp_path)
    assert diverged.returncode == 1
    assert "o1 (run " in diverged.stdout
    assert "DIVERGES" in diverged.stdout
    assert "at event 4 (activity_started)" in diverged.stdout  # the first charge attempt

    as_json = cli("replay", str(changed), "--store", "sqlite:///o.db", "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    (report,) = json.loads(as_json.stdout)
    assert report["workflow_id"] == "o1"
    assert report["ok"] is False
    assert report["event_id"] == 4

    shown = cli("show", "o1", "--store", "sqlite:///o.db", cwd=tmp_path)
    assert "completed" in shown.stdout  # replay changed nothing in the store


def test_list_and_show_mark_a_blocked_run_with_its_event() -> None:
    state = WorkflowState(
        workflow_id="stuck",
        status=WorkflowStatus.RUNNING,
        history=[HistoryEvent(id=1, type="workflow_started")],
        metadata={
            "blocked": {"event_id": 7, "event_type": "timer_started", "reason": "changed timer"}
        },
    )
    out = io.StringIO()
    console = render.PlainConsole(file=out, width=400)
    console.print(render.states_table([state]))
    render.print_state(console, state)
    text = out.getvalue()
    assert "running blocked" in text
    assert "blocked at event 7: changed timer" in text
    assert "blocked:  at event 7 (timer_started): changed timer" in text
    assert render.summary(state)["blocked"] == {
        "event_id": 7,
        "event_type": "timer_started",
        "reason": "changed timer",
    }
