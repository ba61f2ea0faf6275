"""What a ``StoreContract`` subclass declares: its own list, or its provider's record."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from beluga_workflow.errors import ProviderError
from beluga_workflow.plugins.registry import default_registry

__all__ = ["declared_capabilities"]


def declared_capabilities(contract: type[Any]) -> Collection[str]:
    """``contract.capabilities`` if set, else those of the provider named ``provider_name``.

    A provider that cannot be found (not installed, or claimed twice) fails the
    rules with the registry's reason: checking no capability would pass them silently.
    """
    explicit: Collection[str] | None = getattr(contract, "capabilities", None)
    if explicit is not None:
        return explicit
    name: str | None = getattr(contract, "provider_name", None)
    if name is None:
        return frozenset()
    try:
        provider = default_registry().get(name).provider
    except ProviderError as exc:
        pytest.fail(
            f"the contract suite is not set up correctly: {contract.__name__}.provider_name "
            f"is {name!r}, but {exc}",
            pytrace=False,
        )
    return frozenset(str(capability) for capability in provider.capabilities)
