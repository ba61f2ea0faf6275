"""JSON payload checks shared by every store and the executor.

Payloads (workflow input and result, activity input and result, signal
payloads) must be JSON values so that every store can persist them and give
them back unchanged. Checking here, once, means a store never has to decide
what to do with a ``set`` or a ``NaN``: it is refused before anything is written.

Two limits keep every accepted payload readable back: nesting is bounded by
:data:`MAX_PAYLOAD_DEPTH` (JSON decoders stop at a depth of their own, 200 for
the one the stores share, and a payload sits a few levels inside its stored
record), and text must be encodable as UTF-8 (a lone surrogate such as
``"\\ud800"`` is a Python ``str`` but no JSON document can carry it).
"""

from __future__ import annotations

import math
from typing import Any

from beluga_workflow.errors import PayloadSerializationError

__all__ = [
    "MAX_PAYLOAD_DEPTH",
    "check_json_value",
    "copy_json",
    "encodable_text",
    "is_utf8_encodable",
]

MAX_PAYLOAD_DEPTH = 150
"""How deeply lists and objects may nest in one payload: ``[]`` is 1 level, ``[[]]`` 2.

A stored record adds at most three levels around a payload (the state, its
history, the event), which keeps the deepest accepted record (153 levels) well
below the 200 levels the stores' JSON decoder reads back.
"""


def check_json_value(value: Any, where: str = "payload") -> None:
    """Raise :class:`PayloadSerializationError` unless ``value`` is a JSON value.

    Accepted: ``None``, ``bool``, ``int``, finite ``float``, ``str`` encodable
    as UTF-8, ``list`` and ``dict`` with such ``str`` keys, nested at most
    :data:`MAX_PAYLOAD_DEPTH` levels. Tuples are refused because they would
    come back as lists. ``where`` names the field in the error so the caller
    sees which payload was wrong. The walk uses no recursion, so a value nested
    any deeper gets the same error, never a ``RecursionError``.
    """
    kind = type(value)
    if value is None or kind is int or kind is bool:
        return  # the common cases, answered before any bookkeeping
    if kind is str:
        _check_text(value, where, None)
        return
    # Paths are kept as parent links and spelled out only for an error: building
    # a string per element would cost more than the check itself.
    stack: list[tuple[Any, _Path | None, int]] = [(value, None, 0)]
    while stack:
        item, path, depth = stack.pop()
        if item is None or isinstance(item, (bool, int)):
            continue
        if isinstance(item, str):
            if not item.isascii():  # checked inline: most text is ASCII
                _check_text(item, where, path)
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise PayloadSerializationError(
                    f"{_spell(where, path)} is {item!r}, which is not a JSON value; "
                    "use None or a string to represent it"
                )
            continue
        if isinstance(item, list):
            if depth == MAX_PAYLOAD_DEPTH:
                raise _too_deep(where)
            depth += 1
            stack.extend((child, (path, index), depth) for index, child in enumerate(item))
            continue
        if isinstance(item, dict):
            if depth == MAX_PAYLOAD_DEPTH:
                raise _too_deep(where)
            depth += 1
            for key, child in item.items():
                if not isinstance(key, str):
                    raise PayloadSerializationError(
                        f"{_spell(where, path)} has a key {key!r} of type "
                        f"{type(key).__name__}; JSON object keys must be strings"
                    )
                if not key.isascii() and not is_utf8_encodable(key):
                    raise PayloadSerializationError(
                        f"{_spell(where, path)} has a key {_short_repr(key)} holding a lone "
                        "surrogate, which cannot be encoded as UTF-8"
                    )
                stack.append((child, (path, key), depth))
            continue
        raise PayloadSerializationError(
            f"{_spell(where, path)} holds a {type(item).__name__} ({_short_repr(item)}), which "
            "is not a JSON value; convert it to dict, list, str, int, float, bool or None"
        )


def is_utf8_encodable(text: str) -> bool:
    """Whether ``text`` holds no lone surrogate (``"\\ud800"``), so UTF-8 can encode it.

    ASCII text, the common case, is answered without encoding anything.
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encodable_text(text: str) -> str:
    """``text`` with any lone surrogate spelled as a ``\\udXXX`` escape, so it can be stored.

    For text the engine writes on its own (an exception's message), where
    refusing is not an option.
    """
    if is_utf8_encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_Path = tuple[Any, int | str]
"""A position in a payload: (the parent's position or None, index or key)."""


def _too_deep(where: str) -> PayloadSerializationError:
    return PayloadSerializationError(
        f"{where} nests lists and objects more than {MAX_PAYLOAD_DEPTH} levels deep "
        "(MAX_PAYLOAD_DEPTH), which stores cannot read back; flatten it"
    )


def _check_text(text: str, where: str, path: _Path | None) -> None:
    if not is_utf8_encodable(text):
        raise PayloadSerializationError(
            f"{_spell(where, path)} is {_short_repr(text)}, which holds a lone surrogate and "
            "cannot be encoded as UTF-8; decode bytes with errors='replace' or drop it"
        )


def _spell(where: str, path: _Path | None) -> str:
    steps: list[int | str] = []
    while path is not None:
        path, step = path
        steps.append(step)
    return where + "".join(f"[{step!r}]" for step in reversed(steps))


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (as :func:`check_json_value` accepts).

    Only dicts and lists are mutable in a JSON value, so copying just those is
    all isolation needs, and many times faster than ``copy.deepcopy``. The
    recursion is safe: accepted values nest at most :data:`MAX_PAYLOAD_DEPTH`.
    """
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
