"""How a rule check reports a broken store.

Checks raise :class:`Broken` with what they observed; the rule runner turns it
into a pytest failure whose message starts with ``rule <name>: <statement>``,
so an author reads which promise the store broke before reading any traceback.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable
from typing import Any, NoReturn, TypeVar

__all__ = [
    "Broken",
    "ContractViolation",
    "SuiteError",
    "check",
    "clip",
    "expect_raises",
    "fail",
    "short",
    "code_points",
    "shown",
]

E = TypeVar("E", bound=BaseException)


class Broken(Exception):
    """What a check saw that the rule forbids (the detail half of the message)."""


class ContractViolation(AssertionError):
    """A store broke a rule; raised with the store's own exception chained, if any."""


class SuiteError(AssertionError):
    """A rule's own code raised (not an operation of the store): no verdict on the store."""


def fail(detail: str) -> NoReturn:
    """Report that the store broke the current rule."""
    raise Broken(detail)


def check(condition: object, detail: str) -> None:
    """Report ``detail`` as a broken rule unless ``condition`` holds."""
    if not condition:
        raise Broken(detail)


async def expect_raises(expected: type[E], operation: Awaitable[Any], what: str) -> E:
    """Await ``operation`` and return the ``expected`` exception it must raise.

    ``what`` describes the call (``"load('')"``) for the failure message.
    """
    try:
        result = await operation
    except expected as exc:
        return exc
    except Exception as exc:
        raise Broken(
            f"{what} raised {type(exc).__name__}: {clip(str(exc))} instead of {expected.__name__}"
        ) from exc
    raise Broken(f"{what} returned {short(result)} instead of raising {expected.__name__}")


def short(value: object, limit: int = 80) -> str:
    """A repr short enough for a one-line message (payloads can be megabytes)."""
    return clip(repr(value), limit)


def clip(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


CODE_POINTS_SHOWN = 8
"""How many code points :func:`shown` lists from the first non-ASCII character on."""


def shown(text: object, limit: int = 80) -> str:
    """``text``'s repr, with its code points from the first non-ASCII character on.

    Strings that render alike (``'é'`` composed as U+00E9, or as U+0065 U+0301)
    are then told apart in a message.
    """
    body = short(text, limit)
    if not isinstance(text, str):
        return body
    start = next((i for i, char in enumerate(text) if not char.isascii()), None)
    if start is None:
        return body
    if start and unicodedata.combining(text[start]):
        start -= 1  # the base character the mark combines with
    tail = text[start : start + CODE_POINTS_SHOWN]
    points = " ".join(f"U+{ord(char):04X}" for char in tail)
    more = " ..." if len(text) > start + CODE_POINTS_SHOWN else ""
    return f"{body} (code points from index {start}: {points}{more})"


def code_points(text: str) -> str:
    """``text``'s code points, ``U+0065 U+0301``, at most :data:`CODE_POINTS_SHOWN` of them."""
    points = " ".join(f"U+{ord(char):04X}" for char in text[:CODE_POINTS_SHOWN])
    return points + (" ..." if len(text) > CODE_POINTS_SHOWN else "") if text else "nothing"
