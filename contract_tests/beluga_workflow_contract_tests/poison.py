"""What ``store_poison`` fixtures write: records that no store can decode.

The rule ``list.skips_unreadable`` needs one unreadable record among good
ones. A provider's ``store_poison`` fixture writes, through its backend's own
client, :data:`UNREADABLE_JSON` where the store keeps a state's JSON; the
in-memory store keeps objects, and :func:`poison_in_memory` plants one that
fails to be read.
"""

from __future__ import annotations

from typing import Any, Self

from beluga_workflow import CorruptStateError, WorkflowState, WorkflowStore
from beluga_workflow.providers.inmemory import InMemoryStore

__all__ = ["UNREADABLE_JSON", "poison_in_memory"]

UNREADABLE_JSON = '{"workflow_id": "unreadable", "input": ' + "[" * 300 + "]" * 300 + "}"
"""A state record nested past the 200 levels a JSON decoder reads back.

An older release, which did not bound the nesting of payloads, could store
such a record itself.
"""


class _Unreadable(WorkflowState):
    """An in-memory entry every read of which fails, as decoding a damaged record would."""

    def __copy__(self) -> Self:
        raise CorruptStateError(self.workflow_id, "planted by the contract suite as unreadable")

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        return self.__copy__()


def poison_in_memory(store: WorkflowStore, workflow_id: str) -> None:
    """A ``store_poison`` for :class:`~beluga_workflow.providers.inmemory.InMemoryStore`."""
    if not isinstance(store, InMemoryStore):
        raise TypeError(f"poison_in_memory needs an InMemoryStore, got {store!r}")
    store._states[workflow_id] = _Unreadable(workflow_id=workflow_id)
