"""Options of the NATS JetStream KV store; tokens and passwords never appear in a repr."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from beluga_workflow.store_url import StoreURL
from beluga_workflow.storekit.config import ServerStoreConfig
from beluga_workflow.storekit.schemes import published_schemes

__all__ = ["NatsConfig"]

_BUCKET = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class NatsConfig(ServerStoreConfig):
    """Which server and buckets to use and how long to wait.

    The store keeps two JetStream key-value buckets, ``<bucket>-meta`` (one
    small record per workflow) and ``<bucket>-data`` (the state in chunks),
    created on first use with ``storage`` and ``replicas``.
    ``operation_timeout`` bounds every store call; then ``StoreUnavailableError``.

    ``url`` is ``nats://[user:password@|token@]host:port`` (or ``tls://``); it
    must name the server. The credentials are handed to the client apart from
    the address (it would not decode percent escapes), so a password holding
    ``/``, ``#``, ``?`` or ``@`` works written as is or percent-encoded.
    """

    url_schemes: ClassVar[tuple[str, ...]] = published_schemes("nats")
    url_example: ClassVar[str] = "nats://127.0.0.1:4222"
    shown_fields: ClassVar[dict[str, str]] = {"bucket": "bucket"}

    url: str = Field(default="nats://127.0.0.1:4222", repr=False)
    bucket: str = "beluga_workflow"
    storage: Literal["file", "memory"] = "file"
    replicas: int = Field(default=1, ge=1, le=5)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _nats_url(cls, value: str) -> str:
        parts = cls.split_url(value)
        if not parts.host:
            raise ValueError("the URL names no server; e.g. nats://127.0.0.1:4222")
        return parts.encoded()

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET.match(value):
            raise ValueError("bucket may hold only letters, digits, '_' and '-'")
        return value

    @property
    def server_url(self) -> str:
        """The URL without its credentials: what the client connects to."""
        parts = StoreURL.split(self.url)
        assert parts is not None  # checked by the validator
        return parts.without_userinfo().text()

    def credentials(self) -> dict[str, str]:
        """``user`` and ``password``, or ``token``, as the client's keyword arguments."""
        parts = StoreURL.split(self.url)
        if parts is None or parts.userinfo is None:
            return {}
        if parts.password is None:
            return {"token": parts.username or ""}
        return {"user": parts.username or "", "password": parts.password}
