"""Discovery of store providers through entry points, on pluggy.

Every provider, the built-in in-memory one included, comes from a plugin
module named by an entry point in the ``beluga_workflow`` group. Discovery
imports those plugin modules (which declare, and import nothing heavy) and asks
each for its providers. A plugin that fails in any way (an exception,
``sys.exit()``; see :mod:`beluga_workflow.plugins.guard`) is recorded and
reported; the others keep working.

Environment variables, read at discovery:

``BELUGA_WORKFLOW_DISABLE_PLUGIN_AUTOLOAD``
    ``1``/``true``: load only the plugins of the core distribution.
``BELUGA_WORKFLOW_PLUGINS``
    Comma-separated entry-point names: load only these (plus the core's).
``BELUGA_WORKFLOW_STRICT_PLUGINS``
    ``1``/``true``: a plugin that fails to load raises ``ProviderLoadError``
    (naming the plugin and the cause) instead of being reported.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import importlib_metadata
import pluggy
from pydantic import BaseModel, ConfigDict

from beluga_workflow import hookspecs
from beluga_workflow.errors import (
    DuplicateProviderError,
    ProviderLoadError,
    ProviderNotFoundError,
)
from beluga_workflow.plugins.guard import PluginCodeFailed, run_plugin_code
from beluga_workflow.plugins.provider import StoreProvider
from beluga_workflow.redaction import redact_url
from beluga_workflow.storekit.schemes import PUBLISHED_SCHEMES

__all__ = [
    "CORE_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "PUBLISHED_PROVIDERS",
    "ProviderRegistry",
    "RegisteredProvider",
    "StoreInfo",
    "available_stores",
    "default_registry",
    "install_hint",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
CORE_DISTRIBUTION = "beluga-workflow"

PUBLISHED_PROVIDERS: dict[str, tuple[str, ...]] = PUBLISHED_SCHEMES
"""Providers this project publishes as extras, with their URL schemes (for install hints).

The same table the providers' configs and plugin records read their schemes from.
"""

_TRUE = {"1", "true", "yes", "on"}


def install_hint(name_or_scheme: str) -> str | None:
    """The ``pip install`` line for a provider this project publishes, if it is one."""
    for extra, schemes in PUBLISHED_PROVIDERS.items():
        if name_or_scheme == extra or name_or_scheme in schemes:
            return f'pip install "beluga-workflow[{extra}]"'
    return None


class StoreInfo(BaseModel):
    """What ``available_stores()`` reports about one provider (or one broken plugin)."""

    model_config = ConfigDict(frozen=True)

    name: str
    distribution: str | None
    version: str | None
    plugin: str
    schemes: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    description: str = ""
    load_error: str | None = None


@dataclass(frozen=True)
class RegisteredProvider:
    """A provider together with the distribution whose plugin registered it."""

    provider: StoreProvider
    plugin: str
    distribution: str | None
    version: str | None


@dataclass
class _PluginSource:
    name: str
    module: str
    distribution: str | None
    version: str | None


@dataclass
class _Failure:
    source: _PluginSource
    error: str


@dataclass
class ProviderRegistry:
    """The providers found in one discovery, and the plugins that failed.

    Build one with :meth:`discover`. ``plugin_manager`` is the pluggy manager
    holding every loaded plugin, so other hooks (the executor's lifecycle
    hooks) reach the same plugins.
    """

    plugin_manager: pluggy.PluginManager
    providers: dict[str, RegisteredProvider] = field(default_factory=dict)
    conflicts: dict[str, list[RegisteredProvider]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)

    @classmethod
    def discover(cls, *, strict: bool | None = None) -> ProviderRegistry:
        """Load the plugins allowed by the environment and collect their providers."""
        if strict is None:
            strict = os.environ.get("BELUGA_WORKFLOW_STRICT_PLUGINS", "").lower() in _TRUE
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        registry = cls(plugin_manager=manager)
        sources: dict[str, _PluginSource] = {}
        for entry_point in _allowed_entry_points():
            source = _source_of(entry_point)
            key = f"{source.distribution}:{source.name}"
            if key in sources:  # the same entry point seen twice (editable installs)
                continue
            sources[key] = source
            try:
                module = run_plugin_code(entry_point.load)
                if not manager.is_registered(module):
                    run_plugin_code(functools.partial(manager.register, module, name=key))
            except PluginCodeFailed as failure:
                registry._fail(source, "failed to import", failure, strict=strict)
        registry._collect(sources, strict=strict)
        return registry

    def _fail(
        self, source: _PluginSource, what: str, failure: PluginCodeFailed, *, strict: bool
    ) -> None:
        """Record a plugin that failed; in strict mode raise instead."""
        if strict:
            raise ProviderLoadError(
                f"plugin {source.name!r} ({source.module}) {what}: {failure.reason}"
            ) from failure.cause
        self.failures.append(_Failure(source, failure.reason))

    def _collect(self, sources: dict[str, _PluginSource], *, strict: bool) -> None:
        for impl in self.plugin_manager.hook.beluga_workflow_store_providers.get_hookimpls():
            source = sources.get(impl.plugin_name) or _PluginSource(
                impl.plugin_name, repr(impl.plugin), None, None
            )
            try:
                offered = run_plugin_code(functools.partial(_providers_offered, impl.function))
            except PluginCodeFailed as failure:
                self._fail(source, "failed to list its providers", failure, strict=strict)
                continue
            for provider in offered:
                self._add(
                    RegisteredProvider(provider, source.name, source.distribution, source.version)
                )
        if strict and self.conflicts:
            name = next(iter(self.conflicts))
            raise self.conflict_error(name)

    def _add(self, entry: RegisteredProvider) -> None:
        name = entry.provider.name
        if name in self.conflicts:
            self.conflicts[name].append(entry)
        elif name in self.providers:
            self.conflicts[name] = [self.providers.pop(name), entry]
        else:
            self.providers[name] = entry

    def conflict_error(self, name: str) -> DuplicateProviderError:
        """The error for a provider name claimed by more than one distribution."""
        claimants = " and ".join(
            f"{entry.distribution or entry.plugin} (plugin {entry.plugin!r})"
            for entry in self.conflicts[name]
        )
        return DuplicateProviderError(
            f"store provider name {name!r} is registered by {claimants}; "
            "uninstall one of them or restrict plugins with BELUGA_WORKFLOW_PLUGINS"
        )

    def get(self, name: str) -> RegisteredProvider:
        """The provider called ``name``; raise with the installed names if there is none."""
        if name in self.providers:
            return self.providers[name]
        if name in self.conflicts:
            raise self.conflict_error(name)
        raise ProviderNotFoundError(
            self._not_found(f"no store provider named {redact_url(name)!r}", name)
        )

    def for_scheme(self, scheme: str) -> RegisteredProvider:
        """The provider that handles URLs with ``scheme``."""
        scheme = scheme.lower()
        for entry in self.providers.values():
            if scheme in entry.provider.url_schemes:
                return entry
        for name, entries in self.conflicts.items():
            if any(scheme in entry.provider.url_schemes for entry in entries):
                raise self.conflict_error(name)
        raise ProviderNotFoundError(
            self._not_found(f"no store provider handles URLs starting with {scheme}://", scheme)
        )

    def _not_found(self, what: str, name_or_scheme: str) -> str:
        installed = ", ".join(sorted(self.providers)) or "none"
        message = f"{what}; installed providers: {installed}"
        hint = install_hint(name_or_scheme)
        if hint:
            message += f"; install it with: {hint}"
        broken = [f.source.name for f in self.failures]
        if broken:
            message += f"; plugins that failed to load: {', '.join(broken)}"
        return message

    def infos(self) -> list[StoreInfo]:
        """One record per provider, conflicting claims and failed plugins included."""
        records = [_info(entry) for entry in self.providers.values()]
        for name, entries in self.conflicts.items():
            error = str(self.conflict_error(name))
            records.extend(_info(entry, error) for entry in entries)
        records.extend(
            StoreInfo(
                name=failure.source.name,
                distribution=failure.source.distribution,
                version=failure.source.version,
                plugin=failure.source.module,
                load_error=failure.error,
            )
            for failure in self.failures
        )
        return sorted(records, key=lambda info: (info.name, info.distribution or ""))


def _providers_offered(hook: Any) -> list[StoreProvider]:
    offered = list(hook())
    for provider in offered:
        if not isinstance(provider, StoreProvider):
            raise TypeError(f"returned {provider!r}, not a StoreProvider")
    return offered


def _info(entry: RegisteredProvider, error: str | None = None) -> StoreInfo:
    provider = entry.provider
    return StoreInfo(
        name=provider.name,
        distribution=entry.distribution,
        version=entry.version,
        plugin=entry.plugin,
        schemes=tuple(provider.url_schemes),
        capabilities=tuple(sorted(str(c) for c in provider.capabilities)),
        description=provider.description,
        load_error=error,
    )


def _allowed_entry_points() -> Iterable[Any]:
    autoload_disabled = (
        os.environ.get("BELUGA_WORKFLOW_DISABLE_PLUGIN_AUTOLOAD", "").lower() in _TRUE
    )
    allowed_names = {
        name.strip()
        for name in os.environ.get("BELUGA_WORKFLOW_PLUGINS", "").split(",")
        if name.strip()
    }
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if _is_core(entry_point) or not (
            autoload_disabled or (allowed_names and entry_point.name not in allowed_names)
        ):
            yield entry_point


def _is_core(entry_point: Any) -> bool:
    dist = entry_point.dist
    return dist is not None and _normalize(dist.name) == CORE_DISTRIBUTION


def _source_of(entry_point: Any) -> _PluginSource:
    dist = entry_point.dist
    return _PluginSource(
        name=entry_point.name,
        module=entry_point.value,
        distribution=None if dist is None else _normalize(dist.name),
        version=None if dist is None else dist.version,
    )


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


_default: ProviderRegistry | None = None
_default_lock = threading.Lock()


def default_registry(*, refresh: bool = False) -> ProviderRegistry:
    """The process-wide registry, discovered on first use (again when ``refresh``)."""
    global _default
    with _default_lock:
        if _default is None or refresh:
            _default = ProviderRegistry.discover()
        return _default


def available_stores(*, refresh: bool = False) -> list[StoreInfo]:
    """Every installed store provider, with its distribution, capabilities and load errors.

    Imports only plugin modules, never a backend library.
    """
    return default_registry(refresh=refresh).infos()
