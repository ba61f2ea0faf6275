"""Options of the PostgreSQL store; the URL's password never appears in a repr or an error."""

from __future__ import annotations

import re
from typing import ClassVar, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from beluga_workflow.store_url import StoreURL
from beluga_workflow.storekit.config import ServerStoreConfig
from beluga_workflow.storekit.schemes import published_schemes

__all__ = ["PostgresConfig"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DSN_PAIR = re.compile(r"\s*([^=\s]+)\s*=\s*('(?:\\.|[^'\\])*'|(?!')(?:\\.|[^\s\\])*)")
"""One ``keyword = value`` of a libpq connection string (quoted or bare value)."""
_SERVER_KEYS = ("host", "hostaddr")


class PostgresConfig(ServerStoreConfig):
    """Where the server is and how long to wait for it.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/db``) or
    connection string (``host=db user=app password='...' dbname=app``); it
    must name the server (a host, or a Unix socket directory as
    ``postgresql://user@%2Frun%2Fpostgresql/db`` or ``?host=/run/postgresql``):
    libpq's defaults (a local socket, the login user) are never used
    silently. Query parameters that are not options of this model are
    libpq's own (``sslmode``, ``application_name``, ...) and go to libpq,
    which validates them. Tables live in ``schema`` (created if missing), so several applications or
    test runs can share one database. ``connect_timeout`` bounds opening the
    pool; ``operation_timeout`` bounds every store call, waiting for a pooled
    connection included, after which ``StoreUnavailableError`` is raised.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)
    url_schemes: ClassVar[tuple[str, ...]] = published_schemes("postgres")
    url_example: ClassVar[str] = "postgresql://user@host:5432/db"
    shown_fields: ClassVar[dict[str, str]] = {"schema": "schema_name"}
    url_query_passthrough: ClassVar[str] = "*"

    url: str = Field(repr=False)
    schema_name: str = Field(default="beluga_workflow", alias="schema")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        parts = StoreURL.split(value)
        if parts is None:
            if not _names_server(_dsn_pairs(value)):
                raise ValueError("the connection string names no server; add host=...")
            return value
        parts = cls.split_url(value)
        if not parts.host and not _names_server(parts.query_items()):
            raise ValueError(
                "the URL names no server; e.g. postgresql://db.example:5432/app "
                "(a Unix socket: postgresql://%2Frun%2Fpostgresql/app)"
            )
        return parts.encoded()

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


def _dsn_pairs(dsn: str) -> list[tuple[str, str]]:
    """The pairs of a ``key=value`` connection string; the error never quotes it."""
    pairs: list[tuple[str, str]] = []
    position = 0
    text = dsn.rstrip()
    while position < len(text):
        match = _DSN_PAIR.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(
                "expected a postgresql:// URL or a key=value connection string "
                "(quote values holding spaces or quotes: password='...', \\' for a quote)"
            )
        pairs.append((match.group(1), match.group(2)))
        position = match.end()
    if not pairs:
        raise ValueError("the connection string is empty")
    return pairs


def _names_server(pairs: list[tuple[str, str]]) -> bool:
    return any(key in _SERVER_KEYS and value.strip("'") for key, value in pairs)
