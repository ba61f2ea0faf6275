"""The in-memory store: the default, and the reference implementation for provider authors.

It is laid out as every provider is: ``config`` (its options), ``store`` (the
store and its factory) and ``plugin`` (the record that declares it). State
lives in a dict in this process and is lost when it exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_workflow.providers.inmemory.config import InMemoryConfig
from beluga_workflow.storekit.lazy import lazy_exports

if TYPE_CHECKING:
    from beluga_workflow.providers.inmemory.store import InMemoryStore

__all__ = ["InMemoryConfig", "InMemoryStore"]

__getattr__ = lazy_exports(__name__, {"InMemoryStore": "beluga_workflow.providers.inmemory.store"})
