"""StoreBase and ServerStore: the closed state, async with, reprs, and mapped backend errors."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from pydantic import Field

from beluga_workflow import (
    InvalidArgumentError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from beluga_workflow.store import SupportsAppend, SupportsCompareAndSave, WorkflowStore
from beluga_workflow.storekit import ServerStore, ServerStoreConfig, StoreBase


class BackendFailed(Exception):
    """What a client library raises for a failed request."""


class DemoConfig(ServerStoreConfig):
    url_schemes: ClassVar[tuple[str, ...]] = ("demo",)

    url: str = "demo://user:secret@host:1"
    operation_timeout: float = Field(default=0.2, gt=0)


class DemoStore(ServerStore[DemoConfig]):
    provider = "demo"
    config_model = DemoConfig

    def __init__(self, config: DemoConfig | str | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.released = 0

    async def call(self, work: Any) -> Any:
        return await self.bounded("load", work, outage=(OSError,), failures=(BackendFailed,))

    async def release(self) -> None:
        self.released += 1


def test_a_store_is_built_from_a_config_or_a_url_with_options() -> None:
    assert DemoStore().config == DemoConfig()
    assert DemoStore("demo://h:2", operation_timeout=1).config.operation_timeout == 1
    with pytest.raises(InvalidArgumentError, match="give DemoStore a config, or a URL"):
        DemoStore(DemoConfig(), operation_timeout=1)


def test_the_repr_comes_from_the_config_without_secrets() -> None:
    assert repr(DemoStore()) == "DemoStore(url='demo://user:***@host:1')"


def test_a_closed_store_refuses_calls_and_closing_again_is_harmless() -> None:
    async def scenario() -> None:
        store = DemoStore()
        async with store as entered:
            assert entered is store
        await store.close()
        assert store.closed
        assert store.released == 2
        with pytest.raises(
            StoreClosedError, match=r"^demo store demo://user:\*\*\*@host:1 is closed$"
        ):
            await store.call(lambda: asyncio.sleep(0))

    asyncio.run(scenario())


def test_backend_failures_become_store_errors_with_secrets_masked() -> None:
    async def scenario() -> None:
        store = DemoStore()

        async def fails() -> None:
            raise BackendFailed("refused password=secret")

        with pytest.raises(StoreError) as caught:
            await store.call(fails)
        assert type(caught.value) is StoreError
        assert str(caught.value).startswith("demo store demo://user:***@host:1 failed: ")
        assert "secret" not in str(caught.value)

    asyncio.run(scenario())


def test_an_outage_gives_up_within_the_bound_and_a_close_meanwhile_says_closed() -> None:
    async def scenario() -> None:
        store = DemoStore()

        async def down() -> None:
            raise OSError("connection refused")

        with pytest.raises(StoreUnavailableError, match="gave up within"):
            await store.call(down)

        async def hangs() -> None:
            await asyncio.sleep(10)

        pending = asyncio.ensure_future(store.call(hangs))
        await asyncio.sleep(0.05)
        await store.close()
        with pytest.raises(StoreClosedError):
            await pending

    asyncio.run(scenario())


def test_the_base_class_declares_no_optional_ability() -> None:
    class Minimal(StoreBase):
        async def save(self, state: Any) -> None: ...
        async def load(self, workflow_id: str) -> None: ...
        async def list(self, filter: Any = None) -> list[Any]:
            return []

        async def delete(self, workflow_id: str) -> None: ...

    store = Minimal()
    assert isinstance(store, WorkflowStore)
    assert not isinstance(store, SupportsAppend)
    assert not isinstance(store, SupportsCompareAndSave)
