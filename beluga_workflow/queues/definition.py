"""What a queue allows: how many of its runs at once, per worker and per key, and how fast."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from beluga_workflow.errors import InvalidArgumentError
from beluga_workflow.validation import require_name

__all__ = ["Queue", "RateLimit", "require_queue_text"]


def require_queue_text(value: Any, what: str) -> str:
    """Return ``value`` if every store can keep it in a queue entry: a name without NUL.

    NUL is refused as in workflow ids (PostgreSQL text cannot hold it), so a
    queue, key or dedup key valid on one store is valid on all.
    """
    text = require_name(value, what)
    if "\x00" in text:
        raise InvalidArgumentError(f"{what} must not contain NUL ('\\x00'), got {text!r}")
    return text


class RateLimit(BaseModel):
    """At most ``limit`` runs start in any ``period`` seconds (a sliding window)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(ge=1, le=100_000)
    period: float = Field(gt=0, le=86_400)


class Queue(BaseModel):
    """A named queue and its limits; every worker serving it must be given the same limits.

    ``concurrency`` bounds the queue's runs in progress across all workers,
    ``worker_concurrency`` those one worker holds, ``key_concurrency`` those
    that share a key (a customer id, say; runs started without a key are not
    bounded by it), and ``rate`` how many start per period. ``None`` means no
    bound. Limits are kept in a record of the shared store that workers change
    with compare-and-set, so they hold however many workers serve the queue.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    concurrency: int | None = Field(default=None, ge=1)
    worker_concurrency: int | None = Field(default=None, ge=1)
    key_concurrency: int | None = Field(default=None, ge=1)
    rate: RateLimit | None = None

    @field_validator("name")
    @classmethod
    def _storable(cls, value: str) -> str:
        return require_queue_text(value, "queue name")
