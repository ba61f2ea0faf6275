"""Options in a store URL's query are options of the provider's config model, or an error."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from beluga_workflow import ProviderConfigError
from beluga_workflow.url_options import options_from_url


class Plain(BaseModel):
    url: str
    timeout: float = 1.0
    schema_name: str = Field(default="s", alias="schema")


class LibraryParams(Plain):
    url_query_passthrough: ClassVar[frozenset[str]] = frozenset({"sslmode"})


class AnyParams(Plain):
    url_query_passthrough: ClassVar[str] = "*"


def test_query_options_become_options_and_leave_the_url() -> None:
    settings = options_from_url(Plain, {"url": "x://h/db?timeout=2.5&schema=app"})
    assert settings == {"url": "x://h/db", "timeout": "2.5", "schema": "app"}
    config = Plain.model_validate(settings)
    assert (config.timeout, config.schema_name) == (2.5, "app")


def test_a_url_without_query_is_left_alone() -> None:
    settings = {"url": "x://u:p/w@h/db", "timeout": 3}
    assert options_from_url(Plain, settings) is settings


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("x://h/db?nosuch=1", r"unknown option 'nosuch' in the URL query \(options: schema, "),
        ("x://h/db?timeout=1&timeout=2", "'timeout' is given twice"),
        ("x://h/db?sslmode=require", "unknown option 'sslmode'"),
    ],
)
def test_unknown_or_repeated_keys_are_errors(url: str, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        options_from_url(Plain, {"url": url})


def test_an_option_given_twice_is_an_error() -> None:
    with pytest.raises(ProviderConfigError, match="both in the URL and separately"):
        options_from_url(Plain, {"url": "x://h/db?schema=a", "schema_name": "b"})


def test_library_parameters_stay_in_the_url() -> None:
    settings = options_from_url(LibraryParams, {"url": "x://h/db?sslmode=require&timeout=2"})
    assert settings == {"url": "x://h/db?sslmode=require", "timeout": "2"}
    settings = options_from_url(AnyParams, {"url": "x://h/db?whatever=1&timeout=2"})
    assert settings == {"url": "x://h/db?whatever=1", "timeout": "2"}


def test_the_query_follows_the_last_at() -> None:
    settings = options_from_url(Plain, {"url": "x://u:p?w@h/db?timeout=2"})
    assert settings == {"url": "x://u:p?w@h/db", "timeout": "2"}
