"""The URL schemes of the stores this project publishes, declared once.

The core must know them without importing a provider (it names the extra to
install when a URL's store is missing), and each provider's config, plugin
record and URL validator read them from here, so the three cannot drift.
"""

from __future__ import annotations

__all__ = ["PUBLISHED_SCHEMES", "published_schemes"]

PUBLISHED_SCHEMES: dict[str, tuple[str, ...]] = {
    "sqlite": ("sqlite",),
    "postgres": ("postgresql", "postgres"),
    "redis": ("redis", "rediss", "unix"),
    "nats": ("nats", "tls"),
    "kafka": ("kafka",),
}
"""Published provider name (and extra) -> the URL schemes its store accepts."""


def published_schemes(provider: str) -> tuple[str, ...]:
    """The schemes of the published provider ``provider``; ``KeyError`` for any other."""
    return PUBLISHED_SCHEMES[provider]
