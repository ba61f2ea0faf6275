"""Options of the Redis store; the URL's password never appears in a repr."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beluga_workflow.redaction import redact_url

__all__ = ["RedisConfig"]


class RedisConfig(BaseModel):
    """Where the server is, which key prefix to use and how long to wait.

    ``url``: ``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS
    or ``unix:///path/to/redis.sock``. Every key starts with ``prefix``, so
    several applications can share a database. ``operation_timeout`` bounds
    every store call, reconnecting included; then ``StoreUnavailableError``.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)
    prefix: str = Field(default="beluga-workflow", min_length=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=50, ge=1)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value.partition("://")[0].lower() not in {"redis", "rediss", "unix"}:
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @property
    def address(self) -> str:
        """The URL with its password masked, for messages."""
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"RedisConfig(url={self.address!r}, prefix={self.prefix!r})"
