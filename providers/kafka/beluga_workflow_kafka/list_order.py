"""Workflow ids kept in list order, overall and per status, as records change them.

``list(status, limit)`` then takes the first ``limit`` ids instead of
sorting every stored workflow: its cost does not grow with how many are
stored. A step that changes neither status nor creation time touches nothing.
"""

from __future__ import annotations

import bisect

__all__ = ["ListOrder"]

_Key = tuple[str, str]
"""(creation time as ISO text, id): the order ``list`` returns."""


class ListOrder:
    """Sorted keys of every workflow, and of the workflows of each status."""

    def __init__(self) -> None:
        self._every: list[_Key] = []
        self._by_status: dict[str, list[_Key]] = {}
        self._placed: dict[str, tuple[str, _Key]] = {}

    def put(self, workflow_id: str, status: str, created: str) -> None:
        """Place (or move) a workflow."""
        key = (created, workflow_id)
        placed = self._placed.get(workflow_id)
        if placed == (status, key):
            return
        if placed is not None:
            self.remove(workflow_id)
        self._placed[workflow_id] = (status, key)
        bisect.insort(self._every, key)
        bisect.insort(self._by_status.setdefault(status, []), key)

    def remove(self, workflow_id: str) -> None:
        """Take a workflow out; one that is not there is ignored."""
        placed = self._placed.pop(workflow_id, None)
        if placed is None:
            return
        status, key = placed
        _discard(self._every, key)
        keys = self._by_status[status]
        _discard(keys, key)
        if not keys:
            del self._by_status[status]

    def first(self, status: str | None, limit: int) -> list[str]:
        """Ids in list order, of ``status`` when given, at most ``limit`` when it is above 0."""
        keys = self._every if status is None else self._by_status.get(status, [])
        chosen = keys[:limit] if limit else keys
        return [workflow_id for _, workflow_id in chosen]


def _discard(keys: list[_Key], key: _Key) -> None:
    index = bisect.bisect_left(keys, key)
    if index < len(keys) and keys[index] == key:
        del keys[index]
