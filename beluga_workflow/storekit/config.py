"""Base configs: a store's URL schemes declared once, and a repr that never shows a secret.

The plugin record (``url_schemes=MyConfig.url_schemes``), the URL validator
(:meth:`ServerStoreConfig.split_url`) and, for the stores this project
publishes, the install hints (:mod:`beluga_workflow.storekit.schemes`) all
read the one tuple, so a scheme one of them accepts is accepted by all.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from beluga_workflow.redaction import redact_url
from beluga_workflow.store_url import StoreURL

__all__ = ["ServerStoreConfig", "StoreConfig"]


class StoreConfig(BaseModel):
    """Base of a store's options: the URL schemes it is opened by, and how it is shown.

    ``url_schemes`` lists the schemes (without ``://``) that select the
    store; ``shown_fields`` maps each name shown in the repr, after the URL,
    to the attribute holding it.
    """

    model_config = ConfigDict(extra="forbid")

    url_schemes: ClassVar[tuple[str, ...]] = ()
    shown_fields: ClassVar[dict[str, str]] = {}

    def shown(self) -> list[tuple[str, Any]]:
        """What a repr of this config's store shows, in order."""
        return [(name, getattr(self, attribute)) for name, attribute in self.shown_fields.items()]


class ServerStoreConfig(StoreConfig):
    """Base of the options of a store on a server reached by URL; its repr shows no secret.

    A subclass declares a ``url`` field (with its default, if any), its
    ``url_schemes`` and an example URL for messages, and validates the URL
    with :meth:`split_url`. ``address`` is the URL with every password or
    token masked, for messages and reprs; the URL itself is never shown.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url_example: ClassVar[str] = ""

    @classmethod
    def split_url(cls, value: str) -> StoreURL:
        """``value`` split into parts if it has one of ``url_schemes``; else ``ValueError``."""
        parts = StoreURL.split(value)
        if parts is None or parts.scheme.lower() not in cls.url_schemes:
            raise ValueError(cls.scheme_message())
        return parts

    @classmethod
    def scheme_message(cls) -> str:
        """What a URL of another scheme is told: the accepted schemes, and an example."""
        names = [f"{scheme}://" for scheme in cls.url_schemes] or ["store"]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        example = f", e.g. {cls.url_example}" if cls.url_example else ""
        return f"expected a {listed} URL{example}"

    @property
    def address(self) -> str:
        """The URL with its password or token masked, for messages."""
        return redact_url(str(getattr(self, "url", "")))

    def shown(self) -> list[tuple[str, Any]]:
        return [("url", self.address), *super().shown()]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.shown())
        return f"{type(self).__name__}({fields})"

    def __str__(self) -> str:
        return self.__repr__()
