"""Options of the NATS JetStream KV store; tokens and passwords never appear in a repr."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beluga_workflow.redaction import redact_url

__all__ = ["NatsConfig"]

_BUCKET = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class NatsConfig(BaseModel):
    """Which server and buckets to use and how long to wait.

    The store keeps two JetStream key-value buckets, ``<bucket>-meta`` (one
    small record per workflow) and ``<bucket>-data`` (the state in chunks),
    created on first use with ``storage`` and ``replicas``.
    ``operation_timeout`` bounds every store call; then ``StoreUnavailableError``.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="nats://127.0.0.1:4222", repr=False)
    bucket: str = "beluga_workflow"
    storage: Literal["file", "memory"] = "file"
    replicas: int = Field(default=1, ge=1, le=5)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _nats_url(cls, value: str) -> str:
        if value.partition("://")[0].lower() not in {"nats", "tls"}:
            raise ValueError("expected a nats:// (or tls://) URL, e.g. nats://127.0.0.1:4222")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET.match(value):
            raise ValueError("bucket may hold only letters, digits, '_' and '-'")
        return value

    @property
    def address(self) -> str:
        """The URL with any token or password masked, for messages."""
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"NatsConfig(url={self.address!r}, bucket={self.bucket!r})"
