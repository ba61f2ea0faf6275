"""Options of the PostgreSQL store; the URL's password never appears in a repr."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from beluga_workflow.redaction import redact_url

__all__ = ["PostgresConfig"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresConfig(BaseModel):
    """Where the server is and how long to wait for it.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/db``).
    Tables live in ``schema`` (created if missing), so several applications or
    test runs can share one database. ``connect_timeout`` bounds opening the
    pool; ``operation_timeout`` bounds every store call, waiting for a pooled
    connection included, after which ``StoreUnavailableError`` is raised.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str = Field(repr=False)
    schema_name: str = Field(default="beluga_workflow", alias="schema")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower()
        if scheme not in {"postgresql", "postgres"}:
            raise ValueError("expected a postgresql:// URL, e.g. postgresql://user@host:5432/db")
        return value

    @field_validator("schema_name")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        if not _SCHEMA_NAME.match(value):
            raise ValueError(
                "schema must be a lower-case identifier (letters, digits, _; at most 63)"
            )
        return value

    @model_validator(mode="after")
    def _pool_sizes(self) -> Self:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    @property
    def address(self) -> str:
        """The URL with its password masked, for messages."""
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"PostgresConfig(url={self.address!r}, schema={self.schema_name!r})"
