"""The record a plugin returns for each store it provides."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel, ConfigDict

from beluga_workflow.errors import ProviderLoadError
from beluga_workflow.plugins.guard import PluginCodeFailed, run_plugin_code
from beluga_workflow.store import WorkflowStore

__all__ = ["NoConfig", "StoreFactory", "StoreProvider"]

StoreFactory = Callable[[Any], WorkflowStore]
"""Builds a store from the provider's validated config model instance."""


class NoConfig(BaseModel):
    """Config model of a provider that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class StoreProvider:
    """One store a plugin offers: how to find it, configure it and build it.

    ``factory`` is a callable or, preferably, a ``"module:callable"`` string so
    the backend is imported only when a store is opened. ``config_model`` is a
    pydantic model; when the provider has ``url_schemes`` it should have a
    ``url`` field, which :func:`~beluga_workflow.open_store` fills from a URL.
    ``capabilities`` uses the names of :class:`~beluga_workflow.capabilities.Capability`.
    """

    name: str
    factory: str | StoreFactory
    config_model: type[BaseModel] = NoConfig
    url_schemes: tuple[str, ...] = ()
    capabilities: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def load_factory(self) -> StoreFactory:
        """Import and return the factory; any import failure becomes ``ProviderLoadError``."""
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            module = run_plugin_code(lambda: importlib.import_module(module_name))
        except PluginCodeFailed as failure:
            raise ProviderLoadError(
                f"store provider {self.name!r} could not load {self.factory!r}: {failure.reason}"
            ) from failure.cause
        try:
            return cast(StoreFactory, getattr(module, attribute))
        except AttributeError as exc:
            raise ProviderLoadError(
                f"store provider {self.name!r} could not load {self.factory!r}: {exc}"
            ) from exc
