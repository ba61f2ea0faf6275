"""Stores the lifecycle tests run on: in memory, SQLite, and PostgreSQL in a schema of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from beluga_workflow import open_store
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.store import WorkflowStore
from tests.reliability.targets import faulty_target

DURABLE = ("sqlite", "postgres")
"""Stores that several processes can share."""


@pytest.fixture(params=("memory", *DURABLE))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def spec(kind: str, tmp_path: Path) -> AsyncIterator[dict[str, Any] | None]:
    """How a process opens the store (``None``: a fresh in-memory store, one process only)."""
    if kind == "memory":
        yield None
        return
    async with faulty_target(kind, tmp_path) as target:
        yield target.client_spec


@pytest.fixture
async def store(spec: dict[str, Any] | None) -> AsyncIterator[WorkflowStore]:
    opened: WorkflowStore = InMemoryStore() if spec is None else open_store(spec)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=DURABLE)
async def shared_spec(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    """A store several processes open (SQLite or PostgreSQL)."""
    async with faulty_target(str(request.param), tmp_path) as target:
        yield target.client_spec
