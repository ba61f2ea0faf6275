"""Lines that fit the terminal: ``show`` cuts long values with a marker instead of wrapping them.

A payload wrapped over many lines of a narrow terminal reads as fragments;
one line per field and per history event, cut at the console's width with
``…``, keeps the shape readable, and ``show --json`` prints everything whole.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from beluga_workflow.models import HistoryEvent

__all__ = ["MARKER", "TRUNCATED_HINT", "event_line", "fit", "one_line"]

MARKER = "…"
TRUNCATED_HINT = "values cut to fit with …; `show ID --json` prints them whole"


def one_line(value: Any) -> str:
    """A payload as compact JSON (a string as is), on one line."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split("\n"))


def fit(text: Text, width: int) -> tuple[Text, bool]:
    """``text`` cut to ``width`` cells with :data:`MARKER`, and whether it was cut."""
    if text.cell_len <= width:
        return text, False
    cut = text.copy()
    cut.truncate(max(1, width), overflow="ellipsis")
    return cut, True


def event_line(event: HistoryEvent) -> Text:
    """One history event: number, time, type, name and attempt, then its payload or error."""
    line = Text(f"{event.id:>3} {event.timestamp.strftime('%H:%M:%S.%f')[:-3]} ")
    line.append(event.type.value, style="red" if event.error else "")
    name = event.activity_name or event.signal_name or event.event_key
    if name:
        line.append(f" {name}")
    if event.attempt is not None:
        line.append(f" #{event.attempt}")
    if event.error:
        line.append(f"  {one_line(event.error)}", style="red")
    else:
        payload = next(
            (v for v in (event.result, event.signal_payload, event.input) if v is not None), None
        )
        if payload is not None:
            line.append(f"  {json.dumps(payload, ensure_ascii=False)}")
    return line


def print_fitted(console: Console, text: Text) -> bool:
    """Print ``text`` cut to the console's width; return whether it was cut."""
    shown, cut = fit(text, console.width)
    console.print(shown)
    return cut
