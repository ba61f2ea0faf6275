"""Options written in a store URL's query (``sqlite:///runs.db?synchronous=NORMAL``).

Every ``key=value`` of the query names an option of the provider's config
model and is validated like one given separately, so an unknown key or a value
of the wrong type is an error naming the option, never part of a file name or
a silent no-op. A provider whose client library reads query parameters of its
own (libpq's ``sslmode``, ...) lists them in its config model's
``url_query_passthrough`` class attribute (``"*"``: every key that is not an
option); those stay in the URL for the library, which validates them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from beluga_workflow.errors import ProviderConfigError
from beluga_workflow.store_url import StoreURL

__all__ = ["PASSTHROUGH_ATTRIBUTE", "options_from_url"]

PASSTHROUGH_ATTRIBUTE = "url_query_passthrough"


def options_from_url(model: type[BaseModel], settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the options in ``settings["url"]``'s query moved out of the URL.

    Raises ``ProviderConfigError`` for a key that is not an option of
    ``model`` (nor passed through), for a key given twice, and for an option
    given both in the URL and separately. Changes nothing in ``settings``.
    """
    url = settings.get("url")
    parts = StoreURL.split(url) if isinstance(url, str) else None
    if parts is None or parts.query is None:
        return settings
    names = _option_names(model)
    passthrough: Any = getattr(model, PASSTHROUGH_ATTRIBUTE, frozenset())
    moved: dict[str, Any] = {}
    kept: list[tuple[str, str]] = []
    for key, value in parts.query_items():
        if key in names:
            if key in moved:
                raise ProviderConfigError(f"URL option {key!r} is given twice")
            if names[key] & settings.keys():
                raise ProviderConfigError(
                    f"option {key!r} is given both in the URL and separately; keep one"
                )
            moved[key] = value
        elif passthrough == "*" or key in passthrough:
            kept.append((key, value))
        else:
            known = ", ".join(sorted(n for n in names if n != "url")) or "none"
            raise ProviderConfigError(f"unknown option {key!r} in the URL query (options: {known})")
    if not moved:
        return settings
    return {**settings, **moved, "url": parts.with_query(kept).text()}


def _option_names(model: type[BaseModel]) -> dict[str, set[str]]:
    """Each name an option may be given by (field name or alias) -> all its names."""
    names: dict[str, set[str]] = {}
    for name, field in model.model_fields.items():
        spellings = {name} | ({field.alias} if field.alias else set())
        for spelling in spellings:
            names[spelling] = spellings
    return names
