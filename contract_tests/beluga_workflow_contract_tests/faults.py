"""Transient store faults on demand, for proving that nothing acknowledged is ever lost.

:func:`with_faults` wraps any store so that its writes fail now and then, in
the two ways a real connection fails:

* ``before``: the call fails and the store never saw it (a refused connection);
* ``after``: the store did the write, but its answer is lost (a connection cut
  while the reply was on its way). A caller that simply writes again would
  write twice; one that writes its own copy blindly would erase what others
  stored meanwhile.

The wrapper keeps exactly the optional abilities (``append``,
``compare_and_save``, ``compare_and_append``) of the store it wraps, so the engine treats it as it
would the real store. Faults are drawn from a seeded random generator, so a
failing run can be repeated with its seed::

    faulty = with_faults(store, rate=0.2, seed=7)
    executor = Executor(faulty)
    ...
    print(faulty.faults)   # how many of each kind were injected
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, Self, cast

from beluga_workflow import StoreUnavailableError, WorkflowFilter, WorkflowState, WorkflowStore
from beluga_workflow.store import SupportsAppend, SupportsCompareAndAppend, SupportsCompareAndSave

__all__ = ["FaultKind", "FaultyStore", "with_faults"]

FaultKind = Literal["before", "after"]


class FaultyStore:
    """A store whose writes fail at random (see the module doc); reads are passed through.

    ``rate`` is the chance that a write fails; ``kinds`` which failures are
    drawn. :meth:`fail_next` forces the next write(s) to fail in a given way.
    """

    def __init__(
        self,
        store: WorkflowStore,
        *,
        rate: float = 0.0,
        seed: int = 0,
        kinds: tuple[FaultKind, ...] = ("before", "after"),
    ) -> None:
        self.inner = store
        self.rate = rate
        self.kinds = kinds
        self.faults: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._forced: list[FaultKind] = []

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r}, rate={self.rate}, faults={dict(self.faults)})"

    def fail_next(self, *kinds: FaultKind) -> None:
        """Make the next writes fail, one per kind given, in that order."""
        self._forced.extend(kinds)

    async def _write(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        kind = self._draw()
        if kind == "before":
            self.faults[f"{operation}:before"] += 1
            raise StoreUnavailableError(f"injected fault: {operation} never reached the store")
        result = await call()
        if kind == "after":
            self.faults[f"{operation}:after"] += 1
            raise StoreUnavailableError(f"injected fault: the answer to {operation} was lost")
        return result

    def _draw(self) -> FaultKind | None:
        if self._forced:
            return self._forced.pop(0)
        if self.rate and self._random.random() < self.rate:
            return self._random.choice(self.kinds)
        return None

    async def save(self, state: WorkflowState) -> None:
        await self._write("save", lambda: self.inner.save(state))

    async def load(self, workflow_id: str) -> WorkflowState | None:
        return await self.inner.load(workflow_id)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        return await self.inner.list(filter)

    async def delete(self, workflow_id: str) -> None:
        await self._write("delete", lambda: self.inner.delete(workflow_id))

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _Appending(FaultyStore):
    async def append(self, state: WorkflowState, new_events: int) -> None:
        inner: Any = self.inner
        await self._write("append", lambda: inner.append(state, new_events))


class _Comparing(FaultyStore):
    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        inner: Any = self.inner
        version: int = await self._write(
            "compare_and_save", lambda: inner.compare_and_save(state, expected_version)
        )
        return version


class _ComparingAndAppending(FaultyStore):
    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        inner: Any = self.inner
        version: int = await self._write(
            "compare_and_append",
            lambda: inner.compare_and_append(state, new_events, expected_version),
        )
        return version


_ABILITIES: tuple[tuple[type[Any], type[FaultyStore]], ...] = (
    (SupportsAppend, _Appending),
    (SupportsCompareAndSave, _Comparing),
    (SupportsCompareAndAppend, _ComparingAndAppending),
)
"""Each optional store protocol, and the wrapper part that passes it on."""


def with_faults(
    store: WorkflowStore,
    *,
    rate: float = 0.0,
    seed: int = 0,
    kinds: tuple[FaultKind, ...] = ("before", "after"),
) -> FaultyStore:
    """Wrap ``store`` in a :class:`FaultyStore` with the same optional abilities."""
    parts = tuple(part for protocol, part in _ABILITIES if isinstance(store, protocol))
    return _wrapper(parts)(store, rate=rate, seed=seed, kinds=kinds)


@functools.cache
def _wrapper(parts: tuple[type[FaultyStore], ...]) -> type[FaultyStore]:
    """The wrapper class with exactly ``parts``' abilities (one class per combination)."""
    if not parts:
        return FaultyStore
    if len(parts) == 1:
        return parts[0]
    return cast(type[FaultyStore], type("FaultyStore", parts, {}))
