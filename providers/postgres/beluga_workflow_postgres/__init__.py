"""PostgreSQL store for beluga-workflow.

Importing this package does not import psycopg: the store module loads on
first use of :class:`PostgresStore`, so provider discovery stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beluga_workflow_postgres.config import PostgresConfig

if TYPE_CHECKING:
    from beluga_workflow_postgres.store import PostgresStore

__all__ = ["PostgresConfig", "PostgresStore"]


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        from beluga_workflow_postgres.store import PostgresStore

        return PostgresStore
    raise AttributeError(name)
