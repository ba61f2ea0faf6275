"""PostgreSQL store for beluga-workflow.

Importing this package does not import psycopg: the store module loads on
first use of :class:`PostgresStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.storekit.lazy import lazy_exports
from beluga_workflow_postgres.config import PostgresConfig

if TYPE_CHECKING:
    from beluga_workflow_postgres.store import PostgresStore

__all__ = ["PostgresConfig", "PostgresStore"]

__getattr__ = lazy_exports(__name__, {"PostgresStore": "beluga_workflow_postgres.store"})
