"""The operations a rule made on its stores, to show what led to a failure.

:meth:`~.context.ContractRun.open` has every store operation go through a
:class:`Journal`: a failure message then ends with the last operations and
their outcomes, and an exception can be told apart as the store's (it came
out of one of its operations) or the suite's (raised in a rule body or a
helper of the suite).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from beluga_workflow import WorkflowFilter, WorkflowState
from beluga_workflow_contract_tests.violations import clip, shown

__all__ = ["JOURNALED", "Journal"]

JOURNALED = (
    "save",
    "load",
    "list",
    "delete",
    "append",
    "compare_and_save",
    "compare_and_append",
)
"""The store methods whose calls the journal records."""

KEPT = 12
"""How many of the latest operations a failure message shows."""


class Journal:
    """The latest store operations of one rule run, and the exceptions they raised."""

    def __init__(self) -> None:
        self._entries: deque[str] = deque(maxlen=KEPT)
        self._count = 0
        self._raised: set[int] = set()

    def watch(self, store: Any) -> bool:
        """Record ``store``'s operations from now on; False if it cannot be watched.

        The recording wrappers are set on the instance, so the store stays the
        same object (``isinstance`` checks and fixtures that reach inside it
        keep working); a store whose instances take no attributes is left alone.
        """
        for name in JOURNALED:
            method = getattr(store, name, None)
            if not callable(method):
                continue
            try:
                setattr(store, name, self._recording(name, method))
            except (AttributeError, TypeError):
                return False
        return True

    def came_from_store(self, error: BaseException) -> bool:
        """Whether ``error`` (or an exception it was raised from) left a store operation."""
        seen: BaseException | None = error
        while seen is not None:
            if id(seen) in self._raised:
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def describe(self) -> str:
        """The latest operations, numbered from the rule's first, or ``""`` if none."""
        if not self._entries:
            return ""
        first = self._count - len(self._entries) + 1
        lines = [f"{first + n}. {entry}" for n, entry in enumerate(self._entries)]
        skipped = f" (the last {len(lines)} of {self._count})" if first > 1 else ""
        return f"operations{skipped}: " + "; ".join(lines)

    def _recording(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def recorded(*args: Any, **kwargs: Any) -> Any:
            call = f"{name}({', '.join([*map(_argument, args), *map(_argument, kwargs.values())])})"
            try:
                result = await method(*args, **kwargs)
            except BaseException as exc:
                self._raised.add(id(exc))
                self._add(f"{call} raised {type(exc).__name__}")
                raise
            self._add(
                f"{call} -> {_argument_outcome(result)}" if name in ("load", "list") else call
            )
            return result

        return recorded

    def _add(self, entry: str) -> None:
        self._count += 1
        self._entries.append(entry)


def _argument(value: Any) -> str:
    """A short description of one argument; never raises (rules pass malformed values)."""
    try:
        return _described(value)
    except Exception:
        return clip(object.__repr__(value), 40)


def _described(value: Any) -> str:
    if isinstance(value, WorkflowState):
        return (
            f"<{_argument(value.workflow_id)} {value.status}, "
            f"{len(value.history)} events, v{value.version}>"
        )
    if isinstance(value, WorkflowFilter):
        parts = [f"status={value.status.value}"] if value.status is not None else []
        if value.limit:
            parts.append(f"limit={value.limit}")
        return f"WorkflowFilter({', '.join(parts)})"
    if isinstance(value, str):
        return shown(value, 40)
    return clip(repr(value), 40)


def _argument_outcome(result: Any) -> str:
    try:
        return _outcome(result)
    except Exception:
        return clip(object.__repr__(result), 40)


def _outcome(result: Any) -> str:
    if result is None:
        return "None"
    if isinstance(result, WorkflowState):
        return f"a state ({result.status}, {len(result.history)} events)"
    if isinstance(result, list):
        return f"{len(result)} states"
    return clip(repr(result), 40)
