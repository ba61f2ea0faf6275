"""Telling the change notices of a run's own writes from those of other processes.

A store's watch reports every write, the owner's too. Reading the run back
for each of its own writes would double its reads, so the owner expects one
notice per write it makes and reads back only for the others: a signal or a
cancel stored elsewhere.

A write is expected from the moment it is sent, not from its answer: a
store may deliver the notice first (a NATS KV watch on the writer's own
connection gets the stream's message before the write's acknowledgement; a
PostgreSQL LISTEN connection may be told before the committing one). Counted
on its answer, that early notice would be taken for another process's, and
the next one, a signal's, for the run's own, leaving the signal to the next
poll. A write that is not stored takes its count back. A notice of another
process taken for the run's own meanwhile is not lost: a write that is not
stored has read the run back, and for a write that is, the run's own notice
comes later and is then taken for another's, so the run reads itself back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["OwnNotices", "Write"]


@dataclass
class Write:
    """One write of the run, however many tries it takes; the writer says if it was stored."""

    stored: bool = False


class OwnNotices:
    """How many notices of a run's own writes are still to come."""

    def __init__(self) -> None:
        self._expected = 0

    @contextlib.contextmanager
    def writing(self) -> Iterator[Write]:
        """Around one write: its notice is expected from now on, unless it is not stored.

        The caller sets ``stored`` on what this yields once it knows; an error
        leaves it unset. A write whose answer was lost may have landed all
        the same: its notice, if it comes, only causes a read.
        """
        self._expected += 1
        write = Write()
        try:
            yield write
        finally:
            if not write.stored:
                self._expected = max(0, self._expected - 1)

    def take(self) -> bool:
        """Whether a notice just received for the run is most likely of its own write."""
        if self._expected > 0:
            self._expected -= 1
            return True
        return False

    def forget(self) -> None:
        """Expect none: the watch (re)started and may have missed some."""
        self._expected = 0

    @property
    def expected(self) -> int:
        """The notices of own writes still to come (for tests and diagnostics)."""
        return self._expected
