"""Listing that one unreadable record cannot stop: it is skipped, logged and reported.

A record a store cannot decode (damaged, written by hand, or left by an older
release that accepted what it could not read back) must not make ``list()``
fail, and with it ``Executor.recover()``, workers and ``beluga-workflow list``,
for every other workflow in the store. Stores therefore build their ``list()``
result as a :class:`StateList`: each record that raises
:class:`~beluga_workflow.errors.CorruptStateError` is left out, logged as a
warning on the ``beluga_workflow.store`` logger naming its id, and kept in
``StateList.unreadable``. ``load()`` of that id still raises the error, and
``delete()`` removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import ParamSpec

from beluga_workflow.errors import CorruptStateError
from beluga_workflow.models import WorkflowState

__all__ = ["StateList", "unreadable_records"]

logger = logging.getLogger("beluga_workflow.store")

P = ParamSpec("P")


class StateList(list[WorkflowState]):
    """What a store's ``list()`` returns: the readable states, and the records it skipped.

    It is a plain ``list`` of states to every caller that does not ask more;
    ``unreadable`` maps the id of each skipped record to the
    :class:`~beluga_workflow.errors.CorruptStateError` saying why. A record
    skipped counts toward no ``limit``, though a store that limits its query
    before decoding may return fewer states when one of them was skipped.
    """

    unreadable: dict[str, CorruptStateError]

    def __init__(self, states: Iterable[WorkflowState] = ()) -> None:
        super().__init__(states)
        self.unreadable = {}

    def read(
        self, decode: Callable[P, WorkflowState | None], *args: P.args, **kwargs: P.kwargs
    ) -> WorkflowState | None:
        """Return ``decode(*args, **kwargs)``; if it raises ``CorruptStateError``, skip: None."""
        try:
            return decode(*args, **kwargs)
        except CorruptStateError as error:
            self.skip(error)
            return None

    def add(
        self, decode: Callable[P, WorkflowState | None], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Append the state ``decode(*args, **kwargs)`` returns, unless unreadable or None."""
        state = self.read(decode, *args, **kwargs)
        if state is not None:
            self.append(state)

    def skip(self, error: CorruptStateError) -> None:
        """Leave the record ``error`` names out of the listing, saying so."""
        logger.warning("list() skipped an unreadable record: %s", error)
        self.unreadable[error.workflow_id] = error


def unreadable_records(states: Iterable[WorkflowState]) -> dict[str, CorruptStateError]:
    """The records a ``list()`` result skipped as unreadable, by id.

    Empty for a plain list, as a store that does not build a :class:`StateList` returns.
    """
    found = getattr(states, "unreadable", None)
    return dict(found) if isinstance(found, dict) else {}
