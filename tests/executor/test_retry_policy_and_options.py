"""RetryPolicy's backoff arithmetic and validation; WorkflowOptions' accepted forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from beluga_workflow.options import WorkflowOptions
from beluga_workflow.retry import NO_RETRY, RetryPolicy


def test_delays_grow_by_the_coefficient_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_interval=1, backoff_coefficient=3, max_interval=20, jitter=0)
    assert [policy.delay_before(attempt) for attempt in range(2, 7)] == [1, 3, 9, 20, 20]


def test_jitter_spreads_delays_within_its_fraction_and_under_the_cap() -> None:
    policy = RetryPolicy(initial_interval=10, jitter=0.2, max_interval=11)
    delays = {policy.delay_before(2) for _ in range(200)}
    assert len(delays) > 1
    assert all(8 <= delay <= 11 for delay in delays)


def test_retries_stop_at_max_attempts_and_on_non_retryable_types() -> None:
    policy = RetryPolicy(max_attempts=3, non_retryable_error_types="PermissionError")
    assert policy.allows_retry(OSError(), 1)
    assert policy.allows_retry(OSError(), 2)
    assert not policy.allows_retry(OSError(), 3)
    assert not policy.allows_retry(PermissionError(), 1)
    assert not NO_RETRY.allows_retry(OSError(), 1)


@pytest.mark.parametrize(
    "fields",
    [{"max_attempts": 0}, {"initial_interval": -1}, {"backoff_coefficient": 0.5}, {"jitter": 2}],
)
def test_nonsensical_policies_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**fields)


def test_workflow_timeout_accepts_seconds_or_a_timedelta_and_must_be_positive() -> None:
    assert WorkflowOptions(timeout=timedelta(minutes=2)).timeout == 120
    assert WorkflowOptions(timeout=1.5).timeout == 1.5
    with pytest.raises(ValidationError):
        WorkflowOptions(timeout=0)
    with pytest.raises(ValidationError):
        WorkflowOptions(id="x", unknown=1)  # type: ignore[call-arg]
