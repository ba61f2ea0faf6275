"""The database layout and its migrations, versioned with ``PRAGMA user_version``.

A workflow is one row in ``workflows`` (every field but the history, as JSON)
plus one row per history event in ``history_events``. Appending a step inserts
one event row and updates one workflow row, whatever the history's length.
Each write also notes its id in ``changes`` (version 2), which watchers poll.
"""

from __future__ import annotations

import sqlite3

from beluga_workflow.errors import StoreError

__all__ = ["SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """
        CREATE TABLE workflows (
            workflow_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL,
            history_len INTEGER NOT NULL,
            head TEXT NOT NULL
        )
        """,
        "CREATE INDEX workflows_by_status ON workflows (status, created_at, workflow_id)",
        "CREATE INDEX workflows_by_created ON workflows (created_at, workflow_id)",
        """
        CREATE TABLE history_events (
            workflow_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event TEXT NOT NULL,
            PRIMARY KEY (workflow_id, seq)
        ) WITHOUT ROWID
        """,
    ],
    2: ["CREATE TABLE changes (seq INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL)"],
}


def migrate(connection: sqlite3.Connection, path: str) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`, one transaction per step.

    ``BEGIN IMMEDIATE`` serializes two processes migrating the same new file.
    """
    current = _user_version(connection)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"SQLite database {path!r} has schema version {current}, newer than the "
            f"{SCHEMA_VERSION} this beluga-workflow-sqlite understands; upgrade the package"
        )
    while current < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = _user_version(connection)  # another process may have migrated
            if current < SCHEMA_VERSION:
                target = current + 1
                for statement in _MIGRATIONS[target]:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {target}")
                current = target
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _user_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])
