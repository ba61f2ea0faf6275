"""The command line reads well: ``show`` fits 80 columns, an unreachable server is one line."""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path

from beluga_workflow import EventType, HistoryEvent, WorkflowState, WorkflowStatus
from beluga_workflow.cli import render
from beluga_workflow.cli.fitting import MARKER, TRUNCATED_HINT
from beluga_workflow_sqlite import SQLiteStore
from tests.cli.test_cli import _env, cli

BIG = {"customer": {"name": "Ada Lovelace", "address": "12 Long Street, " * 8}, "items": [1] * 40}


def _state() -> WorkflowState:
    return WorkflowState(
        workflow_id="wide-1",
        run_id="r1",
        status=WorkflowStatus.FAILED,
        workflow_name="shop:order",
        input=BIG,
        error="ActivityFailedError: " + "the card was declined by the bank " * 5,
        history=[
            HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED, input=BIG),
            HistoryEvent(
                id=2, type=EventType.ACTIVITY_STARTED, activity_name="charge", attempt=1, input=BIG
            ),
            HistoryEvent(
                id=3,
                type=EventType.ACTIVITY_FAILED,
                activity_name="charge",
                attempt=1,
                error="ValueError: declined\nsecond line of the traceback",
            ),
            HistoryEvent(
                id=4, type=EventType.SIGNAL_RECEIVED, signal_name="retry", signal_payload=BIG
            ),
        ],
    )


def test_show_at_80_columns_prints_one_line_per_field_and_event() -> None:
    out = io.StringIO()
    console = render.PlainConsole(file=out, width=80)
    render.print_state(console, _state())
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    events = [line for line in lines if line[:3].strip().isdigit()]
    assert [line.split()[0] for line in events] == ["1", "2", "3", "4"]
    assert events[2].startswith("  3 ")
    assert "activity_failed charge #1  ValueError: declined second line" in events[2]
    assert lines[-1] == TRUNCATED_HINT
    assert sum(MARKER in line for line in lines) >= 4


def test_show_in_an_80_column_terminal_does_not_wrap(tmp_path: Path) -> None:
    async def save() -> None:
        async with SQLiteStore(str(tmp_path / "w.db")) as store:
            await store.save(_state())

    asyncio.run(save())
    shown = cli(
        "show", "wide-1", "--store", "sqlite:///w.db", cwd=tmp_path, env={**_env(), "COLUMNS": "80"}
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) == 7 + 1 + 4 + 1  # header fields, "history", events, hint
    whole = cli("show", "wide-1", "--store", "sqlite:///w.db", "--json", cwd=tmp_path)
    assert "12 Long Street, " * 8 in whole.stdout


def test_an_unreachable_postgres_is_exactly_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    url = f"postgresql://postgres@127.0.0.1:{port}/test"
    listed = cli("list", "--store", url, cwd=tmp_path)
    assert listed.returncode == 4
    assert listed.stdout == ""
    lines = listed.stderr.splitlines()
    assert len(lines) == 1, listed.stderr
    assert lines[0].startswith(f"error: postgres store at {url}: ")
    assert lines[0].endswith("(is the server running? check --store)")


def test_a_dashboard_port_in_use_is_one_line_and_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = cli("ui", "--store", "sqlite:///d.db", "--port", str(port), cwd=tmp_path)
    assert served.returncode == 2
    assert served.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port"
    ]
