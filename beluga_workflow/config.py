"""Selecting and opening a store from a name, a URL, a mapping, a TOML file or the environment.

The order of precedence when :func:`open_store` gets no argument:
``BELUGA_WORKFLOW_STORE`` (a name, URL or TOML path), then the in-memory store.

A TOML file names the store in a ``[store]`` table::

    [store]
    provider = "postgres"                 # or: url = "postgresql://..."
    url = "postgresql://app@db/workflows"
    pool_max_size = 10                    # any option of the provider's config model

Options may also ride in the URL's query (``sqlite:///runs.db?synchronous=NORMAL``):
each key must be an option of the provider (see :mod:`beluga_workflow.url_options`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from beluga_workflow.errors import InvalidArgumentError, ProviderConfigError
from beluga_workflow.plugins.registry import ProviderRegistry, RegisteredProvider, default_registry
from beluga_workflow.redaction import redact_text, redact_url
from beluga_workflow.store import WorkflowStore
from beluga_workflow.url_options import options_from_url

__all__ = ["DEFAULT_STORE", "ENV_VAR", "StoreSelection", "open_store", "resolve_store"]

ENV_VAR = "BELUGA_WORKFLOW_STORE"
DEFAULT_STORE = "inmemory"

StoreSpec = str | os.PathLike[str] | Mapping[str, Any] | None

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


class StoreSelection(BaseModel):
    """A resolved choice of provider and its validated config, before the store is built."""

    provider: str
    config: BaseModel
    source: str

    def __repr__(self) -> str:
        return f"StoreSelection(provider={self.provider!r}, source={self.source!r})"


def open_store(
    spec: StoreSpec = None, /, *, registry: ProviderRegistry | None = None, **options: Any
) -> WorkflowStore:
    """Open the store named by ``spec``; keyword ``options`` go to its config model.

    ``spec`` is a provider name (``"inmemory"``), a URL (``"sqlite:///runs.db"``),
    a mapping (``{"provider": "redis", "url": ...}``), a path to a TOML file, or
    ``None`` for ``BELUGA_WORKFLOW_STORE`` or else the in-memory default.

    Raises ``ProviderNotFoundError`` (listing installed providers and the
    ``pip install`` line), ``ProviderConfigError`` (pydantic's errors, naming
    the provider), ``ProviderLoadError`` (backend library missing) or
    ``InvalidArgumentError``. Secrets in URLs never appear in these messages.
    """
    registry = registry or default_registry()
    selection = resolve_store(spec, registry=registry, **options)
    entry = registry.get(selection.provider)
    factory = entry.provider.load_factory()
    return factory(selection.config)


def resolve_store(
    spec: StoreSpec = None, /, *, registry: ProviderRegistry | None = None, **options: Any
) -> StoreSelection:
    """Work out which provider and config ``spec`` means, without building the store."""
    registry = registry or default_registry()
    source = "argument"
    if spec is None:
        env_value = os.environ.get(ENV_VAR, "").strip()
        spec, source = (env_value, f"${ENV_VAR}") if env_value else (DEFAULT_STORE, "default")
    settings = _settings_from(spec)
    settings.update(options)
    url = settings.get("url")
    name = settings.pop("provider", None)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(f"store provider must be a name (str), got {name!r}")
    if name is None and url is None:
        raise InvalidArgumentError(
            "no store selected: give a provider name, a URL, or a mapping with 'provider' or 'url'"
        )
    if name is not None:
        entry = registry.get(name)
    else:
        if not isinstance(url, str):
            raise InvalidArgumentError(f"store url must be a str, got {type(url).__name__}")
        entry = registry.for_scheme(_scheme_of(url))
    config = _validate_config(entry, settings)
    return StoreSelection(provider=entry.provider.name, config=config, source=source)


def _settings_from(spec: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, os.PathLike):
        return _read_toml(Path(spec))
    if not isinstance(spec, str):
        raise InvalidArgumentError(
            f"a store is selected by name, URL, mapping or TOML path, not {type(spec).__name__}"
        )
    spec = spec.strip()
    if not spec:
        raise InvalidArgumentError("the store name or URL is empty")
    if _SCHEME.match(spec):
        return {"url": spec}
    if spec.endswith(".toml"):
        return _read_toml(Path(spec))
    return {"provider": spec}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgumentError(f"store config file {str(path)!r} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgumentError(f"store config file {str(path)!r} is unreadable: {exc}") from exc
    table = document.get("store")
    if isinstance(table, str):
        return _settings_from(table)
    if not isinstance(table, dict):
        raise InvalidArgumentError(
            f"store config file {str(path)!r} has no [store] table "
            '(expected e.g. [store] provider = "sqlite", url = "sqlite:///runs.db")'
        )
    return dict(table)


def _scheme_of(url: str) -> str:
    match = _SCHEME.match(url)
    if match is None:
        raise InvalidArgumentError(
            f"{redact_url(url)!r} is not a store URL; expected scheme://..., "
            "for example sqlite:///runs.db"
        )
    return match.group(1).lower()


def _validate_config(entry: RegisteredProvider, settings: dict[str, Any]) -> BaseModel:
    model = entry.provider.config_model
    name = entry.provider.name
    try:
        settings = options_from_url(model, settings)
    except ProviderConfigError as exc:
        raise ProviderConfigError(
            f"invalid configuration for store provider {name!r}: {redact_text(str(exc))}"
        ) from None
    if "url" in settings and "url" not in model.model_fields:
        url = settings.pop("url")
        if not isinstance(url, str) or _SCHEME.sub("", url, count=1):
            raise ProviderConfigError(
                f"store provider {name!r} takes no URL options, got {redact_url(str(url))!r}"
            )
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ProviderConfigError(
            f"invalid configuration for store provider {name!r}: {redact_text(problems)}"
        ) from None
