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
from typing import Final

__all__ = ["DEFAULT_BYTES", "Fragments"]

DEFAULT_BYTES: Final = 16 * 1024 * 1024
"""Bytes of history fragments one store keeps, at most."""


class Fragments:
    """The leading history fragments of recently used workflows, by id and generation."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._kept: OrderedDict[str, tuple[str, list[bytes]]] = OrderedDict()

    def known(self, workflow_id: str, gen: str, frags: int) -> list[bytes]:
        """The first fragments (at most ``frags``) of ``workflow_id``'s generation ``gen``."""
        kept = self._kept.get(workflow_id)
        if kept is None or kept[0] != gen:
            return []
        self._kept.move_to_end(workflow_id)
        return kept[1][:frags]

    def keep(self, workflow_id: str, gen: str, fragments: list[bytes]) -> None:
        """Remember ``fragments``: the first ones of ``workflow_id``'s generation ``gen``."""
        self.forget(workflow_id)
        size = sum(len(fragment) for fragment in fragments)
        if size > self._max_bytes:
            return
        self._kept[workflow_id] = (gen, list(fragments))
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, (_, dropped) = self._kept.popitem(last=False)
            self._bytes -= sum(len(fragment) for fragment in dropped)

    def extend(self, workflow_id: str, gen: str, after: int, fragments: list[bytes]) -> None:
        """Add the ``fragments`` a committed step wrote after the first ``after`` ones."""
        kept = self._kept.get(workflow_id)
        if kept is not None and kept[0] == gen and len(kept[1]) == after:
            self.keep(workflow_id, gen, kept[1] + fragments)
        else:
            self.forget(workflow_id)

    def forget(self, workflow_id: str) -> None:
        kept = self._kept.pop(workflow_id, None)
        if kept is not None:
            self._bytes -= sum(len(fragment) for fragment in kept[1])

    def clear(self) -> None:
        self._kept.clear()
        self._bytes = 0
