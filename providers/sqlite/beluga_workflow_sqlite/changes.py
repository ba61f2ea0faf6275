"""Change notices of the SQLite store: a small ``changes`` table, read by polling.

SQLite cannot push to another process, so each write also inserts the id it
wrote into ``changes`` in its own transaction (committed with it, or not at
all), and a watcher polls on a connection of its own: ``PRAGMA data_version``
tells, without reading a table, whether another connection committed since
the last look; only then are the rows past the last ``seq`` seen read.

``seq`` is the rowid, so it only grows, in commit order (SQLite has one
writer at a time). The table is pruned to its newest :data:`KEPT` rows, the
newest always kept so a ``seq`` is never reused; a watcher whose next row
was pruned says ``None`` (re-read) instead.

A watcher of the store that wrote is told of the write at once, once it has
committed, and its poll then finds the same row: :class:`Delivered` keeps
each watcher from being told twice (a second notice of a run's own write
reads as another process's, and makes the run read itself back whole).
"""

from __future__ import annotations

import sqlite3
import threading

__all__ = ["KEPT", "ChangeFeed", "Delivered", "record_change"]

KEPT = 10_000
"""Rows the table keeps: a watcher may fall this many writes behind and miss nothing."""

_PRUNE_EVERY = 1024
"""A write whose seq is a multiple of this prunes the table (one cheap delete now and then)."""


Row = tuple[int, str]
"""A change: its ``seq`` and the id written."""


def record_change(db: sqlite3.Connection, workflow_id: str) -> int:
    """Note, in the write's transaction, that ``workflow_id`` changed; the change's ``seq``."""
    seq = db.execute("INSERT INTO changes (workflow_id) VALUES (?)", (workflow_id,)).lastrowid
    assert seq is not None  # an INSERT into a rowid table always has one
    if seq % _PRUNE_EVERY == 0:
        db.execute("DELETE FROM changes WHERE seq <= ?", (seq - KEPT,))
    return seq


class ChangeFeed:
    """A watcher's own connection and how far it has read; one poll at a time."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._data_version = self._pragma_data_version()
        found = self._db.execute("SELECT max(seq) FROM changes").fetchone()
        self._last = int(found[0] or 0)

    def poll(self) -> tuple[bool, list[Row]]:
        """The changes since the last poll, oldest first, and whether some were pruned first."""
        with self._lock:
            version = self._pragma_data_version()
            if version == self._data_version:
                return False, []
            self._data_version = version
            found = self._db.execute(
                "SELECT seq, workflow_id FROM changes WHERE seq > ? ORDER BY seq", (self._last,)
            ).fetchall()
        if not found:
            return False, []
        rows = [(int(seq), str(workflow_id)) for seq, workflow_id in found]
        pruned = rows[0][0] != self._last + 1
        self._last = rows[-1][0]
        return pruned, rows

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _pragma_data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])


class Delivered:
    """Which changes one watcher was handed, told at once or polled, so none comes twice.

    Safe from any thread: the writer tells on its own loop, the watcher's
    poll hands over on the watcher's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polled = 0
        """The highest ``seq`` a poll handed over."""
        self._told: set[int] = set()
        """Changes told at once that no poll has reached yet."""

    def tell(self, seq: int) -> bool:
        """Whether a change just committed by this store is news to the watcher (then noted)."""
        with self._lock:
            if seq <= self._polled:
                return False  # the poll found it first
            self._told.add(seq)
            return True

    def polled(self, rows: list[Row]) -> list[str]:
        """The ids of polled ``rows`` the watcher was not told of at once, in order."""
        with self._lock:
            fresh = [workflow_id for seq, workflow_id in rows if seq not in self._told]
            if rows:
                self._polled = max(self._polled, rows[-1][0])
            self._told = {seq for seq in self._told if seq > self._polled}
        return fresh
