"""Options of the in-memory store: none, and the URL scheme that selects it."""

from __future__ import annotations

from typing import ClassVar

from beluga_workflow.storekit.config import StoreConfig

__all__ = ["InMemoryConfig"]


class InMemoryConfig(StoreConfig):
    """The in-memory store takes no options; ``memory://`` selects it."""

    url_schemes: ClassVar[tuple[str, ...]] = ("memory",)
