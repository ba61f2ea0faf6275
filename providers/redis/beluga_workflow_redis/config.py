"""Options of the Redis store; the URL's password never appears in a repr or an error."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from beluga_workflow.storekit.config import ServerStoreConfig
from beluga_workflow.storekit.schemes import published_schemes

__all__ = ["RedisConfig"]


class RedisConfig(ServerStoreConfig):
    """Where the server is, which key prefix to use and how long to wait.

    ``url``: ``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS
    or ``unix:///path/to/redis.sock``; it must name the server (or the
    socket). A password holding ``/``, ``#``, ``?`` or ``@`` may be written
    as is: the user info runs to the last ``@``. Besides this model's options,
    the query may hold the client's own ``db``, ``protocol``, ``client_name``,
    ``health_check_interval`` and ``ssl_*`` parameters. Every key starts with ``prefix``, so
    several applications can share a database. ``operation_timeout`` bounds
    every store call, reconnecting included; then ``StoreUnavailableError``.
    """

    url_schemes: ClassVar[tuple[str, ...]] = published_schemes("redis")
    shown_fields: ClassVar[dict[str, str]] = {"prefix": "prefix"}
    url_query_passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "db",
            "protocol",
            "client_name",
            "health_check_interval",
            "ssl_cert_reqs",
            "ssl_ca_certs",
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_check_hostname",
        }
    )

    url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)
    prefix: str = Field(default="beluga-workflow", min_length=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=50, ge=1)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = cls.split_url(value)
        scheme = parts.scheme.lower()
        if scheme == "unix" and not parts.path.strip("/"):
            raise ValueError("the URL names no socket; e.g. unix:///run/redis/redis.sock")
        if scheme != "unix" and not parts.host:
            raise ValueError("the URL names no server; e.g. redis://127.0.0.1:6379/0")
        return parts.encoded()
