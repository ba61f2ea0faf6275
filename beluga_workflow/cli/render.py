"""How the command line shows providers, workflows, histories and contract reports.

Ids, names, payloads, errors and hints are data, never markup: ``[/]`` or
``beluga-workflow[postgres]`` must print as typed. :class:`PlainConsole`
is the only console the commands use, and it never reads markup or emoji
codes in a string; colour comes only from :class:`rich.text.Text` spans
built here, so the helpers are safe on any console.
"""

from __future__ import annotations

import json
from typing import IO, Any

from rich.console import (
    Console,
    ConsoleRenderable,
    HighlighterType,
    JustifyMethod,
    OverflowMethod,
    RichCast,
)
from rich.status import Status
from rich.style import Style
from rich.table import Table
from rich.text import Text

from beluga_workflow.cli import fitting
from beluga_workflow.divergence import blocked_mark
from beluga_workflow.models import WorkflowState
from beluga_workflow.pinning import build_id_of, is_pinned
from beluga_workflow.plugins.registry import StoreInfo

__all__ = [
    "PlainConsole",
    "error_line",
    "print_state",
    "providers_table",
    "report_summary",
    "rule_line",
    "states_table",
    "summary",
]

_STATUS_STYLE = {"running": "yellow", "completed": "green", "failed": "red", "canceled": "magenta"}


class PlainConsole(Console):
    """A console that prints every string exactly as given: no markup, no emoji codes.

    Messages soft-wrap so that an error stays one line whatever the terminal width.
    """

    def __init__(
        self, *, stderr: bool = False, file: IO[str] | None = None, width: int | None = None
    ) -> None:
        super().__init__(
            stderr=stderr,
            file=file,
            width=width,
            markup=False,
            emoji=False,
            highlight=False,
            soft_wrap=True,
        )

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: HighlighterType | None = None,
    ) -> Text:
        return super().render_str(
            text,
            style=style,
            justify=justify,
            overflow=overflow,
            emoji=False,
            markup=False,
            highlight=highlight,
            highlighter=highlighter,
        )

    def status(
        self,
        status: ConsoleRenderable | RichCast | str,
        *,
        spinner: str = "dots",
        spinner_style: str | Style = "status.spinner",
        speed: float = 1.0,
        refresh_per_second: float = 12.5,
    ) -> Status:
        # rich's spinner reads a str label as markup; a Text label is shown as is.
        return super().status(
            Text(status) if isinstance(status, str) else status,
            spinner=spinner,
            spinner_style=spinner_style,
            speed=speed,
            refresh_per_second=refresh_per_second,
        )


def error_line(message: str) -> Text:
    """``error: message``, the one line a failing command prints."""
    return Text.assemble(("error:", "bold red"), " ", message)


def _styled(text: str, style: str) -> Text:
    return Text(text, style=style)


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def providers_table(infos: list[StoreInfo]) -> Table:
    table = Table(title="Store providers")
    for column in ("name", "distribution", "version", "schemes", "capabilities", "status"):
        table.add_column(column)
    for info in infos:
        status = _styled(info.load_error, "red") if info.load_error else _styled("ok", "green")
        table.add_row(
            Text(info.name),
            Text(info.distribution or ""),
            Text(info.version or ""),
            Text(", ".join(f"{s}://" for s in info.schemes)),
            Text(", ".join(info.capabilities)),
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
        "blocked": blocked_mark(state),
        "build_id": build_id_of(state),
        "pinned": is_pinned(state),
    }


def states_table(states: list[WorkflowState]) -> Table:
    table = Table(title=f"{len(states)} workflow(s)")
    for column in ("id", "workflow", "status", "events", "updated", "result / error"):
        table.add_column(column)
    for state in states:
        style = _STATUS_STYLE.get(state.status.value, "")
        outcome = state.error if state.error else _short(state.result)
        status = _styled(state.status.value, style)
        mark = blocked_mark(state)
        if mark is not None:
            status = Text.assemble(status, " ", ("blocked", "bold red"))
            outcome = f"blocked at event {mark.get('event_id')}: {mark.get('reason')}"
        table.add_row(
            Text(state.workflow_id),
            Text(state.workflow_name or ""),
            status,
            Text(str(len(state.history))),
            Text(state.updated_at.strftime("%Y-%m-%d %H:%M:%S")),
            Text(outcome or ""),
        )
    return table


def print_state(console: Console, state: WorkflowState) -> None:
    """The state, then its history one event a line; long values are cut to the console's width."""
    style = _STATUS_STYLE.get(state.status.value, "")
    console.print(Text.assemble((state.workflow_id, "bold"), f"  run {state.run_id}"))
    console.print(Text(f"workflow: {state.workflow_name or '-'}"))
    console.print(Text.assemble("status:   ", (state.status.value, style)))
    console.print(Text(f"created:  {state.created_at.isoformat()}"))
    console.print(Text(f"updated:  {state.updated_at.isoformat()}"))
    build = build_id_of(state)
    if build is not None or is_pinned(state):
        pin = " (pinned)" if is_pinned(state) else ""
        console.print(Text(f"build:    {build or 'not run yet'}{pin}"))
    lines = [Text(f"input:    {json.dumps(state.input, ensure_ascii=False)}")]
    if state.result is not None:
        lines.append(Text(f"result:   {json.dumps(state.result, ensure_ascii=False)}"))
    if state.error:
        lines.append(Text(f"error:    {fitting.one_line(state.error)}", style="red"))
    mark = blocked_mark(state)
    if mark is not None:
        where = f"at event {mark.get('event_id')} ({mark.get('event_type')})"
        lines.append(Text.assemble(("blocked:", "bold red"), f"  {where}: {mark.get('reason')}"))
    lines.append(Text(f"history ({len(state.history)} events)", style="bold"))
    lines.extend(fitting.event_line(event) for event in state.history)
    cut = False
    for line in lines:
        cut = fitting.print_fitted(console, line) or cut
    if cut:
        console.print(Text(fitting.TRUNCATED_HINT, style="dim"))


def rule_line(result: Any) -> Text:
    mark = {"passed": ("PASS", "green"), "failed": ("FAIL", "red"), "skipped": ("SKIP", "yellow")}
    outcome = str(getattr(result, "outcome", ""))
    line = Text.assemble(mark.get(outcome, outcome), f" {result.rule}")
    message = getattr(result, "message", None)
    if message and outcome != "passed":
        line.append(f" — {message.splitlines()[0]}")
    return line


def report_summary(report: Any) -> Text:
    counts: dict[str, int] = {}
    for result in report.results:
        counts[str(result.outcome)] = counts.get(str(result.outcome), 0) + 1
    parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    verdict = ("contract passed", "green") if report.ok else ("contract FAILED", "red")
    return Text.assemble(verdict, f": {parts}")
