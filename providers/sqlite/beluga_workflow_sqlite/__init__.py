"""SQLite store for beluga-workflow.

Importing this package stays cheap: the store module is loaded on first use
of :class:`SQLiteStore`, so provider discovery never opens a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beluga_workflow_sqlite.config import SQLiteConfig

if TYPE_CHECKING:
    from beluga_workflow_sqlite.store import SQLiteStore

__all__ = ["SQLiteConfig", "SQLiteStore"]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from beluga_workflow_sqlite.store import SQLiteStore

        return SQLiteStore
    raise AttributeError(name)
