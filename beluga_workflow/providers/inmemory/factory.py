"""Deprecated: the factory is :func:`beluga_workflow.providers.inmemory.store.create_store`.

Kept for one release for plugin records that name this module.
"""

from __future__ import annotations

from beluga_workflow.providers.inmemory.store import create_store

__all__ = ["create_store"]
