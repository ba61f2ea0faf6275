"""JSON payload checks shared by every store and the executor.

Payloads (workflow input and result, activity input and result, signal
payloads) must be JSON values so that every store can persist them and give
them back unchanged. Checking here, once, means a store never has to decide
what to do with a ``set`` or a ``NaN``: it is refused before anything is written.
"""

from __future__ import annotations

import math
from typing import Any

from beluga_workflow.errors import PayloadSerializationError

__all__ = ["check_json_value", "copy_json"]


def check_json_value(value: Any, where: str = "payload") -> None:
    """Raise :class:`PayloadSerializationError` unless ``value`` is a JSON value.

    Accepted: ``None``, ``bool``, ``int``, finite ``float``, ``str``, ``list``
    and ``dict`` with ``str`` keys, nested to any depth. Tuples are refused
    because they would come back as lists. ``where`` names the field in the
    error so the caller sees which payload was wrong.
    """
    if value is None or type(value) in _PLAIN:
        return  # the common case, answered before any bookkeeping
    # Paths are kept as parent links and spelled out only for an error: building
    # a string per element would cost more than the check itself.
    stack: list[tuple[Any, _Path | None]] = [(value, None)]
    while stack:
        item, path = stack.pop()
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise PayloadSerializationError(
                    f"{_spell(where, path)} is {item!r}, which is not a JSON value; "
                    "use None or a string to represent it"
                )
            continue
        if isinstance(item, list):
            stack.extend((child, (path, index)) for index, child in enumerate(item))
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise PayloadSerializationError(
                        f"{_spell(where, path)} has a key {key!r} of type "
                        f"{type(key).__name__}; JSON object keys must be strings"
                    )
                stack.append((child, (path, key)))
            continue
        raise PayloadSerializationError(
            f"{_spell(where, path)} holds a {type(item).__name__} ({_short_repr(item)}), which "
            "is not a JSON value; convert it to dict, list, str, int, float, bool or None"
        )


_PLAIN = frozenset({str, int, bool})
_Path = tuple[Any, int | str]
"""A position in a payload: (the parent's position or None, index or key)."""


def _spell(where: str, path: _Path | None) -> str:
    steps: list[int | str] = []
    while path is not None:
        path, step = path
        steps.append(step)
    return where + "".join(f"[{step!r}]" for step in reversed(steps))


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (as :func:`check_json_value` accepts).

    Only dicts and lists are mutable in a JSON value, so copying just those is
    all isolation needs, and many times faster than ``copy.deepcopy``.
    """
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
