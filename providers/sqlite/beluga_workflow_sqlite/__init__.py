"""SQLite store for beluga-workflow.

Importing this package stays cheap: the store module is loaded on first use
of :class:`SQLiteStore`, so provider discovery never opens a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports
from beluga_workflow_sqlite.config import SQLiteConfig

if TYPE_CHECKING:
    from beluga_workflow_sqlite.store import SQLiteStore

__all__ = ["SQLiteConfig", "SQLiteStore"]

__getattr__ = lazy_exports(__name__, {"SQLiteStore": "beluga_workflow_sqlite.store"})
