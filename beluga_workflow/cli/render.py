"""How the command line shows providers, workflows, histories and contract reports."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from beluga_workflow.models import WorkflowState
from beluga_workflow.plugins.registry import StoreInfo

__all__ = [
    "print_state",
    "providers_table",
    "report_summary",
    "rule_line",
    "states_table",
    "summary",
]

_STATUS_STYLE = {"running": "yellow", "completed": "green", "failed": "red", "canceled": "magenta"}


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def providers_table(infos: list[StoreInfo]) -> Table:
    table = Table(title="Store providers")
    for column in ("name", "distribution", "version", "schemes", "capabilities", "status"):
        table.add_column(column)
    for info in infos:
        status = f"[red]{info.load_error}[/]" if info.load_error else "[green]ok[/]"
        table.add_row(
            info.name,
            info.distribution or "",
            info.version or "",
            ", ".join(f"{s}://" for s in info.schemes),
            ", ".join(info.capabilities),
            status,
        )
    return table


def summary(state: WorkflowState) -> dict[str, Any]:
    """The stable JSON shape of one workflow in ``list --json``."""
    return {
        "workflow_id": state.workflow_id,
        "run_id": state.run_id,
        "workflow_name": state.workflow_name,
        "status": state.status.value,
        "created_at": state.created_at.isoformat(),
        "updated_at": state.updated_at.isoformat(),
        "events": len(state.history),
        "error": state.error,
    }


def states_table(states: list[WorkflowState]) -> Table:
    table = Table(title=f"{len(states)} workflow(s)")
    for column in ("id", "workflow", "status", "events", "updated", "result / error"):
        table.add_column(column)
    for state in states:
        style = _STATUS_STYLE.get(state.status.value, "")
        outcome = state.error if state.error else _short(state.result)
        table.add_row(
            state.workflow_id,
            state.workflow_name or "",
            f"[{style}]{state.status.value}[/]",
            str(len(state.history)),
            state.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            outcome or "",
        )
    return table


def print_state(console: Console, state: WorkflowState) -> None:
    style = _STATUS_STYLE.get(state.status.value, "")
    console.print(f"[bold]{state.workflow_id}[/]  run {state.run_id}")
    console.print(f"workflow: {state.workflow_name or '-'}")
    console.print(f"status:   [{style}]{state.status.value}[/]")
    console.print(f"created:  {state.created_at.isoformat()}")
    console.print(f"updated:  {state.updated_at.isoformat()}")
    console.print(f"input:    {_short(state.input, 200)}", markup=False)
    if state.result is not None:
        console.print(f"result:   {_short(state.result, 200)}", markup=False)
    if state.error:
        console.print(f"error:    {state.error}", markup=False)
    table = Table(title=f"history ({len(state.history)} events)")
    for column in ("#", "time", "event", "name", "attempt", "details"):
        table.add_column(column)
    for event in state.history:
        details = event.error or _short(
            event.result
            if event.result is not None
            else event.signal_payload
            if event.signal_payload is not None
            else event.input
        )
        table.add_row(
            str(event.id),
            event.timestamp.strftime("%H:%M:%S.%f")[:-3],
            event.type.value,
            event.activity_name or event.signal_name or "",
            "" if event.attempt is None else str(event.attempt),
            details,
        )
    console.print(table)


def rule_line(result: Any) -> str:
    mark = {"passed": "[green]PASS[/]", "failed": "[red]FAIL[/]", "skipped": "[yellow]SKIP[/]"}
    outcome = str(getattr(result, "outcome", ""))
    line = f"{mark.get(outcome, outcome)} {result.rule}"
    message = getattr(result, "message", None)
    if message and outcome != "passed":
        line += f" — {message.splitlines()[0]}"
    return line


def report_summary(report: Any) -> str:
    counts: dict[str, int] = {}
    for result in report.results:
        counts[str(result.outcome)] = counts.get(str(result.outcome), 0) + 1
    parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    verdict = "[green]contract passed[/]" if report.ok else "[red]contract FAILED[/]"
    return f"{verdict}: {parts}"
