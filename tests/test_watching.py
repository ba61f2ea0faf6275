"""Subscriptions with a feed: it stops when the store closes; its failure reaches the watcher."""

from __future__ import annotations

import asyncio

import pytest

from beluga_workflow.watching import Subscription, Watchers


async def test_ending_a_subscription_cancels_its_feed() -> None:
    watchers = Watchers()
    subscription = watchers.subscribe()
    stopped = asyncio.Event()

    async def feed(target: Subscription) -> None:
        target.push(None)
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    subscription.feed(feed(subscription))
    assert await anext(subscription) is None

    watchers.end_all()

    async with asyncio.timeout(5):
        await stopped.wait()
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def test_a_failing_feed_ends_the_iterator_with_its_error() -> None:
    subscription = Watchers().subscribe()

    async def feed(target: Subscription) -> None:
        target.push("seen")
        raise RuntimeError("the feed broke")

    subscription.feed(feed(subscription))

    assert await anext(subscription) == "seen"
    with pytest.raises(RuntimeError, match="the feed broke"):
        await anext(subscription)
    await subscription.release()


async def test_release_waits_for_the_feed_to_let_go() -> None:
    subscription = Watchers().subscribe()
    released: list[str] = []

    async def feed(target: Subscription) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            released.append("connection closed")

    subscription.feed(feed(subscription))
    await asyncio.sleep(0)

    await subscription.release()

    assert released == ["connection closed"]
