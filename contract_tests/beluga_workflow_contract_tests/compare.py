"""Strict comparison of saved and loaded states, naming the first difference.

Python's ``==`` is too lenient for a storage contract: ``1 == 1.0 == True``,
``0.0 == -0.0``, and two datetimes in different zones compare equal. A store
that turns an int into a float, drops the sign of zero or hands back a naive or
non-UTC timestamp has lost information, so this module compares types too and
reports the path of the first mismatch (``state.history[3].result['n']``).
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from beluga_workflow_contract_tests.violations import code_points, short

__all__ = ["first_difference", "text_difference"]

LONG_TEXT = 60
"""Strings longer than this are described by their lengths and first differing index."""


def first_difference(saved: Any, loaded: Any, path: str = "state") -> str | None:
    """Describe the first place where ``loaded`` is not exactly ``saved``, or ``None``."""
    if isinstance(saved, BaseModel):
        return _model_difference(saved, loaded, path)
    if type(saved) is not type(loaded):
        return (
            f"{path}: saved {short(saved)} ({type(saved).__name__}), "
            f"got {short(loaded)} ({type(loaded).__name__})"
        )
    if isinstance(saved, float):
        return _float_difference(saved, loaded, path)
    if isinstance(saved, str):
        return text_difference(saved, loaded, path)
    if isinstance(saved, datetime):
        return _datetime_difference(saved, loaded, path)
    if isinstance(saved, list):
        return _list_difference(saved, loaded, path)
    if isinstance(saved, dict):
        return _dict_difference(saved, loaded, path)
    if saved != loaded:
        return f"{path}: saved {short(saved)}, got {short(loaded)}"
    return None


def _model_difference(saved: BaseModel, loaded: Any, path: str) -> str | None:
    if type(loaded) is not type(saved):
        return f"{path}: saved a {type(saved).__name__}, got {short(loaded)}"
    names = _field_order(type(saved))
    if saved.model_extra:
        names = [*names, *saved.model_extra]
    for name in names:
        difference = first_difference(
            getattr(saved, name, None), getattr(loaded, name, None), f"{path}.{name}"
        )
        if difference:
            return difference
    return None


@functools.cache
def _field_order(model: type[BaseModel]) -> list[str]:
    # Scalars first, so a message names a changed status before a long history.
    return sorted(model.model_fields, key=lambda name: name == "history")


def _float_difference(saved: float, loaded: float, path: str) -> str | None:
    if saved != loaded or math.copysign(1.0, saved) != math.copysign(1.0, loaded):
        return f"{path}: saved {saved!r}, got {loaded!r}"
    return None


def _datetime_difference(saved: datetime, loaded: datetime, path: str) -> str | None:
    if loaded.tzinfo is None or loaded.utcoffset() is None:
        return f"{path}: saved {saved.isoformat()}, got a naive datetime {loaded.isoformat()}"
    if loaded.utcoffset() != timedelta(0):
        return f"{path}: saved {saved.isoformat()}, got {loaded.isoformat()} (not UTC)"
    if saved != loaded:
        return f"{path}: saved {saved.isoformat()}, got {loaded.isoformat()}"
    return None


def _list_difference(saved: list[Any], loaded: list[Any], path: str) -> str | None:
    if len(saved) != len(loaded):
        return f"{path}: saved {_items(len(saved))}, got {_items(len(loaded))}"
    for index, (left, right) in enumerate(zip(saved, loaded, strict=True)):
        difference = first_difference(left, right, f"{path}[{index}]")
        if difference:
            return difference
    return None


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _dict_difference(saved: dict[Any, Any], loaded: dict[Any, Any], path: str) -> str | None:
    missing = [key for key in saved if key not in loaded]
    if missing:
        return f"{path}: key {short(missing[0])} was lost"
    extra = [key for key in loaded if key not in saved]
    if extra:
        return f"{path}: key {short(extra[0])} appeared"
    for key, value in saved.items():
        difference = first_difference(value, loaded[key], f"{path}[{short(key, 40)}]")
        if difference:
            return difference
    return None


def text_difference(saved: str, loaded: str, path: str) -> str | None:
    """How ``loaded`` differs from ``saved``: code points for text that renders alike,
    lengths and the first differing index for long text (whose clipped reprs look equal)."""
    if saved == loaded:
        return None
    index = next(
        (i for i, (left, right) in enumerate(zip(saved, loaded, strict=False)) if left != right),
        min(len(saved), len(loaded)),
    )
    at = f"index {index}: saved {code_points(saved[index:])}, got {code_points(loaded[index:])}"
    if max(len(saved), len(loaded)) <= LONG_TEXT:
        return f"{path}: saved {short(saved)}, got {short(loaded)}; they differ first at {at}"
    near = (
        f"saved {short(saved[index : index + 20], 30)}, got {short(loaded[index : index + 20], 30)}"
    )
    return (
        f"{path}: saved {len(saved)} characters, got {len(loaded)}; "
        f"they differ first at {at} ({near})"
    )
