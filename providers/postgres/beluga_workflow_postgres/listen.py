"""Change notices of the PostgreSQL store: NOTIFY in every write, LISTEN in ``watch()``.

Every write statement calls ``pg_notify(channel, workflow_id)``; PostgreSQL
delivers a notification only when its transaction commits, so a notice is
atomic with the write it reports. The channel is one per schema, named from a
hash of the schema's name, so stores in other schemas of the database are not
woken. A watcher listens on a connection of its own (outside the pool, which
it would otherwise hold for ever); when that connection is lost it connects
again with a bounded backoff, listens again, and says ``None`` (notices may
have been missed while it was away).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import psycopg
from psycopg import sql

from beluga_workflow.redaction import redact_text
from beluga_workflow.watching import Subscription
from beluga_workflow_postgres.config import PostgresConfig

__all__ = ["MAX_PAYLOAD_BYTES", "channel_name", "listen"]

_log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 7999
"""The longest NOTIFY payload PostgreSQL takes; a longer id is sent as '' (re-read)."""

_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 2.0


def channel_name(schema: str) -> str:
    """The notification channel of ``schema``: a short, always valid identifier."""
    return "beluga_" + hashlib.sha256(schema.encode()).hexdigest()[:24]


async def listen(config: PostgresConfig, subscription: Subscription) -> None:
    """Feed ``subscription`` with the ids notified on the schema's channel, until cancelled.

    ``None`` goes first once listening, and again after each reconnection.
    """
    pause = _FIRST_PAUSE
    while True:
        try:
            async with await _connect(config) as conn:
                await conn.execute(
                    sql.SQL("LISTEN {}").format(sql.Identifier(channel_name(config.schema_name)))
                )
                subscription.push(None)
                pause = _FIRST_PAUSE
                async for notice in conn.notifies():
                    subscription.push(notice.payload or None)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            _log.warning(
                "postgres store %s: the watcher lost its connection (%s); reconnecting in %g s",
                config.address,
                redact_text(str(exc).strip() or type(exc).__name__),
                pause,
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


async def _connect(config: PostgresConfig) -> psycopg.AsyncConnection[Any]:
    """A dedicated autocommit connection whose loss is noticed even on a silent network."""
    async with asyncio.timeout(config.connect_timeout):
        return await psycopg.AsyncConnection.connect(
            config.url,
            autocommit=True,
            connect_timeout=max(1, round(config.connect_timeout)),
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
