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
"""

from __future__ import annotations

import sqlite3
import threading

__all__ = ["KEPT", "ChangeFeed", "record_change"]

KEPT = 10_000
"""Rows the table keeps: a watcher may fall this many writes behind and miss nothing."""

_PRUNE_EVERY = 1024
"""A write whose seq is a multiple of this prunes the table (one cheap delete now and then)."""


def record_change(db: sqlite3.Connection, workflow_id: str) -> None:
    """Note, in the write's transaction, that ``workflow_id`` changed."""
    seq = db.execute("INSERT INTO changes (workflow_id) VALUES (?)", (workflow_id,)).lastrowid
    if seq is not None and seq % _PRUNE_EVERY == 0:
        db.execute("DELETE FROM changes WHERE seq <= ?", (seq - KEPT,))


class ChangeFeed:
    """A watcher's own connection and how far it has read; one poll at a time."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._data_version = self._pragma_data_version()
        found = self._db.execute("SELECT max(seq) FROM changes").fetchone()
        self._last = int(found[0] or 0)

    def poll(self) -> list[str | None]:
        """The ids written since the last poll, oldest first; ``None`` first if some were pruned."""
        with self._lock:
            version = self._pragma_data_version()
            if version == self._data_version:
                return []
            self._data_version = version
            rows = self._db.execute(
                "SELECT seq, workflow_id FROM changes WHERE seq > ? ORDER BY seq", (self._last,)
            ).fetchall()
        if not rows:
            return []
        notices: list[str | None] = [None] if rows[0][0] != self._last + 1 else []
        notices += [workflow_id for _, workflow_id in rows]
        self._last = int(rows[-1][0])
        return notices

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _pragma_data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])
