"""Shared fixtures of the executor tests: an in-memory store and an executor on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from beluga_workflow.executor import Executor
from beluga_workflow.providers.inmemory import InMemoryStore


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
async def executor(store: InMemoryStore) -> AsyncIterator[Executor]:
    async with Executor(store, load_plugins=False) as running:
        yield running


class Checkpoint:
    """Lets a test see that an activity has started, and hold it there until released."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()
        self.calls: list[Any] = []

    async def activity(self, input: Any) -> Any:
        self.calls.append(input)
        self.reached.set()
        await self.released.wait()
        return input


async def eventually(condition: Any, tries: int = 2000) -> None:
    """Let the event loop run until ``condition()`` (sync or async) holds; give up eventually."""
    for _ in range(tries):
        holds = condition()
        if asyncio.iscoroutine(holds):
            holds = await holds
        if holds:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")
