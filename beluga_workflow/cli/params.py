"""Command-line values checked where they enter: ids, JSON payloads, seconds, limits.

A bad value is refused by click as a usage error (one line, exit code 2)
before any store is opened, so a command either runs with sound input or
changes nothing.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import click

from beluga_workflow.models import MAX_LIMIT

__all__ = ["JSON_VALUE", "LIMIT", "MAX_LIMIT", "MAX_SECONDS", "SECONDS", "TEXT"]

if TYPE_CHECKING:
    _Param = click.ParamType[Any]  # generic from click 8.4; plain before
else:
    _Param = click.ParamType

MAX_SECONDS = 1e9
"""The longest duration accepted (about 31 years): a deadline must stay a real date."""


def _undecodable(value: str) -> bool:
    """True when ``value`` holds lone surrogates: bytes that were not valid UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class TextParam(_Param):
    """A string that is valid Unicode text (an id, a signal name)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if _undecodable(text):
            self.fail(
                f"{text!r} is not valid UTF-8 text; "
                "pass the value in the terminal's UTF-8 encoding",
                param,
                ctx,
            )
        return text


class JsonParam(TextParam):
    """A JSON document, parsed; refused with the reason when it is not one."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default that is already a value
        text = super().convert(value, param, ctx)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(
                f"not valid JSON ({exc.msg} at character {exc.pos}); "
                'quote it for the shell, e.g. \'{"order_id": "A-1"}\' or \'"text"\'',
                param,
                ctx,
            )
        except RecursionError:
            self.fail("the JSON value is nested too deeply", param, ctx)


class SecondsParam(_Param):
    """A duration in seconds: a finite number above zero, at most :data:`MAX_SECONDS`."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{str(value)!r} is not a number of seconds", param, ctx)
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
            self.fail(
                f"{value!r} is not a duration; give seconds above 0 and at most {MAX_SECONDS:g}",
                param,
                ctx,
            )
        return seconds


TEXT = TextParam()
JSON_VALUE = JsonParam()
SECONDS = SecondsParam()
LIMIT = click.IntRange(min=0, max=MAX_LIMIT)
