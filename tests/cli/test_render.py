"""What the command line shows is the data as typed: brackets, backslashes and emoji codes too."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from rich.console import Console

from beluga_workflow.cli import render
from beluga_workflow.models import EventType, HistoryEvent, WorkflowState, WorkflowStatus
from beluga_workflow.plugins.registry import StoreInfo

TRICKY = [
    "[",
    "]",
    "[/]",
    "[bold]loud[/bold]",
    "[red]",
    'pip install "beluga-workflow[postgres]"',
    "back\\slash",
    "\\[escaped]",
    ":smile:",
    "[link=https://example.com]x[/link]",
]


def plain() -> tuple[render.PlainConsole, io.StringIO]:
    out = io.StringIO()
    return render.PlainConsole(file=out, width=400), out


def tricky_state(text: str) -> WorkflowState:
    return WorkflowState(
        workflow_id=f"id {text}",
        run_id="r1",
        status=WorkflowStatus.FAILED,
        input=f"in {text}",
        error=f"error {text}",
        workflow_name=f"name {text}",
        history=[
            HistoryEvent(id=1, type=EventType.ACTIVITY_FAILED, activity_name=f"act {text}"),
            HistoryEvent(id=2, type=EventType.SIGNAL_RECEIVED, signal_name=f"sig {text}"),
            HistoryEvent(id=3, type=EventType.ACTIVITY_COMPLETED, result=f"res {text}"),
        ],
    )


@pytest.mark.parametrize("text", TRICKY)
def test_strings_print_as_given_even_when_markup_is_asked_for(text: str) -> None:
    console, out = plain()
    console.print(text)
    console.print(text, markup=True, emoji=True)
    assert out.getvalue() == f"{text}\n{text}\n"


@pytest.mark.parametrize("text", TRICKY)
def test_a_workflow_shows_every_field_as_stored(text: str) -> None:
    console, out = plain()
    state = tricky_state(text)
    render.print_state(console, state)
    console.print(render.states_table([state]))
    shown = out.getvalue()
    for field in ("id", "error", "name", "act", "sig"):
        assert f"{field} {text}" in shown, field
    for payload in ("in", "res"):
        assert json.dumps(f"{payload} {text}") in shown, payload  # payloads are shown as JSON


@pytest.mark.parametrize("text", TRICKY)
def test_the_helpers_are_safe_on_a_console_that_reads_markup(text: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=400, markup=True, emoji=True)
    render.print_state(console, tricky_state(text))
    console.print(render.error_line(f"no workflow {text}"))
    assert f"id {text}" in out.getvalue()
    assert f"error: no workflow {text}" in out.getvalue()


@pytest.mark.parametrize("text", TRICKY)
def test_providers_and_contract_lines_show_errors_as_given(text: str) -> None:
    console, out = plain()
    info = StoreInfo(
        name="broken", distribution="d", version="1", plugin="p", load_error=f"boom {text}"
    )
    console.print(render.providers_table([info]))
    result = SimpleNamespace(rule="save.roundtrip", outcome="failed", message=f"lost {text}")
    console.print(render.rule_line(result))
    assert f"boom {text}" in out.getvalue()
    assert f"FAIL save.roundtrip — lost {text}" in out.getvalue()


def test_the_status_spinner_label_is_not_markup() -> None:
    console, _ = plain()
    status = console.status("running x[/].py:fn ...")
    assert status.renderable.text.plain == "running x[/].py:fn ..."  # type: ignore[attr-defined]
