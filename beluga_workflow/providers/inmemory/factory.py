"""Builds an :class:`InMemoryStore` from its (empty) config."""

from __future__ import annotations

from pydantic import BaseModel

from beluga_workflow.providers.inmemory import InMemoryStore


def create_store(config: BaseModel) -> InMemoryStore:
    return InMemoryStore()
