"""History fragments a store has already read or written, so a load fetches only newer ones.

A workflow's history is a series of fragments, one per write, under keys
named by its generation and position. A fragment a committed meta record
points at never changes while records of that generation point at it, and
every later record of the generation points at it too (a ``save`` starts a
new generation, with keys never used before). So the fragments of a
generation, once read as part of a committed state (or written by a step
that committed), can be reused by every later load of that generation: the
owner reading its run back after a signal, a client loading it to signal it
again, fetch the meta record and the new fragments, not the whole history.

Bounded in bytes: the workflows used least recently are forgotten first, and
a history larger than the bound is not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

__all__ = ["DEFAULT_BYTES", "Fragments"]

DEFAULT_BYTES: Final = 16 * 1024 * 1024
"""Bytes of history fragments one store keeps, at most."""


@dataclass
class _Kept:
    gen: str
    fragments: list[bytes] = field(default_factory=list)
    size: int = 0
    """Bytes of ``fragments``, kept as they change so a step costs the same at any length."""


class Fragments:
    """The leading history fragments of recently used workflows, by id and generation."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def known(self, workflow_id: str, gen: str, frags: int) -> list[bytes]:
        """The first fragments (at most ``frags``) of ``workflow_id``'s generation ``gen``."""
        kept = self._kept.get(workflow_id)
        if kept is None or kept.gen != gen:
            return []
        self._kept.move_to_end(workflow_id)
        return kept.fragments[:frags]

    def keep(self, workflow_id: str, gen: str, fragments: list[bytes]) -> None:
        """Remember ``fragments``: the first ones of ``workflow_id``'s generation ``gen``."""
        self.forget(workflow_id)
        self._add(workflow_id, _Kept(gen), fragments)

    def extend(self, workflow_id: str, gen: str, after: int, fragments: list[bytes]) -> None:
        """Add the ``fragments`` a committed step wrote after the first ``after`` ones.

        In place: a step's cost must not grow with the history it extends.
        """
        kept = self._kept.pop(workflow_id, None)
        if kept is not None and kept.gen == gen and len(kept.fragments) == after:
            self._add(workflow_id, kept, fragments)
        elif kept is not None:
            self._bytes -= kept.size

    def forget(self, workflow_id: str) -> None:
        kept = self._kept.pop(workflow_id, None)
        if kept is not None:
            self._bytes -= kept.size

    def clear(self) -> None:
        self._kept.clear()
        self._bytes = 0

    def _add(self, workflow_id: str, kept: _Kept, fragments: list[bytes]) -> None:
        """Put ``kept`` (not in the map) back last, with ``fragments`` added, if it fits."""
        added = sum(len(fragment) for fragment in fragments)
        if kept.size + added > self._max_bytes:
            self._bytes -= kept.size
            return
        kept.fragments.extend(fragments)
        kept.size += added
        self._bytes += added
        self._kept[workflow_id] = kept
        while self._bytes > self._max_bytes:
            _, dropped = self._kept.popitem(last=False)
            self._bytes -= dropped.size
