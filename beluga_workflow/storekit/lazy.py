"""Lazy exports, so importing a provider package does not import its backend client.

Provider discovery imports every plugin's package; the store module (and the
client library it needs) loads only when its class is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each of ``names`` from its module on first use.

    ``names`` maps an exported name to the module defining it. Assign the
    result to ``__getattr__`` in the package's ``__init__``; names not listed
    raise ``AttributeError`` as usual.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
