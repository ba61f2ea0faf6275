"""Names of what a store can do beyond the seed's Save/Load/List/Delete.

The same names are used by providers (when they declare what they support),
by the contract suite (which tests declared capabilities and skips the others
with the capability's name as the reason), and by the docs.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Capability"]


class Capability(StrEnum):
    """A capability a provider may declare in its ``StoreProvider`` record."""

    DURABLE = "durable"
    """A new store opened on the same backend (even in another process) sees all saved states."""

    ORDERED_LIST = "ordered_list"
    """``list`` returns states ordered by ``created_at``, then ``workflow_id``, ascending."""

    OPTIMISTIC_CONCURRENCY = "optimistic_concurrency"
    """The store implements :class:`~beluga_workflow.store.SupportsCompareAndSave`."""

    APPEND_HISTORY = "append_history"
    """The store implements :class:`~beluga_workflow.store.SupportsAppend`: a step costs O(1)."""

    COMPARE_AND_APPEND = "compare_and_append"
    """The store implements :class:`~beluga_workflow.store.SupportsCompareAndAppend`."""

    WATCH = "watch"
    """The store implements :class:`~beluga_workflow.store.SupportsWatch`: it says what changed."""

    QUEUE_DISPATCH = "queue_dispatch"
    """The store implements :class:`~beluga_workflow.store.SupportsQueueDispatch`: queued runs
    are claimed in one atomic step of the backend instead of through a board record."""

    MULTI_PROCESS = "multi_process"
    """Several processes may use one backend at once without losing writes."""
