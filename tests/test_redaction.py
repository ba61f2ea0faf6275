from __future__ import annotations

import pytest

from beluga_workflow.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bob:s3cret@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://s3cret@cache/0", "redis://***@cache/0"),
        ("nats://s3cret@bus:4222", "nats://***@bus:4222"),
        ("host=db user=bob password=s3cret", "host=db user=bob password=***"),
        (
            "kafka://k:9092/t?sasl_plain_password=s3cret&acks=all",
            "kafka://k:9092/t?sasl_plain_password=***&acks=all",
        ),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
        ("sqlite:///runs.db", "sqlite:///runs.db"),
    ],
)
def test_passwords_are_masked_and_the_rest_is_kept(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_urls_inside_messages_are_masked() -> None:
    text = redact_text("cannot reach 'postgresql://bob:s3cret@db/app' (password=s3cret)")
    assert "s3cret" not in text
    assert "postgresql://bob:***@db/app" in text
