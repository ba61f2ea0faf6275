from __future__ import annotations

import logging

import pytest

from beluga_workflow.redaction import mask_library_logs, redact_text, redact_url


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


AWKWARD = ["/", "#", "?", "@", "%", ":", "'", '"', " ", "%zz", "%2F"]


@pytest.mark.parametrize("char", AWKWARD)
def test_a_password_holding_any_character_is_masked_whole(char: str) -> None:
    for scheme in ("postgresql", "redis", "rediss"):
        url = f"{scheme}://bob:ab{char}cd@db:5432/app?sslmode=require"
        assert redact_url(url) == f"{scheme}://bob:***@db:5432/app?sslmode=require"
    assert redact_url(f"nats://bob:ab{char}cd@bus:4222") == "nats://***@bus:4222"
    if char != ":":  # with a colon, it is user 'ab' and a password
        assert redact_url(f"redis://ab{char}cd@cache/0") == "redis://***@cache/0"


@pytest.mark.parametrize(
    "text",
    [
        """cannot reach "postgresql://bob:ab"cd@db/app": refused""",
        "cannot reach 'postgresql://bob:ab'cd@db/app': refused",
        "cannot reach postgresql://bob:ab cd@db/app, refused",
        "cannot reach <redis://:ab>cd@cache/0>",
        "url=redis://:ab?cd@cache/0#x",
    ],
)
def test_urls_next_to_quotes_and_spaces_are_masked(text: str) -> None:
    masked = redact_text(text)
    assert "ab" not in masked.replace("able", "")
    assert "cd" not in masked
    assert "@" in masked  # the host is still named


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db password='ab cd' user=bob",
        "host=db password='ab\\'cd' user=bob",
        'host=db password="ab cd" user=bob',
        "host=db password=ab#cd user=bob",
        "host=db password = 'ab cd",
        "kafka://k:9092/t?sasl_plain_password=ab cd&acks=all",
    ],
)
def test_dsn_and_query_passwords_are_masked_quoted_or_not(dsn: str) -> None:
    masked = redact_text(dsn)
    assert "ab" not in masked
    assert "cd" not in masked
    assert "***" in masked


def test_masking_twice_changes_nothing_more() -> None:
    text = "redis store at redis://:***@cache:6379/0 is unavailable; password=***"
    assert redact_text(text) == text
    assert redact_text(redact_text("postgresql://u:a/b@h/db")) == "postgresql://u:***@h/db"


def test_library_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    parent = logging.getLogger("beluga_test_library")
    child = logging.getLogger("beluga_test_library.pool")
    mask_library_logs(["beluga_test_library"])
    caplog.set_level(logging.DEBUG)
    parent.debug("connecting to %s", "postgresql://bob:ab/cd@db/app")
    child.warning("error connecting with 'host=db password=ab#cd'")
    try:
        raise ValueError("bad url redis://:ab?cd@cache/0")
    except ValueError:
        child.exception("failed")
    text = "\n".join(caplog.text.splitlines())
    assert len(caplog.records) == 3
    assert "ab" not in text.replace("able", "")
    assert "cd" not in text
