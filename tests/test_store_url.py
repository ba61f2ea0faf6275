"""Splitting store URLs by the last-@ rule, whatever their passwords hold."""

from __future__ import annotations

import pytest

from beluga_workflow.store_url import StoreURL


@pytest.mark.parametrize("password", ["a/b", "a#b", "a?b", "a@b", "a:b", "a b", "a'\"b", "100%"])
def test_an_unencoded_password_stays_in_the_user_info(password: str) -> None:
    parts = StoreURL.split(f"postgresql://bob:{password}@db:5432/app?sslmode=require")
    assert parts is not None
    assert (parts.username, parts.password) == ("bob", password)
    assert (parts.host, parts.path, parts.query) == ("db:5432", "/app", "sslmode=require")


def test_encoding_the_user_info_keeps_the_rest_verbatim() -> None:
    parts = StoreURL.split("redis://:a/b#c?d@e%zz@cache:6379/0?db=1")
    assert parts is not None
    encoded = parts.encoded()
    assert encoded == "redis://:a%2Fb%23c%3Fd%40e%25zz@cache:6379/0?db=1"
    again = StoreURL.split(encoded)
    assert again is not None
    assert again.password == "a/b#c?d@e%zz"


def test_valid_escapes_are_decoded_once() -> None:
    parts = StoreURL.split("nats://app:p%2Fw%40rd@bus:4222")
    assert parts is not None
    assert parts.password == "p/w@rd"
    assert parts.encoded() == "nats://app:p%2Fw%40rd@bus:4222"


def test_urls_without_user_info_or_query() -> None:
    parts = StoreURL.split("sqlite:///runs.db")
    assert parts == StoreURL("sqlite", None, "/runs.db", None)
    assert parts.text() == "sqlite:///runs.db"
    assert StoreURL.split("host=db password=x") is None
    bare = StoreURL.split("postgresql://")
    assert bare is not None
    assert bare.host == ""


def test_the_query_can_be_replaced() -> None:
    parts = StoreURL.split("postgresql://u:p@db/app?schema=x&sslmode=require")
    assert parts is not None
    assert parts.query_items() == [("schema", "x"), ("sslmode", "require")]
    assert parts.with_query([("sslmode", "require")]).text() == (
        "postgresql://u:p@db/app?sslmode=require"
    )
    assert parts.with_query([]).text() == "postgresql://u:p@db/app"
