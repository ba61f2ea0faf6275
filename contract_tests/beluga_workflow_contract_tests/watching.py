"""Helpers for a provider's own tests of ``watch()``: the next notice, within a bound.

async with watching(store) as watch:       # its first None already taken
    await other_store.save(state)
    assert await next_notice(watch) == state.workflow_id
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from beluga_workflow import SupportsWatch

__all__ = ["NOTICE_BOUND", "next_notice", "watching"]

NOTICE_BOUND = 2.0
"""Seconds a notice may take before the wait fails (``TimeoutError``)."""


async def next_notice(watch: AsyncIterator[str | None], bound: float = NOTICE_BOUND) -> str | None:
    """The next item of ``watch``; ``TimeoutError`` if none comes within ``bound``."""
    return await asyncio.wait_for(anext(watch), bound)


@contextlib.asynccontextmanager
async def watching(
    store: SupportsWatch, bound: float = NOTICE_BOUND
) -> AsyncIterator[AsyncIterator[str | None]]:
    """A live watch of ``store`` (its first ``None`` already taken), closed afterwards."""
    watch = store.watch()
    try:
        assert await next_notice(watch, bound) is None, "watch() must start with None"
        yield watch
    finally:
        await watch.aclose()  # type: ignore[attr-defined]
