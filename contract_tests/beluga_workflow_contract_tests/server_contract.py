"""``ServerStoreContract``: the promises of a store that talks to a server, as tests to inherit.

The in-process rules cannot cut a store off from its server, so these live in
a mixin a provider's test class inherits, giving it what only it can build::

    class TestMyServer(ServerStoreContract):
        provider_name = "mine"
        outage_secret = "s3cret"

        @pytest.fixture
        def outage_factory(self, url, prefix):
            async def open_cut_off(operation_timeout):
                proxy = OutageProxy("127.0.0.1", 6379)
                await proxy.start()
                store = MyStore(f"mine://:s3cret@127.0.0.1:{proxy.port}", prefix=prefix,
                                **({} if operation_timeout is None
                                   else {"operation_timeout": operation_timeout}))
                return store, proxy
            return open_cut_off

Each test runs in an event loop of its own (no asyncio plugin is needed), and
closes the stores and the proxy it opened. The checks are those of
:mod:`.server_checks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, ClassVar

import pytest

from beluga_workflow import StoreUnavailableError, WorkflowStore
from beluga_workflow_contract_tests.capabilities import declared_capabilities
from beluga_workflow_contract_tests.server_checks import (
    SLACK,
    Outage,
    check_bounded_outage,
    check_first_call_after_recovery,
    check_one_writer_wins,
    check_running_workflow_stops,
)

__all__ = ["OutageFactory", "ServerStoreContract", "UnreachableFactory"]

OutageFactory = Callable[[float | None], Awaitable[tuple[WorkflowStore, Outage]]]
"""Opens a store (with that ``operation_timeout``, or the provider's default for ``None``)
that reaches its server only through the returned outage handle, started; anything
with ``async stop()`` and ``async start()`` (and, optionally, ``async close()``) is one."""

UnreachableFactory = Callable[[], Awaitable[WorkflowStore] | WorkflowStore]
"""Opens a store pointed at an address where no server listens, with
:attr:`ServerStoreContract.outage_secret` in its URL if the provider takes credentials."""


class ServerStoreContract:
    """The server promises (SPEC 5; provider guide, servers): bounded unavailability with
    the secret masked, recovery of the same instance, and one winner of concurrent writes.

    Give the fixtures ``outage_factory`` (:data:`OutageFactory`), ``unreachable_factory``
    (:data:`UnreachableFactory`) and, for a provider with optimistic concurrency,
    ``store_factory`` (opening stores on one fresh namespace, two of which race);
    set ``provider_name`` (or ``capabilities``).
    """

    provider_name: ClassVar[str | None] = None
    """The registered provider; its record says whether it has optimistic concurrency."""

    capabilities: ClassVar[frozenset[str] | None] = None
    """Overrides the record's capabilities, as on ``StoreContract``."""

    outage_bound: ClassVar[float] = 2.0
    """The ``operation_timeout`` the outage store is opened with: each call gives up within it."""

    outage_stop_seconds: ClassVar[float] = 3.0
    """Seconds a running workflow may take to stop once its server is gone (default timeouts)."""

    outage_secret: ClassVar[str | None] = None
    """The secret in the URLs of the outage and unreachable stores, never to be shown."""

    def check_outage_error(self, error: StoreUnavailableError) -> None:
        """Override to check what the provider's own errors say (its name, the masked URL)."""

    # --- the promises ------------------------------------------------------------

    def test_every_call_in_an_outage_gives_up_within_the_bound_saying_what_failed(
        self, outage_factory: OutageFactory
    ) -> None:
        async def body() -> None:
            async with _cut_off(outage_factory, self.outage_bound) as (store, proxy):
                errors = await check_bounded_outage(
                    store, proxy, bound=self.outage_bound, secret=self.outage_secret
                )
            for error in errors:
                self.check_outage_error(error)

        _run(body())

    def test_the_first_call_after_an_outage_succeeds_on_the_same_store(
        self, outage_factory: OutageFactory
    ) -> None:
        async def body() -> None:
            async with _cut_off(outage_factory, self.outage_bound) as (store, proxy):
                await check_first_call_after_recovery(store, proxy)

        _run(body())

    def test_a_running_workflow_stops_within_seconds_of_an_outage(
        self, outage_factory: OutageFactory
    ) -> None:
        async def body() -> None:
            async with _cut_off(outage_factory, None) as (store, proxy):
                await check_running_workflow_stops(store, proxy, within=self.outage_stop_seconds)

        _run(body())

    def test_an_unreachable_server_is_unavailable_within_the_bound_secret_masked(
        self, unreachable_factory: UnreachableFactory
    ) -> None:
        async def body() -> None:
            made = unreachable_factory()
            store = await made if inspect.isawaitable(made) else made
            started = time.monotonic()
            try:
                with pytest.raises(StoreUnavailableError) as info:
                    await store.load("w")
            finally:
                await store.close()
            waited = time.monotonic() - started
            assert waited < self.outage_bound + SLACK, f"load gave up after {waited:.1f}s"
            if self.outage_secret is not None:
                assert self.outage_secret not in str(info.value), str(info.value)
                assert self.outage_secret not in repr(store), repr(store)
            self.check_outage_error(info.value)

        _run(body())

    def test_of_two_writers_of_one_id_exactly_one_wins(
        self, request: pytest.FixtureRequest
    ) -> None:
        if "optimistic_concurrency" not in declared_capabilities(type(self)):
            pytest.skip("capability 'optimistic_concurrency' is not declared by the provider")
        store_factory = request.getfixturevalue("store_factory")

        async def body() -> None:
            first, second = await _open(store_factory), await _open(store_factory)
            try:
                await check_one_writer_wins(first, second)
            finally:
                await first.close()
                await second.close()

        _run(body())


def _run(body: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.run(body)


async def _open(factory: Any) -> WorkflowStore:
    made = factory()
    store: WorkflowStore = await made if inspect.isawaitable(made) else made
    return store


@contextlib.asynccontextmanager
async def _cut_off(
    factory: OutageFactory, operation_timeout: float | None
) -> AsyncIterator[tuple[WorkflowStore, Outage]]:
    store, proxy = await factory(operation_timeout)
    try:
        yield store, proxy
    finally:
        await store.close()
        close = getattr(proxy, "close", None)
        if callable(close):
            await close()
