"""How often, and how far apart, a failed activity is tried again.

The executor decides whether to retry when an attempt fails and records the
decision in history (the failed event's ``fire_at`` is when the next attempt is
due), so replay never has to re-decide it and a restart waits only the time
that was left.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["NO_RETRY", "RetryPolicy"]


class RetryPolicy(BaseModel):
    """Retry an activity up to ``max_attempts`` times with exponential backoff.

    The delay before attempt ``n + 1`` is ``initial_interval *
    backoff_coefficient ** (n - 1)`` seconds, capped at ``max_interval`` and
    spread by ``jitter`` (0.1 means up to 10% either way) so that many
    workflows failing together do not retry in lockstep. An error whose type,
    or one of its base classes, is listed in ``non_retryable_error_types``
    (given as a class or as its name, e.g. ``"ValueError"``) fails at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=3, ge=1)
    initial_interval: float = Field(default=1.0, ge=0)
    backoff_coefficient: float = Field(default=2.0, ge=1)
    max_interval: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.1, ge=0, le=1)
    non_retryable_error_types: tuple[str | type[BaseException], ...] = ()

    @field_validator("non_retryable_error_types", mode="before")
    @classmethod
    def _accept_one_or_many(cls, value: Any) -> Any:
        if isinstance(value, (str, type)):
            return (value,)
        return value

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before starting ``attempt`` (2 or more)."""
        base = self.initial_interval * self.backoff_coefficient ** max(attempt - 2, 0)
        base = min(base, self.max_interval)
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(base, self.max_interval)

    def allows_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether a failure of ``attempt`` with ``error`` is followed by another attempt."""
        return attempt < self.max_attempts and not self.is_non_retryable(error)

    def is_non_retryable(self, error: BaseException) -> bool:
        """Whether ``error`` is of a type this policy never retries."""
        if not self.non_retryable_error_types:
            return False
        names = set()
        for cls in type(error).__mro__:
            names.add(cls.__name__)
            names.add(f"{cls.__module__}.{cls.__qualname__}")
        for kind in self.non_retryable_error_types:
            if isinstance(kind, str):
                if kind in names:
                    return True
            elif isinstance(error, kind):
                return True
        return False


NO_RETRY = RetryPolicy(max_attempts=1)
"""The policy of an activity started without one: a single attempt."""
